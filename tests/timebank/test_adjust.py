"""Two-person adjustments (调账): asked for by one worker, approved by another, posted once
through the ledger — or rejected by another worker (驳回) or withdrawn by the requester (撤回),
posting nothing — from the service, the CLI and the pages."""

import io
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.timebank import counter_services, ledger
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.timebank.models import Account, AccountKind, Adjustment, AdjustmentStatus, Transfer
from huzhu.timebank.services import account_for_person
from tests.activities.clients import client_for
from tests.factories import UserFactory, grant, make_person

pytestmark = pytest.mark.django_db
URL = "/timebank/counter"


@pytest.fixture
def checker(city):
    """A second worker of community A."""
    user = UserFactory(username="worker-a2")
    grant(user, city.community_a, Role.WORKER)
    return user


@pytest.fixture
def account(city) -> Account:
    return account_for_person(make_person(city.grid_a, "吴某"))


def scope_of(user) -> Scope:
    return Scope.for_user(user)


def ledger_state() -> tuple:
    return (
        list(Account.objects.order_by("id").values_list("id", "balance")),
        Transfer.objects.count(),
        list(Adjustment.objects.order_by("id").values_list("id", "approved_by", "transfer")),
    )


def adjustment_state() -> list[tuple]:
    return list(
        Adjustment.objects.order_by("id").values_list(
            "id", "approved_by", "transfer", "rejected_by", "rejected_at", "reject_reason"
        )
    )


def audit_verbs() -> list[str]:
    return sorted(
        AuditEntry.objects.filter(verb__startswith="timebank.adjust").values_list("verb", flat=True)
    )


def request(city, account, minutes=90, reason="漏记 3 月 2 日助老服务") -> Adjustment:
    return counter_services.adjustment_request(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        account=account,
        minutes=minutes,
        reason=reason,
    )


def test_the_requester_cannot_approve_and_another_worker_posts_once(city, checker, account):
    adjustment = request(city, account)
    assert Account.objects.get(pk=account.pk).balance == 0
    before = ledger_state()
    with pytest.raises(LedgerRefusal) as refusal:
        counter_services.adjustment_approve(
            actor=city.worker_a, scope=scope_of(city.worker_a), adjustment=adjustment
        )
    assert refusal.value.rule == "adjust.two_person"
    assert ledger_state() == before
    counter_services.adjustment_approve(
        actor=checker, scope=scope_of(checker), adjustment=adjustment
    )
    adjustment.refresh_from_db()
    transfer = adjustment.transfer
    assert (transfer.kind, transfer.idempotency_key, transfer.actor, transfer.approved_by) == (
        "adjust",
        f"adjust:{adjustment.pk}",
        city.worker_a,
        checker,
    )
    issuance = Account.objects.get(org=city.community_a, kind=AccountKind.ISSUANCE)
    assert (Account.objects.get(pk=account.pk).balance, issuance.balance) == (90, -90)
    assert adjustment.approved_by == checker
    with pytest.raises(LedgerRefusal) as again:
        counter_services.adjustment_approve(
            actor=checker, scope=scope_of(checker), adjustment=adjustment
        )
    assert again.value.rule == "adjust.done"
    assert Transfer.objects.filter(kind="adjust").count() == 1
    verbs = list(
        AuditEntry.objects.filter(verb__startswith="timebank.adjust").values_list("verb", flat=True)
    )
    assert sorted(verbs) == ["timebank.adjust_approve", "timebank.adjust_request"]
    assert ledger.verify().ok


def test_a_debit_beyond_the_balance_is_refused_at_approval(city, checker, account):
    adjustment = request(city, account, minutes=-30, reason="重复入账")
    before = ledger_state()
    with pytest.raises(LedgerRefusal) as refusal:
        counter_services.adjustment_approve(
            actor=checker, scope=scope_of(checker), adjustment=adjustment
        )
    assert refusal.value.rule == "balance.insufficient"
    assert ledger_state() == before


def test_a_request_needs_minutes_and_a_reason(city, account):
    with pytest.raises(ValidationError) as refusal:
        request(city, account, minutes=0, reason=" ")
    assert refusal.value.message_dict == {
        "minutes": ["调整时长不能为零。"],
        "reason": ["请填写调账原因。"],
    }
    assert Adjustment.objects.count() == 0


# --- rejection (驳回) and withdrawal (撤回) ---------------------------------------------------


def reject(user, adjustment: Adjustment, reason: str = "金额有误") -> Adjustment:
    return counter_services.adjustment_reject(
        actor=user, scope=scope_of(user), adjustment=adjustment, reason=reason
    )


