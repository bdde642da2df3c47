"""The member's time-bank pages: balance, statement, family, transfer, donation."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from huzhu.orgs.scope import Scope
from huzhu.timebank import selectors
from huzhu.timebank.family_services import family_declare, family_verify
from huzhu.timebank.models import Account, AccountKind, Entry, FamilyLink, Policy, Transfer
from huzhu.timebank.services import donate, transfer_to_family
from tests.activities.clients import client_for
from tests.activities.factories import enter_record, make_volunteer
from tests.factories import make_id_number, make_person

pytestmark = pytest.mark.django_db
User = get_user_model()
TODAY = dt.date.today()
LOCAL = zoneinfo.ZoneInfo("Asia/Shanghai")
KEY = "0123456789abcdef0123456789abcdef"


def earn(volunteer, city, *minutes: int) -> None:
    """Confirmed records on successive past days: each credits the time bank."""
    for n, amount in enumerate(minutes, start=1):
        enter_record(volunteer, city.community_a, TODAY - dt.timedelta(days=n), minutes=amount)


@pytest.fixture
def member(city):
    """王芳 (community A, login wangfang) with 3 hours earned."""
    volunteer = make_volunteer(city.grid_a, "王芳", username="wangfang")
    earn(volunteer, city, 180)
    return volunteer.person


@pytest.fixture
def browser(member):
    return client_for(member.user)


def relative_of(city, member, name: str, relation: str, verified: bool = True):
    relative = make_person(city.grid_a, name, id_number=make_id_number())
    link = family_declare(actor=member.user, person=member, relative=relative, relation=relation)
    if verified:
        family_verify(
            actor=city.worker_a, scope=Scope.for_user(city.worker_a), link=link, evidence="户口簿"
        )
    return relative


def balance(person) -> int:
    account = Account.objects.filter(person=person).first()
    return account.balance if account else 0


def ledger_state() -> tuple[int, int, list[tuple[int, int]]]:
    return (
        Transfer.objects.count(),
        Entry.objects.count(),
        list(Account.objects.order_by("id").values_list("id", "balance")),
    )


def page_key(response) -> str:
    found = re.search(r'name="key" value="([0-9a-f]{32})"', response.content.decode())
    assert found, "the form carries a fresh key"
    return found.group(1)


def shown(response, name: str) -> list[str]:
    pattern = rf'data-testid="{name}">([^<]*)<'
    return re.findall(pattern, response.content.decode())


# --- access ----------------------------------------------------------------------------------

PAGES = ["/timebank/", "/timebank/statement/", "/timebank/family/", "/timebank/transfer/"]


@pytest.mark.parametrize("url", [*PAGES, "/timebank/donate/"])
def test_anonymous_is_sent_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.parametrize("url", [*PAGES, "/timebank/donate/"])
def test_a_worker_without_a_resident_record_gets_a_friendly_page(city, member, url):
    response = client_for(city.worker_b).get(url)
    assert response.status_code == 200
    assert b'data-testid="not-member"' in response.content
    assert "王芳" not in response.content.decode()


@pytest.mark.parametrize(
    ("url", "data"),
    [
        ("/timebank/transfer/", {"relative": "1", "hours": "1", "key": KEY}),
        ("/timebank/donate/", {"hours": "1", "key": KEY}),
        ("/timebank/family/", {"relative_id_number": "x", "relation": "parent"}),
    ],
)
def test_posts_without_a_resident_record_are_404_and_change_nothing(city, member, url, data):
    before = ledger_state()
    assert client_for(city.worker_b).post(url, data).status_code == 404
    assert ledger_state() == before


def test_one_member_never_sees_anothers_entries_or_links(city, member, browser):
    relative_of(city, member, "王建国", "parent")
    other = make_volunteer(city.grid_b, "刘强", username="liuqiang")
    enter_record(other, city.community_b, TODAY - dt.timedelta(days=1), minutes=42)
    theirs = client_for(other.person.user)
    for url in PAGES:
        body = theirs.get(url).content.decode()
        assert "王芳" not in body and "王建国" not in body and "3 小时" not in body
    assert shown(theirs.get("/timebank/"), "balance") == ["0.7 小时"]


def test_revoking_someone_elses_link_is_404(city, member):
    relative_of(city, member, "王建国", "parent")
    link = FamilyLink.objects.get()
    other = make_volunteer(city.grid_a, "赵六", username="zhaoliu").person
    response = client_for(other.user).post(f"/timebank/family/{link.pk}/revoke/")
    assert response.status_code == 404
    assert FamilyLink.objects.get().revoked_at is None


# --- home ------------------------------------------------------------------------------------


def test_home_shows_balance_month_flows_and_latest_ten(city, member, browser):
    volunteer = member.volunteer
    for n in range(2, 13):  # 11 more records: 12 entries in all
        enter_record(volunteer, city.community_a, TODAY - dt.timedelta(days=n), minutes=6)
    parent = relative_of(city, member, "王建国", "parent")
    transfer_to_family(actor=member.user, sender=member, receiver=parent, minutes=100)
    response = browser.get("/timebank/")
    assert response.status_code == 200
    # 180 + 11 × 6 = 246 in, 100 out this month (entries are dated when posted).
    assert shown(response, "balance") == ["2 小时 26 分钟"]
    assert shown(response, "month-in") == ["4.1 小时"]
    assert shown(response, "month-out") == ["1 小时 40 分钟"]
    assert len(shown(response, "amount")) == 10
    assert shown(response, "amount")[0] == "-1 小时 40 分钟"
    assert shown(response, "balance-after")[:3] == ["2 小时 26 分钟", "4.1 小时", "4 小时"]
    assert "转赠家人 · 王**" in response.content.decode()


def test_home_of_a_member_without_an_account_shows_zero(city):
    volunteer = make_volunteer(city.grid_a, "新人", username="xinren")
    response = client_for(volunteer.person.user).get("/timebank/")
    assert shown(response, "balance") == ["0 小时"]
    assert "还没有流水" in response.content.decode()
    assert not Account.objects.filter(person=volunteer.person).exists()  # reads open nothing


def query_count(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("url", ["/timebank/", "/timebank/statement/", "/timebank/family/"])
def test_query_count_does_not_grow_with_rows(city, member, browser, url):
    relative_of(city, member, "王建国", "parent")
    transfer_to_family(
        actor=member.user, sender=member, receiver=FamilyLink.objects.get().relative, minutes=6
    )
    few = query_count(browser, url)
    for n in range(2, 14):
        enter_record(member.volunteer, city.community_a, TODAY - dt.timedelta(days=n), minutes=6)
    relative_of(city, member, "王小芳", "child")
    relative_of(city, member, "李梅", "spouse", verified=False)
    donate(actor=member.user, sender=member, minutes=6)
    assert query_count(browser, url) == few


# --- statement -------------------------------------------------------------------------------


@pytest.fixture
def history(city, member):
    """Four entries over two years, dated in local time (a month ends at local midnight)."""
    parent = relative_of(city, member, "王建国", "parent")
    earn(member.volunteer, city, 90)  # on top of the fixture's 180 → 270
    transfer_to_family(actor=member.user, sender=member, receiver=parent, minutes=30)
    donate(actor=member.user, sender=member, minutes=60)
    account = Account.objects.get(person=member)
    moments = [
        dt.datetime(2024, 1, 10, 10, 0, tzinfo=LOCAL),
        dt.datetime(2024, 1, 31, 23, 30, tzinfo=LOCAL),
        dt.datetime(2024, 2, 1, 0, 10, tzinfo=LOCAL),
        dt.datetime(2025, 3, 5, 9, 0, tzinfo=LOCAL),
    ]
    entries = list(Entry.objects.filter(account=account).order_by("id"))
    for entry, moment in zip(entries, moments, strict=True):
        Entry.objects.filter(pk=entry.pk).update(created_at=moment)
    return account


def test_statement_selectors_are_exact(history):
    entries = list(selectors.statement_entries(account=history))
    assert [(e.amount, e.balance_after) for e in entries] == [
        (-60, 180),
        (-30, 240),
        (90, 270),
        (180, 180),
    ]
    assert selectors.yearly_summary(account=history) == [
        selectors.Flow(2025, None, 0, 60),
        selectors.Flow(2024, None, 270, 30),
    ]
    assert selectors.monthly_summary(account=history, year=2024) == [
        selectors.Flow(2024, 1, 270, 0),
        selectors.Flow(2024, 2, 0, 30),
    ]
    assert selectors.month_flow(account=history, year=2024, month=2).net == -30
    assert selectors.statement_years(account=history) == [2025, 2024]
    january = selectors.statement_entries(account=history, year=2024, month=1)
    assert [e.amount for e in january] == [90, 180]


def test_statement_page_shows_running_balance_and_summaries(history, browser):
    response = browser.get("/timebank/statement/")
    body = response.content.decode()
    assert shown(response, "balance") == ["3 小时"]
    assert shown(response, "amount") == ["-1 小时", "-0.5 小时", "+1.5 小时", "+3 小时"]
    assert shown(response, "balance-after") == ["3 小时", "4 小时", "4.5 小时", "3 小时"]
    yearly = re.findall(
        r'<tr data-year="(\d+)"><th scope="row"><a[^>]*>([^<]+)</a></th>'
        r"<td>([^<]+)</td><td>([^<]+)</td><td[^>]*>([^<]+)</td>",
        body,
    )
    assert yearly == [
        ("2025", "2025年", "0 小时", "1 小时", "-1 小时"),
        ("2024", "2024年", "4.5 小时", "0.5 小时", "+4 小时"),
    ]
    # Months of the latest year unless a year is chosen.
    assert re.findall(r'<tr data-month="(\d+)">', body) == ["3"]
    assert "捐赠 · 甲社区社区互助池" in body
    assert "转赠家人 · 王**" in body
    assert "服务入账 · 甲社区" in body


def test_statement_filters_by_year_and_month(history, browser):
    response = browser.get("/timebank/statement/?year=2024")
    assert shown(response, "amount") == ["-0.5 小时", "+1.5 小时", "+3 小时"]
    monthly = re.findall(
        r'<tr data-month="(\d+)"><th scope="row"><a[^>]*>([^<]+)</a></th>'
        r"<td>([^<]+)</td><td>([^<]+)</td><td[^>]*>([^<]+)</td>",
        response.content.decode(),
    )
    assert monthly == [
        ("1", "2024年1月", "4.5 小时", "0 小时", "+4.5 小时"),
        ("2", "2024年2月", "0 小时", "0.5 小时", "-0.5 小时"),
    ]
    january = browser.get("/timebank/statement/?year=2024&month=1")
    assert shown(january, "amount") == ["+1.5 小时", "+3 小时"]
    nothing = browser.get("/timebank/statement/?year=2023")  # not a year with entries
    assert len(shown(nothing, "amount")) == 4  # an unknown year shows everything


def test_statement_is_paginated(city, member, browser):
    for n in range(2, 23):  # 21 more entries: 22 in all, 20 per page
        enter_record(member.volunteer, city.community_a, TODAY - dt.timedelta(days=n), minutes=6)
    first = browser.get("/timebank/statement/")
    second = browser.get("/timebank/statement/?page=2")
    assert (len(shown(first, "amount")), len(shown(second, "amount"))) == (20, 2)
    assert shown(second, "balance-after") == ["3.1 小时", "3 小时"]


def test_duration_texts():
    assert [selectors.duration(m) for m in (0, 6, 30, 60, 90, 100, 45, -125)] == [
        "0 小时",
        "0.1 小时",
        "0.5 小时",
        "1 小时",
        "1.5 小时",
        "1 小时 40 分钟",
        "45 分钟",
        "-2 小时 5 分钟",
    ]
    assert selectors.duration(90, signed=True) == "+1.5 小时"


# --- family ----------------------------------------------------------------------------------


def test_family_page_declares_and_lists_statuses(city, member, browser):
    relative = make_person(city.grid_a, "王建国", id_number=make_id_number())
    response = browser.post(
        "/timebank/family/", {"relative_id_number": relative.id_number, "relation": "parent"}
    )
    assert response.status_code == 302
    link = FamilyLink.objects.get()
    assert (link.person_id, link.relative_id, link.relation) == (member.pk, relative.pk, "parent")
    page = browser.get("/timebank/family/")
    body = page.content.decode()
    assert "已申报：王** 是您的父母。社区工作人员核实后即可转赠。" in body
    assert shown(page, "status") == ["待核实"]
    assert relative.id_number not in body
    family_verify(
        actor=city.worker_a, scope=Scope.for_user(city.worker_a), link=link, evidence="户口簿"
    )
    verified = browser.get("/timebank/family/")
    assert shown(verified, "status") == ["已核实"]
    assert "王建国 · 父母" in verified.content.decode()
    assert browser.post(f"/timebank/family/{link.pk}/revoke/").status_code == 302
    revoked = browser.get("/timebank/family/")
    assert shown(revoked, "status") == ["已撤销"]
    assert "已撤销该亲属关系。" in revoked.content.decode()


def test_family_page_shows_links_declared_by_the_relative(city, member, browser):
    child = make_volunteer(city.grid_a, "王小明", username="wangxiaoming").person
    family_declare(actor=child.user, person=child, relative=member, relation="parent")
    page = browser.get("/timebank/family/")
    body = page.content.decode()
    assert "王** · 子女" in body and "对方申报" in body
    assert "撤销</button>" not in body  # only the declarer withdraws a link


def test_family_page_shows_the_refusal_on_the_field(city, member, browser):
    response = browser.post(
        "/timebank/family/", {"relative_id_number": make_id_number(), "relation": "parent"}
    )
    assert response.status_code == 200
    errors = re.findall(
        r'data-field-error="relative_id_number">([^<]+)<', response.content.decode()
    )
    assert errors == [
        "亲属的身份证号：没有找到该身份证号的登记居民，请亲属先到所在社区登记后再申报。"
    ]
    assert FamilyLink.objects.count() == 0


# --- transfer --------------------------------------------------------------------------------


def test_transfer_page_offers_relatives_with_pending_ones_disabled(city, member, browser):
    parent = relative_of(city, member, "王建国", "parent")
    spouse = relative_of(city, member, "李梅", "spouse", verified=False)
    body = browser.get("/timebank/transfer/").content.decode()
    assert f'<option value="{parent.pk}">王建国（父母）</option>' in body
    assert f'<option value="{spouse.pk}" disabled>李*（配偶）（待核实）</option>' in body
    assert 'data-testid="no-verified"' not in body


def test_transfer_to_a_verified_parent(city, member, browser):
    parent = relative_of(city, member, "王建国", "parent")
    key = page_key(browser.get("/timebank/transfer/"))
    response = browser.post(
        "/timebank/transfer/", {"relative": parent.pk, "hours": "1.5", "memo": "给爸爸", "key": key}
    )
    assert response.status_code == 302 and response["Location"] == "/timebank/"
    assert (balance(member), balance(parent)) == (90, 90)
    transfer = Transfer.objects.get(kind="family")
    assert (transfer.memo, transfer.actor, transfer.idempotency_key) == (
        "给爸爸",
        member.user,
        f"member:{member.user.pk}:transfer:{key}",
    )
    assert "已转赠 1.5 小时 给父母 王建国。" in browser.get("/timebank/").content.decode()


def test_double_submit_with_the_same_key_posts_once(city, member, browser):
    parent = relative_of(city, member, "王建国", "parent")
    data = {"relative": parent.pk, "hours": "1", "key": KEY}
    browser.post("/timebank/transfer/", data)
    again = browser.post("/timebank/transfer/", data, follow=True)
    assert "这笔已经提交过了，没有重复扣减。" in again.content.decode()
    assert Transfer.objects.filter(kind="family").count() == 1
    assert (balance(member), balance(parent)) == (120, 60)


def refused(browser, data: dict) -> tuple[str, list[str]]:
    before = ledger_state()
    response = browser.post("/timebank/transfer/", data)
    assert response.status_code == 200
    assert ledger_state() == before
    body = response.content.decode()
    rule = re.search(r'data-rule="([^"]+)"', body)
    alert = re.search(r'data-field-error="__all__"[^>]*>(.*?)</div></div>', body, re.S)
    texts = re.findall(r"<div>([^<]+)</div>", alert.group(0)) if alert else []
    return (rule.group(1) if rule else ""), texts


def test_unverified_relative_is_refused_with_the_rule(city, member, browser):
    spouse = relative_of(city, member, "李梅", "spouse", verified=False)
    assert refused(browser, {"relative": spouse.pk, "hours": "1", "key": KEY}) == (
        "transfer.relation",
        ["只能转赠给经社区核实的家庭成员（配偶、直系亲属）。"],
    )


def test_friend_is_refused_unless_the_rules_allow_friends(city, member, browser):
    friend = relative_of(city, member, "周友", "friend")
    data = {"relative": friend.pk, "hours": "1", "key": KEY}
    assert refused(browser, data)[0] == "transfer.relation"
    Policy.objects.create(org=city.street, family_includes_friends=True)
    assert browser.post("/timebank/transfer/", data).status_code == 302
    assert (balance(member), balance(friend)) == (120, 60)


def test_insufficient_balance_is_refused(city, member, browser):
    parent = relative_of(city, member, "王建国", "parent")
    assert refused(browser, {"relative": parent.pk, "hours": "3.5", "key": KEY}) == (
        "balance.insufficient",
        ["余额不足：账户“王芳（个人账户）”余额 3 小时，本次需 3.5 小时。"],
    )


def test_a_person_outside_the_members_links_cannot_be_chosen(city, member, browser):
    stranger = make_person(city.grid_a, "陌生人", id_number=make_id_number())
    before = ledger_state()
    response = browser.post(
        "/timebank/transfer/", {"relative": stranger.pk, "hours": "1", "key": KEY}
    )
    assert response.status_code == 200
    assert re.findall(r'data-field-error="relative"', response.content.decode())
    assert ledger_state() == before


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("", "请填写时长。"),
        ("abc", "时长请填写数字，如 1 或 1.5。"),
        ("0", "时长至少 0.1 小时。"),
        ("1.25", "时长最多保留一位小数。"),
    ],
)
def test_bad_hours_are_refused_on_the_field(city, member, browser, hours, message):
    parent = relative_of(city, member, "王建国", "parent")
    before = ledger_state()
    response = browser.post(
        "/timebank/transfer/", {"relative": parent.pk, "hours": hours, "key": KEY}
    )
    errors = re.findall(r'data-field-error="hours">([^<]+)<', response.content.decode())
    assert errors == [message]
    assert page_key(response) == KEY  # nothing posted: the same page key stays valid
    assert ledger_state() == before


def test_a_missing_or_forged_key_is_refused_and_a_fresh_one_given(city, member, browser):
    parent = relative_of(city, member, "王建国", "parent")
    before = ledger_state()
    response = browser.post(
        "/timebank/transfer/", {"relative": parent.pk, "hours": "1", "key": "x"}
    )
    assert "页面已过期，请重新填写后提交。" in response.content.decode()
    assert page_key(response) != "x"
    assert ledger_state() == before


# --- donate ----------------------------------------------------------------------------------


def test_donate_to_the_community_pool_once_per_page(city, member, browser):
    key = page_key(browser.get("/timebank/donate/"))
    data = {"hours": "2", "memo": "", "key": key}
    assert browser.post("/timebank/donate/", data)["Location"] == "/timebank/"
    browser.post("/timebank/donate/", data)
    pool = Account.objects.get(org=city.community_a, kind=AccountKind.POOL)
    assert (balance(member), pool.balance) == (60, 120)
    assert Transfer.objects.filter(kind="donate").count() == 1
    home = browser.get("/timebank/").content.decode()
    assert "已向社区互助池捐赠 2 小时，谢谢您！" in home


def test_donating_more_than_the_balance_is_refused(city, member, browser):
    before = ledger_state()
    response = browser.post("/timebank/donate/", {"hours": "4", "key": KEY})
    body = response.content.decode()
    assert 'data-rule="balance.insufficient"' in body
    assert "余额不足：账户“王芳（个人账户）”余额 3 小时，本次需 4 小时。" in body
    assert ledger_state() == before
