"""The worker's counter: the exchange catalogue and redemption with its receipt, 代办, the
family verification queue, org flows and their export, the rules of an org, scope and query
counts."""

import datetime as dt
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.timebank import counter_services, ledger
from huzhu.timebank.counter_selectors import org_flows
from huzhu.timebank.ledger import LedgerRefusal, Leg
from huzhu.timebank.models import (
    Account,
    AccountKind,
    Adjustment,
    ExchangeItem,
    FamilyLink,
    Policy,
    Redemption,
    Transfer,
)
from huzhu.timebank.rules import rules_for
from huzhu.timebank.services import account_for_person, donate, org_account, pay_for_help
from tests.activities.clients import client_for
from tests.activities.factories import SYSTEM, enter_record, make_volunteer
from tests.factories import UserFactory, grant, make_person

pytestmark = pytest.mark.django_db
TODAY = dt.date.today()
YESTERDAY = TODAY - dt.timedelta(days=1)
URL = "/timebank/counter"


@pytest.fixture
def worker_a(city):
    return client_for(city.worker_a)


@pytest.fixture
def worker_b(city):
    return client_for(city.worker_b)


def fund(person, minutes: int):
    """Credit ``minutes`` to the person from their community's issuance account."""
    account = account_for_person(person)
    issuance = org_account(account.org, AccountKind.ISSUANCE)
    ledger.post(kind="earn", legs=[Leg(issuance.pk, -minutes), Leg(account.pk, minutes)])
    account.refresh_from_db()
    return account


def make_item(org, name="大米 5kg", price=120, stock=5, active=True) -> ExchangeItem:
    return counter_services.item_create(
        actor=None,
        scope=SYSTEM,
        org=org,
        data=counter_services.ItemInput(
            name=name, price_minutes=price, stock=stock, is_active=active
        ),
    )


def state() -> tuple:
    """Everything a refused redemption or payment must leave as it was."""
    return (
        list(ExchangeItem.objects.order_by("id").values_list("id", "stock", "is_active")),
        list(Account.objects.order_by("id").values_list("id", "balance", "credit_limit")),
        Transfer.objects.count(),
        Redemption.objects.count(),
        AuditEntry.objects.count(),
    )


def balance(account) -> int:
    return Account.objects.get(pk=account.pk).balance


# --- the catalogue ---------------------------------------------------------------------------


