"""``huzhu runperiodic [--only NAME] [--date YYYY-MM-DD]``: run every periodic job once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from huzhu.common.periodic import discover


class Command(BaseCommand):
    help = "运行所有定时任务（到期提醒、星级公示等），可由 cron 每小时调用；重复运行不会重复处理"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--only", action="append", default=[], help="只运行指定任务")
        parser.add_argument("--date", help="按指定日期运行（YYYY-MM-DD，用于补跑）")
        parser.add_argument("--list", action="store_true", help="列出所有任务")

    def handle(self, *args: Any, **options: Any) -> None:
        jobs = discover()
        if options["list"]:
            for name in sorted(jobs):
                self.stdout.write(name)
            return
        unknown = set(options["only"]) - set(jobs)
        if unknown:
            raise CommandError(f"未知的任务：{'、'.join(sorted(unknown))}")
        try:
            today = dt.date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError("日期格式应为 YYYY-MM-DD") from exc
        today = today or timezone.localdate()
        for name in sorted(jobs):
            if options["only"] and name not in options["only"]:
                continue
            summary = jobs[name](today)
            self.stdout.write(f"{name}: {summary}")