def approve(user, adjustment: Adjustment) -> Adjustment:
    return counter_services.adjustment_approve(
        actor=user, scope=scope_of(user), adjustment=adjustment
    )


def test_another_worker_rejects_a_pending_request_and_nothing_moves(city, checker, account):
    adjustment = request(city, account)
    before = ledger_state()
    started = timezone.now()
    done = reject(checker, adjustment, reason="  金额有误，应为 60 分钟  ")
    stored = Adjustment.objects.get(pk=adjustment.pk)
    assert (stored.rejected_by, stored.reject_reason, stored.approved_by, stored.transfer) == (
        checker,
        "金额有误，应为 60 分钟",
        None,
        None,
    )
    assert started <= stored.rejected_at <= timezone.now()
    assert (done.status, stored.status) == (AdjustmentStatus.REJECTED, AdjustmentStatus.REJECTED)
    assert ledger_state() == before
    assert audit_verbs() == ["timebank.adjust_reject", "timebank.adjust_request"]
    entry = AuditEntry.objects.get(verb="timebank.adjust_reject")
    assert (entry.actor, entry.org, entry.data) == (
        checker,
        city.community_a,
        {"account": account.pk, "minutes": 90, "reason": "金额有误，应为 60 分钟"},
    )
    assert ledger.verify().ok


def test_the_requester_withdraws_their_own_request(city, checker, account):
    adjustment = request(city, account)
    before = ledger_state()
    done = reject(city.worker_a, adjustment, reason="重复申请")
    stored = Adjustment.objects.get(pk=adjustment.pk)
    assert (stored.rejected_by, stored.reject_reason, stored.transfer) == (
        city.worker_a,
        "重复申请",
        None,
    )
    assert (done.status, stored.status) == (AdjustmentStatus.WITHDRAWN, AdjustmentStatus.WITHDRAWN)
    assert ledger_state() == before
    assert audit_verbs() == ["timebank.adjust_request", "timebank.adjust_withdraw"]


def test_a_pending_request_is_pending_and_an_approved_one_approved(city, checker, account):
    adjustment = request(city, account)
    assert adjustment.status == AdjustmentStatus.PENDING
    assert approve(checker, adjustment).status == AdjustmentStatus.APPROVED


@pytest.mark.parametrize(
    ("reason", "as_requester", "message"),
    [
        ("", False, "请填写驳回原因。"),
        ("   ", False, "请填写驳回原因。"),
        ("", True, "请填写撤回原因。"),
        ("错" * 201, False, "原因不能超过 200 个字。"),
    ],
)
def test_reject_and_withdraw_need_a_reason(city, checker, account, reason, as_requester, message):
    adjustment = request(city, account)
    before = (ledger_state(), adjustment_state(), audit_verbs())
    with pytest.raises(ValidationError) as refusal:
        reject(city.worker_a if as_requester else checker, adjustment, reason=reason)
    assert refusal.value.message_dict == {"reason": [message]}
    assert (ledger_state(), adjustment_state(), audit_verbs()) == before
    assert Adjustment.objects.get(pk=adjustment.pk).status == AdjustmentStatus.PENDING


@pytest.mark.parametrize(
    ("closer", "rule", "message"),
    [
        ("checker", "adjust.rejected", "该调账申请已被驳回，不能再复核入账。"),
        ("requester", "adjust.withdrawn", "该调账申请已由申请人撤回，不能再复核入账。"),
    ],
)
def test_a_rejected_or_withdrawn_request_cannot_be_approved(
    city, checker, account, closer, rule, message
):
    adjustment = request(city, account)
    reject(checker if closer == "checker" else city.worker_a, adjustment)
    before = (ledger_state(), adjustment_state(), audit_verbs())
    third = UserFactory(username="worker-a3")
    grant(third, city.community_a, Role.WORKER)
    for user in (checker, third):
        with pytest.raises(LedgerRefusal) as refusal:
            approve(user, Adjustment.objects.get(pk=adjustment.pk))
        assert (refusal.value.rule, refusal.value.messages) == (rule, [message])
    assert (ledger_state(), adjustment_state(), audit_verbs()) == before