def test_worker_adds_and_edits_an_item_through_the_pages(city, worker_a):
    response = worker_a.post(
        f"{URL}/items/new/",
        {
            "org": city.community_a.pk,
            "name": "食用油",
            "price_hours": "1.5",
            "stock": "10",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    item = ExchangeItem.objects.get()
    assert (item.org, item.name, item.price_minutes, item.stock, item.is_active) == (
        city.community_a,
        "食用油",
        90,
        10,
        True,
    )
    response = worker_a.post(
        f"{URL}/items/{item.pk}/edit/", {"name": "食用油 5L", "price_hours": "2", "stock": "8"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.name, item.price_minutes, item.stock, item.is_active) == (
        "食用油 5L",
        120,
        8,
        False,
    )
    verbs = list(AuditEntry.objects.order_by("id").values_list("verb", flat=True))
    assert verbs == ["timebank.item_create", "timebank.item_update"]
    page = worker_a.get(f"{URL}/items/").content.decode()
    assert "食用油 5L" in page and ">2<" in page


def test_item_form_names_the_field_of_a_bad_price(city, worker_a):
    response = worker_a.post(
        f"{URL}/items/new/",
        {"org": city.community_a.pk, "name": "毛巾", "price_hours": "0", "stock": "3"},
    )
    assert response.status_code == 400
    assert response.context["form"].errors["price_hours"] == ["价格至少为 1 分钟。"]
    assert ExchangeItem.objects.count() == 0


# --- redemption ------------------------------------------------------------------------------


def test_redemption_at_the_counter_moves_credits_stock_and_prints_a_receipt(city, worker_a):
    resident = make_person(city.grid_a, "王奶奶")
    account = fund(resident, 300)
    item = make_item(city.community_a, price=120, stock=5)
    found = worker_a.get(f"{URL}/redeem/", {"q": "王"}).content.decode()
    assert f'data-person-id="{resident.pk}"' in found and "余额 5 小时" in found
    assert resident.id_number not in found
    chosen = worker_a.get(f"{URL}/redeem/", {"person": resident.pk})
    token = chosen.context["form"]["token"].value()
    response = worker_a.post(
        f"{URL}/redeem/?person={resident.pk}", {"item": item.pk, "quantity": "2", "token": token}
    )
    redemption = Redemption.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{URL}/receipts/{redemption.pk}/"
    pool = Account.objects.get(org=city.community_a, kind=AccountKind.POOL)
    assert (balance(account), pool.balance, ExchangeItem.objects.get().stock) == (60, 240, 3)
    assert re.fullmatch(rf"DH{TODAY.year}\d{{8}}", redemption.receipt_number)
    assert (redemption.quantity, redemption.total_minutes, redemption.actor) == (
        2,
        240,
        city.worker_a,
    )
    assert redemption.transfer.kind == "exchange"
    audit = AuditEntry.objects.get(verb="timebank.redeem")
    assert (audit.actor, audit.org, audit.data["minutes"], audit.data["quantity"]) == (
        city.worker_a,
        city.community_a,
        240,
        2,
    )
    receipt = worker_a.get(response["Location"]).content.decode()
    for text in (
        redemption.receipt_number,
        'data-testid="receipt-item">大米 5kg<',
        'data-testid="receipt-quantity">2<',
        'data-testid="receipt-total">4 小时<',
        'data-testid="receipt-balance">1 小时<',
        'data-testid="receipt-worker">worker-a<',
    ):
        assert text in receipt
    assert resident.id_number not in receipt
    # a second click on the same form replays the first redemption
    again = worker_a.post(
        f"{URL}/redeem/?person={resident.pk}", {"item": item.pk, "quantity": "2", "token": token}
    )
    assert again["Location"] == f"{URL}/receipts/{redemption.pk}/"
    assert (Redemption.objects.count(), balance(account)) == (1, 60)
    assert ledger.verify().ok


def test_out_of_stock_is_refused_and_nothing_changes(city):
    resident = make_person(city.grid_a, "王奶奶")
    fund(resident, 600)
    item = make_item(city.community_a, price=60, stock=1)
    before = state()
    with pytest.raises(LedgerRefusal) as refusal:
        counter_services.redeem(
            actor=city.worker_a,
            scope=SYSTEM,
            item=item,
            person=resident,
            quantity=2,
        )
    assert refusal.value.rule == "exchange.stock"
    assert refusal.value.messages == ["库存不足：物品“大米 5kg”仅剩 1 件。"]
    assert state() == before


def test_insufficient_balance_is_refused_and_nothing_changes(city, worker_a):
    resident = make_person(city.grid_a, "王奶奶")
    fund(resident, 100)
    item = make_item(city.community_a, price=60, stock=5)
    before = state()
    with pytest.raises(LedgerRefusal) as refusal:
        counter_services.redeem(
            actor=city.worker_a, scope=SYSTEM, item=item, person=resident, quantity=2
        )
    assert refusal.value.rule == "balance.insufficient"
    assert state() == before
    assert not Account.objects.filter(kind=AccountKind.POOL).exists()
    response = worker_a.post(
        f"{URL}/redeem/?person={resident.pk}", {"item": item.pk, "quantity": "2", "token": "t1"}
    )
    assert response.status_code == 400
    assert response.context["form"].errors["quantity"] == [
        f"余额不足：账户“王奶奶（个人账户）”余额 {ledger.hours(100)} 小时，"
        f"本次需 {ledger.hours(120)} 小时。"
    ]
    assert state() == before


def test_an_item_off_sale_is_refused(city):
    resident = make_person(city.grid_a, "王奶奶")
    fund(resident, 600)
    item = make_item(city.community_a, price=60, stock=5, active=False)
    before = state()
    with pytest.raises(LedgerRefusal) as refusal:
        counter_services.redeem(
            actor=city.worker_a, scope=SYSTEM, item=item, person=resident, quantity=1
        )
    assert refusal.value.rule == "exchange.inactive"
    assert state() == before


def test_an_item_outside_the_members_exchange_scope_is_refused(city):
    Policy.objects.create(org=city.community_a, exchange_scope="community")
    resident = make_person(city.grid_a, "王奶奶")
    fund(resident, 600)
    item = make_item(city.community_b, price=60, stock=5)
    before = state()
    with pytest.raises(LedgerRefusal) as refusal:
        counter_services.redeem(actor=None, scope=SYSTEM, item=item, person=resident, quantity=1)
    assert refusal.value.rule == "exchange.scope"
    assert state() == before


# --- 代办 ------------------------------------------------------------------------------------


def test_pay_on_behalf_needs_the_residents_consent(city, worker_a):
    elder = make_person(city.grid_a, "赵爷爷")
    payer_account = fund(elder, 180)
    helper = make_volunteer(city.grid_a, "李志愿")
    url = f"{URL}/pay/?payer={elder.pk}&helper={helper.person.pk}"
    page = worker_a.get(url)
    assert page.status_code == 200 and page.context["ready"]
    before = state()
    refused = worker_a.post(url, {"hours": "1", "consent": "  ", "memo": "助浴"})
    assert refused.status_code == 400
    assert refused.context["form"].errors["consent"] == [
        "代办支付须记录本人同意（如“本人电话同意”）。"
    ]
    assert state() == before
    done = worker_a.post(url, {"hours": "1", "consent": "本人当面同意", "memo": "助浴"})
    assert done.status_code == 302
    transfer = Transfer.objects.get(kind="spend")
    assert (transfer.on_behalf, transfer.consent, transfer.actor, transfer.memo) == (
        True,
        "本人当面同意",
        city.worker_a,
        "助浴",
    )
    helper_account = Account.objects.get(person=helper.person)
    assert (balance(payer_account), helper_account.balance) == (120, 60)


def test_pay_on_behalf_refuses_a_helper_who_is_not_a_volunteer(city, worker_a):
    elder = make_person(city.grid_a, "赵爷爷")
    other = make_person(city.grid_a, "钱某")
    response = worker_a.get(f"{URL}/pay/?payer={elder.pk}&helper={other.pk}")
    assert response.status_code == 404


# --- family verification ---------------------------------------------------------------------


def _link(city) -> FamilyLink:
    son = make_person(city.grid_a, "孙子")
    mother = make_person(city.grid_a, "孙母")
    return FamilyLink.objects.create(person=son, relative=mother, relation="parent")


def test_family_link_is_verified_through_the_queue(city, worker_a, worker_b):
    link = _link(city)
    queue = worker_a.get(f"{URL}/family/").content.decode()
    assert f'data-link-id="{link.pk}"' in queue and link.person.id_number not in queue
    assert f'data-link-id="{link.pk}"' not in worker_b.get(f"{URL}/family/").content.decode()
    assert (
        worker_b.post(f"{URL}/family/{link.pk}/verify/", {"evidence": "户口簿"}).status_code == 404
    )
    empty = worker_a.post(f"{URL}/family/{link.pk}/verify/", {"evidence": ""}, follow=True)
    assert "请填写核实依据（如“户口簿”“结婚证”）。" in empty.content.decode()
    link.refresh_from_db()
    assert link.verified_at is None
    response = worker_a.post(f"{URL}/family/{link.pk}/verify/", {"evidence": "户口簿"})
    assert response.status_code == 302
    link.refresh_from_db()
    assert (link.evidence, link.verified_by) == ("户口簿", city.worker_a)
    assert link.verified_at is not None
    queue = worker_a.get(f"{URL}/family/").content.decode()
    assert f'data-link-id="{link.pk}"' not in queue


def test_family_link_is_rejected_with_a_reason(city, worker_a):
    link = _link(city)
    response = worker_a.post(f"{URL}/family/{link.pk}/reject/", {"reason": "材料不符"})
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None and link.verified_at is None
    assert AuditEntry.objects.get(verb="timebank.family_revoke").data["reason"] == "材料不符"


# --- org flows -------------------------------------------------------------------------------


def _flows_scenario(city):
    """A: V1 earns 3 h, V2 2 h; V1 pays V2 1 h; V2 donates 0.5 h; V1 redeems 0.75 h.
    B: V3 earns 1 h."""
    v1 = make_volunteer(city.grid_a, "甲一")
    v2 = make_volunteer(city.grid_a, "甲二")
    v3 = make_volunteer(city.grid_b, "乙三")
    enter_record(v1, city.community_a, YESTERDAY, minutes=180)
    enter_record(v2, city.community_a, YESTERDAY, minutes=120)
    enter_record(v3, city.community_b, YESTERDAY, minutes=60)
    pay_for_help(actor=None, payer=v1.person, helper=v2.person, minutes=60)
    donate(actor=None, sender=v2.person, minutes=30)
    item = make_item(city.community_a, price=45, stock=3)
    counter_services.redeem(actor=None, scope=SYSTEM, item=item, person=v1.person, quantity=1)


def _figures(row) -> tuple:
    return (row.issued, row.earned, row.spent, row.donated, row.redeemed, row.liability)


def test_org_flows_are_exact(city):
    _flows_scenario(city)
    rows, total = org_flows(scope=SYSTEM, start=TODAY.replace(month=1, day=1), end=TODAY)
    assert [row.org for row in rows] == [city.community_a, city.community_b]
    assert _figures(rows[0]) == (300, 300, 60, 30, 45, 225)
    assert _figures(rows[1]) == (60, 60, 0, 0, 0, 60)
    assert _figures(total) == (360, 360, 60, 30, 45, 285)
    before, _ = org_flows(scope=SYSTEM, start=TODAY - dt.timedelta(days=30), end=YESTERDAY)
    assert [_figures(row) for row in before] == [(0, 0, 0, 0, 0, 0)] * 2


def test_flows_page_and_export_show_only_the_scope(city, worker_a):
    _flows_scenario(city)
    page = worker_a.get(f"{URL}/flows/")
    assert [row.org for row in page.context["rows"]] == [city.community_a]
    assert page.context["rows"][0].texts == ["5", "5", "1", "0.5", "0.75", "3.75"]
    export = worker_a.get(f"{URL}/flows/export/", {"start": f"{TODAY.year}-01-01"})
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith("导出人：worker-a 时间：")
    assert rows[1][0] == "组织"
    assert rows[2] == ("甲社区", 5, 5, 1, 0.5, 0.75, 3.75)
    assert rows[3] == ("合计", 5, 5, 1, 0.5, 0.75, 3.75)
    assert len(rows) == 4
    audit = AuditEntry.objects.get(verb="timebank.flows_export")
    assert (audit.actor, audit.org, audit.data["rows"]) == (city.worker_a, city.community_a, 1)


# --- rules -----------------------------------------------------------------------------------


def test_policy_edit_changes_the_rules_in_force(city, worker_a, worker_b):
    member = fund(make_person(city.grid_a, "周某"), 60)
    url = f"{URL}/policies/{city.community_a.pk}/"
    assert worker_b.get(url).status_code == 404
    response = worker_a.post(
        url,
        {
            "credit_limit_hours": "2",
            "min_redeem_age": "60",
            "exchange_scope": "community",
            "family_includes_friends": "yes",
            "earn_rates": "社区服务=90",
        },
    )
    assert response.status_code == 302
    rules = rules_for(city.community_a)
    assert (
        rules.credit_limit_minutes,
        rules.min_redeem_age,
        rules.exchange_scope,
        rules.family_includes_friends,
        rules.earn_rates,
    ) == (120, 60, "community", True, {"社区服务": 90})
    assert rules.balance_cap_minutes == rules_for(city.street).balance_cap_minutes  # inherited
    assert Account.objects.get(pk=member.pk).credit_limit == 120
    assert AuditEntry.objects.filter(verb="timebank.policy_set").count() == 1
    page = worker_a.get(url).content.decode()
    assert 'data-testid="rule-credit-limit">2 小时<' in page
    assert rules_for(city.community_b).credit_limit_minutes == 0


def test_lowering_the_credit_limit_below_a_balance_is_refused(city, worker_a):
    counter_services.policy_set(
        actor=None,
        scope=SYSTEM,
        org=city.community_a,
        data=counter_services.PolicyInput(credit_limit_minutes=120),
    )
    member = account_for_person(make_person(city.grid_a, "周某"))
    helper = make_volunteer(city.grid_a)
    pay_for_help(actor=None, payer=member.person, helper=helper.person, minutes=90)
    before = state(), list(Policy.objects.values_list("credit_limit_minutes", flat=True))
    response = worker_a.post(f"{URL}/policies/{city.community_a.pk}/", {"credit_limit_hours": "1"})
    assert response.status_code == 400
    assert response.context["form"].errors["credit_limit_hours"] == [
        "有账户当前余额低于新的透支额度，不能降低透支额度。"
    ]
    assert (state(), list(Policy.objects.values_list("credit_limit_minutes", flat=True))) == before


# --- scope -----------------------------------------------------------------------------------


def test_worker_b_gets_404_on_community_a_objects(city, worker_b):
    resident = make_person(city.grid_a, "王奶奶")
    account = fund(resident, 300)
    item = make_item(city.community_a, price=60, stock=5)
    redemption = counter_services.redeem(
        actor=None, scope=SYSTEM, item=item, person=resident, quantity=1
    )
    adjustment = Adjustment.objects.create(
        account=account, minutes=10, reason="补记", requested_by=city.worker_a
    )
    before = state()
    for url in (
        f"{URL}/items/{item.pk}/edit/",
        f"{URL}/receipts/{redemption.pk}/",
        f"{URL}/redeem/?person={resident.pk}",
        f"{URL}/pay/?payer={resident.pk}",
        f"{URL}/accounts/{account.pk}/adjust/",
        f"{URL}/policies/{city.community_a.pk}/",
    ):
        assert worker_b.get(url).status_code == 404, url
    assert worker_b.post(f"{URL}/adjustments/{adjustment.pk}/approve/").status_code == 404
    assert (
        worker_b.post(
            f"{URL}/redeem/?person={resident.pk}", {"item": item.pk, "quantity": "1"}
        ).status_code
        == 404
    )
    assert state() == before
    assert "王奶奶" not in worker_b.get(f"{URL}/redeem/", {"q": "王"}).content.decode()
    assert "大米" not in worker_b.get(f"{URL}/items/").content.decode()


def test_a_reader_without_the_counter_permission_cannot_redeem(city):
    reader = UserFactory(username="party-a")
    grant(reader, city.community_a, Role.PARTY_WORKER)
    client = client_for(reader)
    assert client.get(f"{URL}/items/").status_code == 200
    assert client.get(f"{URL}/flows/").status_code == 200
    assert client.get(f"{URL}/redeem/").status_code == 403
    assert client.get(f"{URL}/family/").status_code == 403


# --- query counts ----------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(captured)


def _more_rows(city, n: int, start: int) -> None:
    for i in range(start, start + n):
        person = make_person(city.grid_a, f"居民{i}")
        account = fund(person, 600)
        item = make_item(city.community_a, name=f"物品{i}", price=30, stock=5)
        counter_services.redeem(
            actor=city.worker_a, scope=SYSTEM, item=item, person=person, quantity=1
        )
        relative = make_person(city.grid_a, f"亲属{i}")
        FamilyLink.objects.create(person=person, relative=relative, relation="child")
        for minutes in (10, 20):
            adjustment = counter_services.adjustment_request(
                actor=city.worker_a, scope=SYSTEM, account=account, minutes=minutes, reason="补"
            )
        counter_services.adjustment_approve(actor=_second(), scope=SYSTEM, adjustment=adjustment)


def _second():
    return get_user_model().objects.get_or_create(username="checker")[0]


LISTS = ("/", "/items/", "/redemptions/", "/family/", "/flows/", "/adjustments/?q=居民")


def test_list_pages_cost_the_same_queries_however_many_rows(city, worker_a):
    _more_rows(city, 2, 0)
    few = {url: _queries(worker_a, f"{URL}{url}") for url in LISTS}
    _more_rows(city, 4, 2)
    many = {url: _queries(worker_a, f"{URL}{url}") for url in LISTS}
    assert many == few


def test_ledger_verify_is_clean_after_the_counter(city):
    _flows_scenario(city)
    _more_rows(city, 2, 0)
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    assert "账本核对通过" in out.getvalue()
