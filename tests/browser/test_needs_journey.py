"""The needs issue's "done when" journey: a worker enters an elderly resident's need at the
desk (代发), the matching screen ranks the nearest suitable volunteer first, the worker invites
her and she accepts on her phone; volunteer and resident talk in the need's thread (a phone
number typed there is hidden); the volunteer marks the job done, the resident confirms and
rates it; the time credits move from the resident to the volunteer, and the service appears
in the volunteer's archive."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from huzhu.activities.models import RecordSource, RecordStatus, ServiceRecord
from huzhu.needs.models import Need, NeedStatus
from huzhu.timebank import ledger
from huzhu.timebank.models import Account
from tests.browser.conftest import login
from tests.factories import City
from tests.needs.factories import give_credits, helper_volunteer, make_resident, set_place

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def sign_in(page, username: str, viewport: dict[str, int]) -> None:
    page.context.clear_cookies()
    page.set_viewport_size(viewport)
    login(page, username)


def open_need(page, need: Need) -> None:
    page.goto(f"{page.base_url}/needs/{need.pk}/")


def balance_of(person) -> int:
    return Account.objects.get(person=person).balance


def test_a_worker_entered_need_is_matched_done_confirmed_paid_and_archived(page):
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    set_place(city.grid_a, 36.661, 117.021)
    grandma = make_resident(city.grid_a, "王秀兰", username="grandma")
    give_credits(grandma, 300)
    near = helper_volunteer(city.grid_a, "李晓梅", "helper-near", place=(36.662, 117.022))
    far = helper_volunteer(city.grid_a, "赵建国", "helper-far", place=(36.690, 117.055))
    helper_volunteer(city.grid_a, "钱师傅", "barber", categories=("理发",))

    # The worker enters the need for her at the desk.
    sign_in(page, "worker-a", DESKTOP)
    page.goto(f"{page.base_url}/needs/manage/new/")
    page.fill("#hz-requester-q", "王秀兰")
    page.get_by_role("button", name="查找").click()
    page.locator("[data-testid=requester-candidates] a").first.click()
    page.fill("textarea[name=description]", "帮我买菜，腿脚不方便下楼")
    page.get_by_text("助餐").first.wait_for()  # the description's categories are suggested
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    page.fill("input[name=day]", tomorrow.isoformat())
    page.fill("input[name=address]", "甲社区 3 号楼 2 单元 501")
    page.fill("input[name=minutes]", "60")
    page.get_by_role("button", name="发布需求").click()
    page.locator("[data-testid=ranked]").wait_for()
    need = Need.objects.get(requester=grandma)
    assert (need.status, need.category.name, need.channel) == (NeedStatus.OPEN, "助餐", "worker")

    # The nearest suitable volunteer ranks first, with her reasons; the barber is not there.
    names = page.locator("[data-testid=candidate-name]").all_inner_texts()
    assert names == ["李晓梅", "赵建国"]
    first = page.locator("[data-testid=ranked] li").first
    assert "发布了“跑腿代办”服务" in first.inner_text()
    first.locator("input[name=volunteer_id]").check()
    page.get_by_role("button", name="邀请所选志愿者").click()
    page.locator("[data-testid=ranked]").or_(
        page.locator("[data-testid=no-candidates]")
    ).first.wait_for()
    assert list(need.invitations.values_list("volunteer_id", flat=True)) == [near.pk]

    # She accepts on her phone and writes to the resident.
    sign_in(page, "helper-near", PHONE)
    page.goto(f"{page.base_url}/needs/invitations/")
    page.get_by_role("button", name="接受").first.click()
    need.refresh_from_db()
    assert (need.status, need.volunteer_id) == (NeedStatus.MATCHED, near.pk)
    open_need(page, need)
    page.fill("#hz-message-body", "王阿姨您好，我明早九点到，有事打我电话 13912345678")
    page.get_by_role("button", name="发送").click()
    page.get_by_text("有事打我电话 [号码已隐藏]").wait_for()

    # The resident reads it on her phone and answers.
    sign_in(page, "grandma", PHONE)
    open_need(page, need)
    page.get_by_text("我明早九点到").wait_for()
    assert "13912345678" not in page.content()
    page.fill("#hz-message-body", "好的，谢谢小李")
    page.get_by_role("button", name="发送").click()
    page.get_by_text("好的，谢谢小李").wait_for()

    # The volunteer does the job and marks it done with the time it took.
    sign_in(page, "helper-near", PHONE)
    open_need(page, need)
    page.get_by_text("好的，谢谢小李").wait_for()
    page.get_by_role("button", name="开始服务").click()
    page.fill("#hz-done-minutes", "75")
    page.get_by_role("button", name="服务完成").click()
    page.locator("[data-testid=volunteer-actions]").or_(
        page.locator("[data-testid=actual]")
    ).first.wait_for()
    need.refresh_from_db()
    assert (need.status, need.actual_minutes) == (NeedStatus.AWAITING, 75)

    # The resident confirms and rates it; the credits move in the same step.
    sign_in(page, "grandma", PHONE)
    open_need(page, need)
    page.get_by_role("button", name="确认完成").click()
    page.locator("[data-testid=rating]").wait_for()
    need.refresh_from_db()
    assert (need.status, need.rating) == (NeedStatus.DONE, 5)
    assert (balance_of(grandma), balance_of(near.person)) == (300 - 75, 75)
    assert not Account.objects.filter(person=far.person, balance__gt=0).exists()
    record = ServiceRecord.objects.get(volunteer=near)
    assert (record.minutes, record.source, record.status) == (
        75,
        RecordSource.NEED,
        RecordStatus.CONFIRMED,
    )
    assert ledger.verify().ok

    # The service is in the volunteer's archive.
    sign_in(page, "worker-a", DESKTOP)
    page.goto(f"{page.base_url}/volunteers/{near.pk}/archive/")
    page.get_by_text(f"需求对接：帮我买菜，腿脚不方便下楼（{need.number}）").wait_for()