def test_a_closed_request_cannot_be_rejected_or_withdrawn_again(city, checker, account):
    rejected = request(city, account)
    reject(checker, rejected, reason="金额有误")
    withdrawn = request(city, account, minutes=30)
    reject(city.worker_a, withdrawn, reason="重复申请")
    before = (adjustment_state(), audit_verbs())
    cases = [
        (checker, rejected, "adjust.rejected", "该调账申请已被驳回。"),
        (city.worker_a, rejected, "adjust.rejected", "该调账申请已被驳回。"),
        (checker, withdrawn, "adjust.withdrawn", "该调账申请已由申请人撤回。"),
        (city.worker_a, withdrawn, "adjust.withdrawn", "该调账申请已由申请人撤回。"),
    ]
    for user, adjustment, rule, message in cases:
        with pytest.raises(LedgerRefusal) as refusal:
            reject(user, adjustment, reason="再次")
        assert (refusal.value.rule, refusal.value.messages) == (rule, [message])
    assert (adjustment_state(), audit_verbs()) == before


def test_an_approved_request_cannot_be_rejected_or_withdrawn(city, checker, account):
    adjustment = request(city, account)
    approve(checker, adjustment)
    before = (ledger_state(), adjustment_state(), audit_verbs())
    for user in (checker, city.worker_a):
        with pytest.raises(LedgerRefusal) as refusal:
            reject(user, Adjustment.objects.get(pk=adjustment.pk))
        assert (refusal.value.rule, refusal.value.messages) == (
            "adjust.done",
            ["该调账申请已复核入账，不能驳回或撤回。"],
        )
    assert (ledger_state(), adjustment_state(), audit_verbs()) == before
    assert Account.objects.get(pk=account.pk).balance == 90


def test_rejection_needs_the_counter_permission(city, account):
    adjustment = request(city, account)
    reader = UserFactory(username="party-a")
    grant(reader, city.community_a, Role.PARTY_WORKER)
    with pytest.raises(PermissionDenied):
        reject(reader, adjustment)
    assert Adjustment.objects.get(pk=adjustment.pk).status == AdjustmentStatus.PENDING


# --- the CLI ---------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("ledger", *args, stdout=out)
    return out.getvalue()


def test_cli_adjust_request_and_approve(city, checker, account):
    out = run(
        "adjust",
        "request",
        "--account",
        str(account.pk),
        "--minutes",
        "45",
        "--reason",
        "补记",
        "--user",
        "worker-a",
    )
    adjustment = Adjustment.objects.get()
    assert out.startswith(f"已提交调账申请 {adjustment.pk}：账户 {account.pk} ")
    before = ledger_state()
    with pytest.raises(CommandError) as refused:
        run("adjust", "approve", str(adjustment.pk), "--user", "worker-a")
    assert str(refused.value) == "调账须由申请人以外的另一名工作人员复核。"
    assert ledger_state() == before
    with pytest.raises(CommandError) as outside:
        run("adjust", "approve", str(adjustment.pk), "--user", "worker-b")
    assert "找不到调账申请" in str(outside.value)
    out = run("adjust", "approve", str(adjustment.pk), "--user", "worker-a2")
    adjustment.refresh_from_db()
    assert out == (
        f"调账申请 {adjustment.pk} 已复核入账：交易 {adjustment.transfer_id}，"
        f"账户 {account.pk} +45 分钟\n"
    )
    assert Account.objects.get(pk=account.pk).balance == 45
    assert "账本核对通过" in run("verify")


def test_cli_refuses_an_account_outside_the_users_scope(city, account):
    with pytest.raises(CommandError) as refused:
        run(
            "adjust",
            "request",
            "--account",
            str(account.pk),
            "--minutes",
            "45",
            "--reason",
            "补记",
            "--user",
            "worker-b",
        )
    assert str(refused.value).startswith(f"找不到账户：{account.pk}")
    assert Adjustment.objects.count() == 0


def test_cli_adjust_reject_and_withdraw(city, checker, account):
    rejected = request(city, account)
    withdrawn = request(city, account, minutes=-30, reason="重复入账")
    before = ledger_state()
    with pytest.raises(CommandError) as outside:
        run("adjust", "reject", str(rejected.pk), "--user", "worker-b", "--reason", "有误")
    assert str(outside.value) == f"找不到调账申请：{rejected.pk}（不存在或不在您的管理范围内）"
    with pytest.raises(CommandError) as blank:
        run("adjust", "reject", str(rejected.pk), "--user", "worker-a2", "--reason", " ")
    assert str(blank.value) == "请填写驳回原因。"
    assert Adjustment.objects.get(pk=rejected.pk).status == AdjustmentStatus.PENDING
    out = run("adjust", "reject", str(rejected.pk), "--user", "worker-a2", "--reason", "金额有误")
    assert (
        out
        == f"调账申请 {rejected.pk} 已驳回：账户 {account.pk} +90 分钟未入账（原因：金额有误）\n"
    )
    out = run("adjust", "reject", str(withdrawn.pk), "--user", "worker-a", "--reason", "填错了")
    assert (
        out == f"调账申请 {withdrawn.pk} 已撤回：账户 {account.pk} -30 分钟未入账（原因：填错了）\n"
    )
    assert [a.status for a in Adjustment.objects.order_by("pk")] == [
        AdjustmentStatus.REJECTED,
        AdjustmentStatus.WITHDRAWN,
    ]
    assert Adjustment.objects.get(pk=rejected.pk).rejected_by == checker
    with pytest.raises(CommandError) as closed:
        run("adjust", "approve", str(rejected.pk), "--user", "worker-a2")
    assert str(closed.value) == "该调账申请已被驳回，不能再复核入账。"
    with pytest.raises(CommandError) as closed:
        run("adjust", "approve", str(withdrawn.pk), "--user", "worker-a2")
    assert str(closed.value) == "该调账申请已由申请人撤回，不能再复核入账。"
    assert ledger_state() == before
    assert "账本核对通过" in run("verify")


