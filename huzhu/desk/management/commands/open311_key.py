"""``huzhu open311-key create|list|revoke``: application keys for Open311 clients.

    huzhu open311-key create --org ORG_ID --name NAME   prints the key once
    huzhu open311-key list [--org ORG_ID]
    huzhu open311-key revoke KEY_ID

``create`` writes only the key to standard output (so ``KEY=$(huzhu open311-key create …)``
works) and the reminder to standard error. The operator at the command line acts with full
rights (like ``huzhu token``); every issue and revocation is audited.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404
from django.utils import timezone

from huzhu.desk.key_services import appkey_issue, appkey_list, appkey_revoke, key_label
from huzhu.orgs.models import Org
from huzhu.orgs.scope import Scope

CLI_ACTOR = "命令行"
SYSTEM = Scope(user_id=0, is_superuser=True)


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "；".join(m for messages in exc.message_dict.values() for m in messages)
    return "；".join(exc.messages)


def _when(value: Any) -> str:
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else "-"


class Command(BaseCommand):
    help = "管理 Open311 应用密钥：create 签发（只显示一次）、list 列出、revoke 吊销"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = sub.add_parser("create", help="签发应用密钥，密钥只显示这一次")
        create.add_argument("--org", type=int, required=True, help="适用范围的组织编号")
        create.add_argument("--name", required=True, help="应用名称，例如“街道微信小程序”")
        listing = sub.add_parser("list", help="列出应用密钥（只显示前缀）")
        listing.add_argument("--org", type=int, default=None, help="只列出该组织及下级的密钥")
        revoke = sub.add_parser("revoke", help="按编号吊销应用密钥")
        revoke.add_argument("key_id", type=int, help="密钥编号（list 的第一列）")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "create":
                self._create(options)
            elif action == "list":
                self._list(options)
            else:
                self._revoke(options)
        except ValidationError as exc:
            raise CommandError(_messages(exc)) from exc
        except Http404 as exc:
            raise CommandError(f"应用密钥 {options.get('key_id')} 不存在") from exc

    def _org(self, org_id: int) -> Org:
        org = Org.objects.filter(pk=org_id).first()
        if org is None:
            raise CommandError(f"组织 {org_id} 不存在")
        return org

    def _create(self, options: dict[str, Any]) -> None:
        org = self._org(options["org"])
        key, raw = appkey_issue(actor=CLI_ACTOR, scope=SYSTEM, org=org, name=options["name"])
        self.stdout.write(raw)
        self.stderr.write(
            f"已为“{key.name}”签发应用密钥 {key_label(key)}"
            f"（编号 {key.pk}，适用范围：{org.name}）。"
            "密钥只显示这一次，请立即妥善保存；使用方式：Open311 提交时附带 api_key=<密钥>"
        )

    def _list(self, options: dict[str, Any]) -> None:
        keys = appkey_list(scope=SYSTEM)
        if options["org"] is not None:
            keys = keys.filter(org__path__startswith=self._org(options["org"]).path)
        rows = list(keys)
        if not rows:
            self.stdout.write("没有应用密钥")
            return
        self.stdout.write("编号\t密钥\t状态\t应用名称\t适用范围\t签发时间\t最近使用")
        for key in rows:
            status = "已吊销" if key.revoked_at else "有效"
            self.stdout.write(
                "\t".join(
                    [
                        str(key.pk),
                        key_label(key),
                        status,
                        key.name,
                        key.org.name,
                        _when(key.created_at),
                        _when(key.last_used_at),
                    ]
                )
            )

    def _revoke(self, options: dict[str, Any]) -> None:
        key = appkey_revoke(actor=CLI_ACTOR, scope=SYSTEM, key_id=options["key_id"])
        self.stdout.write(f"已吊销应用密钥 {key_label(key)}（{key.name}，{_when(key.revoked_at)}）")
