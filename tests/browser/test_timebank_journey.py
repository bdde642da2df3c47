"""The time-bank issue's "done when" journey: a volunteer's attended shift is confirmed on
the organiser's board and her hours are credited; on her phone she declares her father, the
community verifies the relation at the counter, and she gives him an hour; at the counter's
爱心超市 he spends it on an item and gets a receipt; on his phone he sees the exchange in
his statement; and the ledger still adds up."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from huzhu.activities.models import RecordStatus, ServiceRecord, Shift
from huzhu.activities.services import signup_create
from huzhu.people.models import Person
from huzhu.timebank import counter_services, ledger
from huzhu.timebank.models import (
    Account,
    AccountKind,
    ExchangeItem,
    FamilyLink,
    Redemption,
    Transfer,
    TransferKind,
)
from huzhu.volunteers.models import Volunteer
from tests.activities.factories import (
    SYSTEM,
    attend,
    first_shift,
    local_at,
    make_activity,
    make_login_volunteer,
)
from tests.browser.conftest import login
from tests.factories import make_id_number, make_person

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
SERVED_MINUTES = 120


def sign_in(page, username: str, viewport: dict[str, int] = PHONE) -> None:
    page.context.clear_cookies()
    page.set_viewport_size(viewport)
    login(page, username)


def as_worker(page) -> None:
    sign_in(page, "worker-a", DESKTOP)


def make_login_resident(org, name: str, username: str, birth: dt.date) -> tuple[Person, str]:
    """A registered resident with a login linked to them (as ``make_volunteer`` links one);
    returns the person and their full ID number (what a relative types to declare them)."""
    id_number = make_id_number(birth=birth)
    person = make_person(org, name, id_number=id_number)
    person.user = get_user_model().objects.create_user(username=username, password="pw-for-tests")
    person.save(update_fields=["user"])
    return person, id_number


def attended_past_shift(org, volunteer: Volunteer) -> Shift:
    """A shift three days ago (09:00–12:00) the volunteer signed up for the day before and
    attended from 09:00 to 11:00, checked in and out by the organiser."""
    start = local_at(timezone.localdate() - dt.timedelta(days=3), 9)
    shift = first_shift(make_activity(org, title="社区助老服务", start=start, capacity=5))
    signup_create(
        actor=None, volunteer=volunteer, shift_id=shift.pk, now=start - dt.timedelta(days=1)
    )
    attend(volunteer, shift, start, start + dt.timedelta(minutes=SERVED_MINUTES))
    return shift


def balance_of(person: Person) -> int:
    return Account.objects.get(person=person).balance


@pytest.mark.django_db(transaction=True)
def test_hours_are_credited_given_to_family_and_spent_at_the_counter(page, city):
    volunteer = make_login_volunteer(city.grid_a, "李志愿", username="vol-a")
    parent, parent_id_number = make_login_resident(
        city.grid_a, "李大爷", "parent-a", dt.date(1950, 3, 8)
    )
    shift = attended_past_shift(city.community_a, volunteer)
    item = counter_services.item_create(
        actor=None,
        scope=SYSTEM,
        org=city.community_a,
        data=counter_services.ItemInput(name="爱心大米", price_minutes=60, stock=5),
    )

    # The organiser confirms the shift's hours on the board: the time bank credits them.
    as_worker(page)
    page.goto(f"{page.base_url}/activities/manage/{shift.activity_id}/")
    page.click(f"tr[data-shift-id='{shift.pk}'] a:has-text('看板')")
    page.wait_for_url(f"**/activities/manage/shifts/{shift.pk}/")
    page.click("[data-testid=shift-confirm]:has-text('整班确认时长')")
    page.wait_for_selector(".alert:has-text('已确认 1 条服务记录（其中新生成 1 条）。')")
    record = ServiceRecord.objects.get(volunteer=volunteer)
    assert (record.minutes, record.status) == (SERVED_MINUTES, RecordStatus.CONFIRMED)
    assert balance_of(volunteer.person) == SERVED_MINUTES
    earned = Transfer.objects.get(kind=TransferKind.EARN)
    assert earned.record_id == record.pk
    assert ledger.verify().ok

    # On her phone the volunteer sees the balance and declares her father (我的家人).
    sign_in(page, "vol-a")
    page.goto(page.base_url + "/timebank/")
    assert page.inner_text("[data-testid=balance]") == "2 小时"
    first = page.locator("[data-testid=entries] li").first
    assert "服务入账" in first.inner_text()
    assert first.locator("[data-testid=amount]").inner_text() == "+2 小时"
    page.click("a:has-text('我的家人')")
    page.wait_for_url("**/timebank/family/")
    page.fill("input[name=relative_id_number]", parent_id_number)
    page.select_option("select[name=relation]", "parent")
    page.click("button:has-text('提交申报')")
    page.wait_for_selector(".alert:has-text('已申报：李** 是您的父母。')")
    link = FamilyLink.objects.get()
    assert (link.person_id, link.relative_id, link.relation) == (
        volunteer.person_id,
        parent.pk,
        "parent",
    )
    assert link.verified_at is None

    # The community verifies the relation at the counter (亲属核实).
    as_worker(page)
    page.goto(page.base_url + "/timebank/counter/")
    page.click("[data-testid=counter-tabs] a:has-text('亲属核实')")
    page.wait_for_url("**/timebank/counter/family/")
    row = page.locator(f"tr[data-link-id='{link.pk}']")
    row.locator("input[name=evidence]").fill("户口簿")
    row.locator("button:has-text('核实')").click()
    page.wait_for_selector(".alert:has-text('已核实 李志愿 与 李大爷 的亲属关系。')")
    link.refresh_from_db()
    assert link.verified_at is not None and link.evidence == "户口簿"

    # The volunteer gives her father one hour (转赠家人).
    sign_in(page, "vol-a")
    page.goto(page.base_url + "/timebank/")
    page.click("a:has-text('转赠家人')")
    page.wait_for_url("**/timebank/transfer/")
    assert page.inner_text("[data-testid=balance]") == "2 小时"
    page.select_option("select[name=relative]", str(parent.pk))
    page.fill("input[name=hours]", "1")
    page.fill("input[name=memo]", "给爸爸买米")
    page.click("button:has-text('确认转赠')")
    page.wait_for_url(page.base_url + "/timebank/")
    page.wait_for_selector(".alert:has-text('已转赠 1 小时 给父母 李大爷。')")
    assert page.inner_text("[data-testid=balance]") == "1 小时"
    assert balance_of(volunteer.person) == SERVED_MINUTES - 60
    assert balance_of(parent) == 60
    gift = Transfer.objects.get(kind=TransferKind.FAMILY)
    assert gift.memo == "给爸爸买米"

    # At the counter the worker finds 李大爷, redeems one bag of rice and gets the receipt.
    as_worker(page)
    page.goto(page.base_url + "/timebank/counter/")
    page.click("[data-testid=counter-tabs] a:has-text('兑换')")
    page.wait_for_url("**/timebank/counter/redeem/")
    page.fill("#hz-q", "李大爷")
    page.click("[data-testid=member-search-q] button:has-text('查找')")
    candidate = page.locator(f"[data-testid=candidates-q] [data-person-id='{parent.pk}']")
    assert "余额 1 小时" in candidate.inner_text()
    assert page.locator("[data-testid=candidates-q] [data-person-id]").count() == 1
    candidate.click()
    page.wait_for_selector(f"[data-testid=member][data-person-id='{parent.pk}']")
    assert page.inner_text("[data-testid=member-balance]") == "1 小时"
    form = page.locator("[data-testid=redeem-form]")
    form.locator("select[name=item]").select_option(str(item.pk))
    form.locator("input[name=quantity]").fill("1")
    form.locator("button:has-text('确认兑换')").click()
    redemption_url = "**/timebank/counter/receipts/*/"
    page.wait_for_url(redemption_url)
    redemption = Redemption.objects.get()
    assert page.url == f"{page.base_url}/timebank/counter/receipts/{redemption.pk}/"
    page.wait_for_selector(f".alert:has-text('兑换成功，小票号 {redemption.receipt_number}。')")
    assert page.inner_text("[data-testid=receipt-number]") == redemption.receipt_number
    assert page.inner_text("[data-testid=receipt-item]") == "爱心大米"
    assert page.inner_text("[data-testid=receipt-quantity]") == "1"
    assert page.inner_text("[data-testid=receipt-total]") == "1 小时"
    assert page.inner_text("[data-testid=receipt-balance]") == "0 小时"
    assert page.inner_text("[data-testid=receipt-worker]") == "worker-a"
    assert (redemption.person_id, redemption.item_id, redemption.quantity) == (
        parent.pk,
        item.pk,
        1,
    )
    assert redemption.total_minutes == 60
    assert balance_of(parent) == 0
    assert ExchangeItem.objects.get(pk=item.pk).stock == 4
    pool = Account.objects.get(org=city.community_a, kind=AccountKind.POOL)
    assert pool.balance == 60
    assert redemption.transfer.kind == TransferKind.EXCHANGE

    # On his phone 李大爷 sees the exchange as his latest entry, and in the statement.
    sign_in(page, "parent-a")
    page.goto(page.base_url + "/timebank/")
    assert page.inner_text("[data-testid=balance]") == "0 小时"
    entries = page.locator("[data-testid=entries] li")
    assert entries.count() == 2
    latest = entries.first
    assert "爱心超市兑换" in latest.inner_text()
    assert "爱心大米 × 1" in latest.inner_text()
    assert latest.locator("[data-testid=amount]").inner_text() == "-1 小时"
    assert latest.locator("[data-testid=balance-after]").inner_text() == "0 小时"
    assert entries.nth(1).locator("[data-testid=amount]").inner_text() == "+1 小时"
    assert "李*" in entries.nth(1).inner_text() and "李志愿" not in page.content()
    entry_id = latest.get_attribute("data-entry-id")
    page.click("a:has-text('全部流水')")
    page.wait_for_url("**/timebank/statement/")
    row = page.locator(f"[data-testid=entries] li[data-entry-id='{entry_id}']")
    assert "爱心超市兑换" in row.inner_text()
    assert row.locator("[data-testid=amount]").inner_text() == "-1 小时"

    # Every minute is accounted for.
    assert ledger.verify().ok
    out = StringIO()
    call_command("ledger", "verify", stdout=out)
    assert out.getvalue().strip().splitlines()[-1] == "账本核对通过"
