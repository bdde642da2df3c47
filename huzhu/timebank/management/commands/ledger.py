"""``huzhu ledger verify``: recompute every balance from the entries.

Exits non-zero and names the accounts when a stored balance differs from its entries, when a
transfer does not balance, or when the global sum is not zero.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.timebank import ledger


class Command(BaseCommand):
    help = "时间银行账本工具：verify 逐户核对余额与分录"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="重算所有账户余额，核对总和为零、每笔交易借贷平衡")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            self._verify()

    def _verify(self) -> None:
        result = ledger.verify()
        self.stdout.write(
            f"账户 {result.accounts}，交易 {result.transfers}，分录 {result.entries}，"
            f"分录总和 {result.total}"
        )
        for account_id, label, stored, computed in result.mismatched:
            self.stdout.write(
                f"余额不符：账户 {account_id} {label} 记录 {stored}，分录合计 {computed}"
            )
        for transfer_id, total in result.unbalanced:
            self.stdout.write(f"借贷不平：交易 {transfer_id} 分录合计 {total}")
        if not result.ok:
            raise CommandError("账本核对未通过")
        self.stdout.write("账本核对通过")
