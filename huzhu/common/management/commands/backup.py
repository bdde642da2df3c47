"""``huzhu backup [--output FILE]``: a consistent copy of the database.

SQLite: the online backup API (safe while the server runs). PostgreSQL: ``pg_dump`` in custom
format (restore with ``pg_restore``). Encrypted columns stay encrypted; keep the Fernet and
hash keys in a separate place from the backups (docs/operations.md).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection


class Command(BaseCommand):
    help = "备份数据库（SQLite 在线备份；PostgreSQL 使用 pg_dump）"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="备份文件路径（默认 var/backups/ 下按时间命名）")

    def handle(self, *args: Any, **options: Any) -> None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        vendor = connection.vendor
        suffix = "sqlite3" if vendor == "sqlite" else "dump"
        default = Path(settings.VAR_DIR) / "backups" / f"huzhu-{stamp}.{suffix}"
        output = Path(options["output"] or default)
        output.parent.mkdir(parents=True, exist_ok=True)
        if vendor == "sqlite":
            self._backup_sqlite(output)
        elif vendor == "postgresql":
            self._backup_postgres(output)
        else:
            raise CommandError(f"不支持的数据库类型：{vendor}")
        size = output.stat().st_size
        self.stdout.write(self.style.SUCCESS(f"已备份到 {output}（{size:,} 字节）"))

    def _backup_sqlite(self, output: Path) -> None:
        connection.ensure_connection()
        target = sqlite3.connect(output)
        try:
            connection.connection.backup(target)
        finally:
            target.close()

    def _backup_postgres(self, output: Path) -> None:
        if shutil.which("pg_dump") is None:
            raise CommandError("找不到 pg_dump：请安装 PostgreSQL 客户端工具")
        db = settings.DATABASES["default"]
        command = [
            "pg_dump",
            "--format=custom",
            "--no-owner",
            f"--file={output}",
            f"--dbname={db['NAME']}",
        ]
        if db.get("HOST"):
            command.append(f"--host={db['HOST']}")
        if db.get("PORT"):
            command.append(f"--port={db['PORT']}")
        if db.get("USER"):
            command.append(f"--username={db['USER']}")
        env = {**os.environ, "PGPASSWORD": str(db.get("PASSWORD") or "")}
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CommandError(f"pg_dump 失败：{result.stderr.strip()}")
