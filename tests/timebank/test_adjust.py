"""Two-person adjustments (调账): asked for by one worker, approved by another, posted once
through the ledger — from the service, the CLI and the pages."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.timebank import counter_services, ledger
from huzhu.timebank.ledger import LedgerRefusal
from huzhu.timebank.models import Account, AccountKind, Adjustment, Transfer
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