def test_cli_cannot_reject_an_approved_request(city, checker, account):
    adjustment = request(city, account)
    run("adjust", "approve", str(adjustment.pk), "--user", "worker-a2")
    before = (ledger_state(), adjustment_state())
    with pytest.raises(CommandError) as refused:
        run("adjust", "reject", str(adjustment.pk), "--user", "worker-a", "--reason", "算了")
    assert str(refused.value) == "该调账申请已复核入账，不能驳回或撤回。"
    assert (ledger_state(), adjustment_state()) == before


# --- the pages -------------------------------------------------------------------------------


def test_adjustment_through_the_pages_needs_a_second_worker(city, checker, account):
    worker_a = client_for(city.worker_a)
    found = worker_a.get(f"{URL}/adjustments/", {"q": "吴"}).content.decode()
    assert f"{URL}/accounts/{account.pk}/adjust/" in found
    response = worker_a.post(
        f"{URL}/accounts/{account.pk}/adjust/", {"minutes": "-0", "reason": ""}
    )
    assert response.status_code == 400
    assert response.context["form"].errors == {
        "minutes": ["调整时长不能为零。"],
        "reason": ["请填写调账原因。"],
    }
    response = worker_a.post(
        f"{URL}/accounts/{account.pk}/adjust/", {"minutes": "120", "reason": "漏记"}
    )
    assert response.status_code == 302
    adjustment = Adjustment.objects.get()
    page = worker_a.get(f"{URL}/adjustments/").content.decode()
    assert f'data-adjustment-id="{adjustment.pk}"' in page and "待他人复核" in page
    before = ledger_state()
    refused = worker_a.post(f"{URL}/adjustments/{adjustment.pk}/approve/", follow=True)
    assert "调账须由申请人以外的另一名工作人员复核。" in refused.content.decode()
    assert ledger_state() == before
    assert (
        client_for(city.worker_b).post(f"{URL}/adjustments/{adjustment.pk}/approve/").status_code
        == 404
    )
    assert ledger_state() == before
    done = client_for(checker).post(f"{URL}/adjustments/{adjustment.pk}/approve/")
    assert done.status_code == 302
    assert Account.objects.get(pk=account.pk).balance == 120
    assert Adjustment.objects.get().approved_by == checker
    assert ledger.verify().ok


def row_cells(html: str, pk: int, status: str) -> list[str]:
    """The texts of the cells of the closed-list row of adjustment ``pk``."""
    row = re.search(rf'<tr data-adjustment-id="{pk}" data-status="{status}">(.*?)</tr>', html, re.S)
    assert row is not None, (pk, status)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", cell).split()) for cell in cells]


