"""``huzhu export-volunteers --org ORG --out F.xlsx [--user USERNAME] [--status S]``

Writes the volunteers registered under ORG (the org's id, its 12- or 6-digit division code or
its exact name) to an Excel file. ID and phone numbers are masked unless ``--user`` names a
user who may see them in full over ORG. Every export is audited with that user (or 系统).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.volunteers.exports import resolve_org, volunteer_export
from huzhu.volunteers.models import VolunteerStatus
from huzhu.volunteers.selectors import VolunteerFilters


def parse_status(text: str) -> str:
    """A status by its code (registered) or its Chinese name (已注册)."""
    value = (text or "").strip()
    for code, label in VolunteerStatus.choices:
        if value in (code, str(label)):
            return code
    known = "、".join(f"{code}（{label}）" for code, label in VolunteerStatus.choices)
    raise CommandError(f"未知的状态：{value}；可用的状态：{known}")


class Command(BaseCommand):
    help = "导出志愿者名册（Excel）。证件号码默认脱敏；导出记入操作记录。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--org", required=True, help="组织：组织编号、区划代码（12位或6位）或完整名称"
        )
        parser.add_argument("--out", required=True, help="输出文件，例如 志愿者.xlsx")
        parser.add_argument(
            "--user", default="", help="以该用户身份导出（有权查看完整号码时不脱敏）"
        )
        parser.add_argument("--status", default="", help="只导出该状态，例如 registered 或 已注册")

    def handle(self, *args: Any, **options: Any) -> None:
        org = resolve_org(options["org"])
        status = parse_status(options["status"]) if options["status"] else ""
        out = Path(options["out"])
        if out.suffix.lower() != ".xlsx":
            raise CommandError(f"输出文件须以 .xlsx 结尾：{out}")
        if not out.parent.exists():
            raise CommandError(f"输出目录不存在：{out.parent}")
        actor, scope, allow_reveal = self._actor(options["user"], org)
        filters = VolunteerFilters(org=org, status=status)
        description = f"组织：{org.name}（{org.pk}）"
        if status:
            description += f"；状态：{VolunteerStatus(status).label}"
        # Write beside the target and rename, so a failed export leaves no half-written file.
        handle, tmp_name = tempfile.mkstemp(suffix=".xlsx", dir=out.parent)
        try:
            with os.fdopen(handle, "wb") as stream:
                result = volunteer_export(
                    actor=actor,
                    scope=scope,
                    filters=filters,
                    description=f"{description}（命令行导出）",
                    stream=stream,
                    target=org,
                    allow_reveal=allow_reveal,
                )
            os.replace(tmp_name, out)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        masked = "证件号码已脱敏" if result.masked else "含完整证件号码，请妥善保管"
        self.stdout.write(f"已导出 {result.rows} 名志愿者到 {out}（{masked}）")

    def _actor(self, username: str, org: Any) -> tuple[Any, Scope, bool]:
        if not username:
            return None, Scope(user_id=0, is_superuser=True), False
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户 {username} 不存在")
        scope = Scope.for_user(user)
        if not scope.can(Perm.VOLUNTEER_VIEW, org):
            raise CommandError(f"用户 {username} 没有查看“{org.name}”志愿者的权限")
        return user, scope, scope.can(Perm.PERSON_REVEAL, org)
