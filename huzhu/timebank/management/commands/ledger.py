"""``huzhu ledger``: operators' tools for the time-bank ledger.

``verify`` recomputes every balance from the entries and exits non-zero, naming the accounts,
when a stored balance differs from its entries, when a transfer does not balance, or when the
global sum is not zero.

``adjust request`` asks for a correction of an account (±minutes, with a reason) and
``adjust approve`` posts it; the approver must be another user than the requester (the
two-person rule), and each user acts within their own scope. ``adjust reject`` closes a
pending request with a reason and posts nothing: another user rejects it (驳回), the
requester withdraws it (撤回).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.timebank import counter_services, ledger
from huzhu.timebank.models import Account, Adjustment, AdjustmentStatus


class Command(BaseCommand):
    help = "时间银行账本工具：verify 逐户核对余额与分录；adjust 双人复核调账（可驳回、撤回）"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="重算所有账户余额，核对总和为零、每笔交易借贷平衡")
        adjust = sub.add_parser("adjust", help="调账：一人申请，另一人复核后入账")
        steps = adjust.add_subparsers(dest="step", required=True)
        request = steps.add_parser("request", help="提出调账申请")
        request.add_argument("--account", type=int, required=True, help="账户编号")
        request.add_argument(
            "--minutes", type=int, required=True, help="调整分钟数（正数补记，负数扣减）"
        )
        request.add_argument("--reason", required=True, help="调账原因")
        request.add_argument("--user", required=True, help="申请人的用户名")
        approve = steps.add_parser("approve", help="复核并入账")
        approve.add_argument("adjustment", type=int, help="调账申请编号")
        approve.add_argument("--user", required=True, help="复核人的用户名（不能是申请人）")
        reject = steps.add_parser("reject", help="驳回调账申请（申请人本人即为撤回）")
        reject.add_argument("adjustment", type=int, help="调账申请编号")
        reject.add_argument("--user", required=True, help="驳回人的用户名（申请人本人即为撤回）")
        reject.add_argument("--reason", required=True, help="驳回或撤回的原因")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "verify":
            self._verify()
        elif options["step"] == "request":
            self._request(options)
        elif options["step"] == "reject":
            self._reject(options)
        else:
            self._approve(options)

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

    # --- adjust ---------------------------------------------------------------------------

    @staticmethod
    def _user(username: str) -> Any:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"找不到用户：{username}")
        return user

    def _request(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"])
        scope = Scope.for_user(user)
        account = (
            Account.objects.within(scope, Perm.TIMEBANK_OPERATE)
            .select_related("org", "person")
            .filter(pk=options["account"])
            .first()
        )
        if account is None:
            raise CommandError(f"找不到账户：{options['account']}（不存在或不在您的管理范围内）")
        adjustment = _refused_as_error(
            lambda: counter_services.adjustment_request(
                actor=user,
                scope=scope,
                account=account,
                minutes=options["minutes"],
                reason=options["reason"],
            )
        )
        self.stdout.write(
            f"已提交调账申请 {adjustment.pk}：账户 {account.pk} {account} "
            f"{adjustment.minutes:+d} 分钟，待另一名工作人员复核"
        )

    @staticmethod
    def _adjustment(scope: Scope, adjustment_id: int) -> Adjustment:
        adjustment = (
            Adjustment.objects.within(scope, Perm.TIMEBANK_OPERATE)
            .select_related("account__org", "account__person")
            .filter(pk=adjustment_id)
            .first()
        )
        if adjustment is None:
            raise CommandError(f"找不到调账申请：{adjustment_id}（不存在或不在您的管理范围内）")
        return adjustment

    def _approve(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"])
        scope = Scope.for_user(user)
        adjustment = self._adjustment(scope, options["adjustment"])
        done = _refused_as_error(
            lambda: counter_services.adjustment_approve(
                actor=user, scope=scope, adjustment=adjustment
            )
        )
        self.stdout.write(
            f"调账申请 {done.pk} 已复核入账：交易 {done.transfer_id}，"
            f"账户 {done.account_id} {done.minutes:+d} 分钟"
        )

    def _reject(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"])
        scope = Scope.for_user(user)
        adjustment = self._adjustment(scope, options["adjustment"])
        done = _refused_as_error(
            lambda: counter_services.adjustment_reject(
                actor=user, scope=scope, adjustment=adjustment, reason=options["reason"]
            )
        )
        verb = "撤回" if done.status == AdjustmentStatus.WITHDRAWN else "驳回"
        self.stdout.write(
            f"调账申请 {done.pk} 已{verb}：账户 {done.account_id} {done.minutes:+d} 分钟"
            f"未入账（原因：{done.reject_reason}）"
        )


def _refused_as_error(call: Any) -> Any:
    """Run a service call; a refusal becomes a ``CommandError`` with its message."""
    try:
        return call()
    except PermissionDenied as exc:
        raise CommandError(str(exc) or "没有权限") from exc
    except ValidationError as exc:
        raise CommandError("；".join(exc.messages)) from exc
