"""``huzhu import-volunteers FILE.xlsx --org ORG [--dry-run] [--strict] [--report ERRORS.xlsx]
[--user USERNAME]``

Imports a paper volunteer register (Excel) into ORG (the org's id, its 12- or 6-digit division
code or its exact name). Every bad row is printed with its row number, column and a Chinese
reason; ID numbers never appear in the output. The last line is always
``imported N, updated U, rejected R``. See docs/import.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.common.logging import scrub
from huzhu.orgs.scope import Scope
from huzhu.volunteers.exports import resolve_org
from huzhu.volunteers.importer import (
    ImportFileError,
    ImportResult,
    volunteer_import,
    write_error_report,
)


class Command(BaseCommand):
    help = (
        "导入志愿者名册（Excel .xlsx）。默认导入全部有效行并列出每个错误行；"
        "--strict 有任何错误时不导入；--dry-run 只检查不写入。"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="名册文件（.xlsx）")
        parser.add_argument(
            "--org", required=True, help="导入到的组织：组织编号、区划代码（12位或6位）或完整名称"
        )
        parser.add_argument("--dry-run", action="store_true", help="只检查并统计，不写入数据库")
        parser.add_argument(
            "--strict", action="store_true", help="严格模式：有任何错误行时不导入任何数据"
        )
        parser.add_argument(
            "--report", default="", help="把错误行（原始内容加“错误原因”列）写到该 .xlsx 文件"
        )
        parser.add_argument(
            "--user", default="", help="以该用户身份导入（记为审核人；须有管理该组织志愿者的权限）"
        )
        parser.add_argument("--batch-size", type=int, default=1000, help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        report = Path(options["report"]) if options["report"] else None
        if report is not None:
            if report.suffix.lower() != ".xlsx":
                raise CommandError(f"错误报告文件须以 .xlsx 结尾：{report}")
            if not report.parent.exists():
                raise CommandError(f"错误报告的目录不存在：{report.parent}")
            if report.resolve() == path.resolve():
                raise CommandError("错误报告不能覆盖要导入的文件")
        if options["batch_size"] < 1:
            raise CommandError("--batch-size 至少为 1")
        org = resolve_org(options["org"])
        actor, scope = self._actor(options["user"])
        progress = _Progress(enabled=options.get("verbosity", 1) >= 1)
        try:
            result = volunteer_import(
                actor=actor,
                scope=scope,
                org=org,
                source=path,
                file_name=path.name,
                strict=options["strict"],
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                progress=progress.update,
            )
        except ImportFileError as exc:
            raise CommandError(f"{path.name}：{exc.message}") from exc
        except (PermissionDenied, ValidationError) as exc:
            message = "；".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            raise CommandError(message) from exc
        finally:
            progress.close()
        self._print(result, org.name)
        if report is not None:
            if result.errors:
                watermark = (
                    f"导入错误报告：{path.name} → {org.name}；"
                    f"导出人：{actor.get_username() if actor else '系统'}"
                )
                written = write_error_report(
                    source=path, result=result, out=report, watermark=watermark
                )
                self.stdout.write(f"错误报告：{report}（{written} 行，改正后可直接重新导入该文件）")
            else:
                self.stdout.write("没有错误行，未生成错误报告")
        self.stdout.write(result.summary_line())
        if result.strict and result.rejected:
            # stdout still ends with the summary; the exit status says nothing was imported.
            raise CommandError(f"严格模式：有 {result.rejected} 行错误，未导入任何数据")

    def _actor(self, username: str) -> tuple[Any, Scope]:
        if not username:
            return None, Scope(user_id=0, is_superuser=True)
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户 {username} 不存在")
        return user, Scope.for_user(user)

    def _print(self, result: ImportResult, org_name: str) -> None:
        out = self.stdout
        out.write(
            f"{result.file_name}：工作表“{result.sheet}”，表头在第{result.header_row}行，"
            f"共 {result.rows} 行数据"
        )
        for error in result.errors:
            out.write(scrub(str(error)))
        if result.dry_run:
            out.write(
                f"试运行（未写入）：可新增 {result.imported} 人，更新 {result.updated} 人，"
                f"无变化 {result.unchanged} 人，错误 {result.rejected} 行"
            )
        elif result.strict and result.rejected:
            out.write(
                f"严格模式：发现 {result.rejected} 行错误，未导入任何数据（请改正后重新导入）"
            )
        else:
            out.write(
                f"已导入到“{org_name}”：新增 {result.imported} 人，更新 {result.updated} 人，"
                f"无变化 {result.unchanged} 人，错误 {result.rejected} 行"
            )


class _Progress:
    """A tqdm bar on stderr when it is a terminal (rows processed, rate)."""

    def __init__(self, *, enabled: bool) -> None:
        self._bar = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(unit="行", desc="导入", file=sys.stderr, leave=False)

    def update(self, rows: int) -> None:
        if self._bar is not None:
            self._bar.update(rows)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