def local_minute(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def test_reject_and_withdraw_through_the_pages(city, checker, account):
    rejected = request(city, account)
    withdrawn = request(city, account, minutes=-30, reason="重复入账")
    worker_a, second = client_for(city.worker_a), client_for(checker)
    page = second.get(f"{URL}/adjustments/").content.decode()
    assert f"{URL}/adjustments/{rejected.pk}/reject/" in page and "驳回原因" in page
    mine = worker_a.get(f"{URL}/adjustments/").content.decode()
    assert f"{URL}/adjustments/{withdrawn.pk}/reject/" in mine and "撤回原因" in mine
    before = (ledger_state(), adjustment_state())
    assert second.get(f"{URL}/adjustments/{rejected.pk}/reject/").status_code == 405
    blank = second.post(f"{URL}/adjustments/{rejected.pk}/reject/", {"reason": " "}, follow=True)
    assert "请填写驳回原因。" in blank.content.decode()
    assert (ledger_state(), adjustment_state()) == before
    done = second.post(f"{URL}/adjustments/{rejected.pk}/reject/", {"reason": "金额有误"})
    assert (done.status_code, done.url) == (302, f"{URL}/adjustments/")
    shown = worker_a.post(
        f"{URL}/adjustments/{withdrawn.pk}/reject/", {"reason": "填错了"}, follow=True
    )
    assert f"调账申请 #{withdrawn.pk} 已撤回。" in shown.content.decode()
    assert [a.status for a in Adjustment.objects.order_by("pk")] == [
        AdjustmentStatus.REJECTED,
        AdjustmentStatus.WITHDRAWN,
    ]
    refused = second.post(f"{URL}/adjustments/{rejected.pk}/approve/", follow=True)
    assert "该调账申请已被驳回，不能再复核入账。" in refused.content.decode()
    assert ledger_state() == before[0]
    page = second.get(f"{URL}/adjustments/")
    assert page.context["pending"] == []
    assert [a.pk for a in page.context["page"].object_list] == [withdrawn.pk, rejected.pk]
    html = page.content.decode()
    assert 'data-testid="no-pending"' in html
    label = f"吴某（{account.person.id_number_masked}）"
    closed = {a.pk: a for a in Adjustment.objects.all()}
    assert row_cells(html, rejected.pk, "rejected") == [
        str(rejected.pk),
        label,
        "+1.5",
        "漏记 3 月 2 日助老服务",
        "worker-a",
        "已驳回 金额有误",
        f"worker-a2 {local_minute(closed[rejected.pk].rejected_at)}",
    ]
    assert row_cells(html, withdrawn.pk, "withdrawn") == [
        str(withdrawn.pk),
        label,
        "-0.5",
        "重复入账",
        "worker-a",
        "已撤回 填错了",
        f"worker-a {local_minute(closed[withdrawn.pk].rejected_at)}",
    ]
    assert f"{URL}/adjustments/{rejected.pk}/approve/" not in html
    assert f"{URL}/adjustments/{rejected.pk}/reject/" not in html


def test_an_approved_request_cannot_be_rejected_on_the_page(city, checker, account):
    adjustment = request(city, account)
    approve(checker, adjustment)
    before = (ledger_state(), adjustment_state())
    refused = client_for(city.worker_a).post(
        f"{URL}/adjustments/{adjustment.pk}/reject/", {"reason": "算了"}, follow=True
    )
    assert "该调账申请已复核入账，不能驳回或撤回。" in refused.content.decode()
    assert (ledger_state(), adjustment_state()) == before
    html = client_for(checker).get(f"{URL}/adjustments/").content.decode()
    assert f'data-adjustment-id="{adjustment.pk}" data-status="approved"' in html


def test_a_worker_of_another_community_gets_404_on_reject(city, account):
    adjustment = request(city, account)
    before = (ledger_state(), adjustment_state(), audit_verbs())
    response = client_for(city.worker_b).post(
        f"{URL}/adjustments/{adjustment.pk}/reject/", {"reason": "越权"}
    )
    assert response.status_code == 404
    assert (ledger_state(), adjustment_state(), audit_verbs()) == before
    page = client_for(city.worker_b).get(f"{URL}/adjustments/").content.decode()
    assert f'data-adjustment-id="{adjustment.pk}"' not in page
    reader = UserFactory(username="party-a")
    grant(reader, city.community_a, Role.PARTY_WORKER)
    forbidden = client_for(reader).post(
        f"{URL}/adjustments/{adjustment.pk}/reject/", {"reason": "越权"}
    )
    assert forbidden.status_code == 403
    assert (ledger_state(), adjustment_state(), audit_verbs()) == before


def _closed_rows(city, checker, n: int) -> None:
    for i in range(n):
        account = account_for_person(make_person(city.grid_a, f"居民{i}"))
        reject(checker, request(city, account, minutes=10 + i), reason=f"有误{i}")
        reject(city.worker_a, request(city, account, minutes=20 + i), reason=f"撤回{i}")
        request(city, account, minutes=30 + i)


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"{URL}/adjustments/")
    assert response.status_code == 200
    return len(captured)


def test_the_adjustments_page_costs_the_same_queries_however_many_rows(city, checker):
    client = client_for(checker)
    _closed_rows(city, checker, 1)
    few = _queries(client)
    _closed_rows(city, checker, 5)
    assert Adjustment.objects.filter(rejected_at__isnull=False).count() == 12
    assert _queries(client) == few
