"""The activities issue's "done when" journey: an organiser publishes an activity with one
shift in the web UI; two volunteers sign up on their phones (one gets the place, one the
waiting list); the first scans the organiser's QR code to check in and later to check out;
the organiser confirms the shift; the volunteer sees the hours, applies for a certificate,
the organiser issues it, the volunteer downloads the PDF, and the public verification page
accepts its number and code and rejects a forged number."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from huzhu.activities.models import (
    Activity,
    ActivityStatus,
    Certificate,
    CertificateStatus,
    RecordStatus,
    Signup,
    SignupStatus,
)
from tests.activities.factories import make_volunteer
from tests.browser.conftest import login

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # what a datetime-local input takes, in local time


def sign_in(page, username: str, viewport: dict[str, int] = PHONE) -> None:
    page.context.clear_cookies()
    page.set_viewport_size(viewport)
    login(page, username)


def as_organiser(page) -> None:
    sign_in(page, "worker-a", DESKTOP)


def local_input(moment: dt.datetime) -> str:
    return timezone.localtime(moment).strftime(LOCAL_MINUTE)


def open_board(page, activity: Activity, shift_id: int) -> None:
    page.goto(f"{page.base_url}/activities/manage/{activity.pk}/")
    page.click(f"tr[data-shift-id='{shift_id}'] a:has-text('看板')")
    page.wait_for_url(f"**/activities/manage/shifts/{shift_id}/")


def read_scan_url(page, activity: Activity, shift_id: int) -> str:
    """The organiser opens the QR screen from the board; the address the QR code encodes is
    read from the page (token and caption in one go, as the code is re-polled)."""
    open_board(page, activity, shift_id)
    with page.expect_popup() as popup_info:
        page.click("a:has-text('签到二维码')")
    screen = popup_info.value
    screen.wait_for_url(f"**/activities/manage/shifts/{shift_id}/qr/")
    screen.wait_for_selector("[data-testid=qr-url]")
    token, url = screen.eval_on_selector(
        "[data-testid=qr-code]",
        "el => [el.dataset.token, el.querySelector('[data-testid=qr-url]').textContent.trim()]",
    )
    screen.close()
    parts = urlsplit(url)
    assert parts.path == "/activities/scan/"
    assert parse_qs(parts.query) == {"s": [str(shift_id)], "t": [token]}
    return f"{page.base_url}{parts.path}?{parts.query}"


@pytest.mark.django_db(transaction=True)
def test_volunteers_sign_up_check_in_get_hours_and_a_verified_certificate(page, city):
    first = make_volunteer(city.grid_a, "李志愿", username="vol-a")
    second = make_volunteer(city.grid_a, "王候补", username="vol-b")
    today = timezone.localdate()

    # The organiser publishes an activity from 活动管理 → 发布活动.
    as_organiser(page)
    page.click("nav .dropdown-toggle:has-text('活动')")
    page.click("nav .dropdown-item:has-text('活动管理')")
    page.wait_for_url("**/activities/manage/")
    page.click("[data-testid=create-activity]")
    page.wait_for_url("**/activities/manage/new/")
    form = page.locator("[data-testid=activity-form]")
    form.locator("select[name=org]").select_option(label="甲社区")
    form.locator("select[name=category]").select_option(label="社区服务")
    form.locator("input[name=title]").fill("社区助老服务")
    form.locator("textarea[name=description]").fill("陪伴独居老人，帮忙打扫卫生。")
    form.locator("input[name=starts_on]").fill((today - dt.timedelta(days=1)).isoformat())
    form.locator("input[name=ends_on]").fill((today + dt.timedelta(days=1)).isoformat())
    form.locator("input[name=address]").fill("甲社区活动室")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".alert:has-text('已创建活动“社区助老服务”，请添加班次后发布。')")
    activity = Activity.objects.get(title="社区助老服务")
    assert page.url == f"{page.base_url}/activities/manage/{activity.pk}/"

    # One shift starting in five minutes (local time), three hours, one place; then publish.
    start = timezone.now().replace(second=0, microsecond=0) + dt.timedelta(minutes=5)
    shift_form = page.locator("[data-testid=shift-form]")
    shift_form.locator("input[name=starts_at]").fill(local_input(start))
    shift_form.locator("input[name=ends_at]").fill(local_input(start + dt.timedelta(hours=3)))
    shift_form.locator("input[name=capacity]").fill("1")
    shift_form.locator("button[type=submit]").click()
    page.wait_for_selector(".alert:has-text('已添加班次')")
    page.click("[data-testid=status-recruiting]")
    page.wait_for_selector("[data-testid=activity-status]:has-text('招募中')")
    activity.refresh_from_db()
    assert activity.status == ActivityStatus.RECRUITING
    shift = activity.shifts.get()
    assert (shift.starts_at, shift.ends_at, shift.capacity) == (
        start,
        start + dt.timedelta(hours=3),
        1,
    )
    assert page.locator(f"tr[data-shift-id='{shift.pk}']").count() == 1

    # Two volunteers sign up on their phones: the first gets the place, the second waits.
    for username, expected in (("vol-a", "已报名："), ("vol-b", "名额已满，您已进入候补：")):
        sign_in(page, username)
        page.goto(page.base_url + "/activities/")
        page.click("text=社区助老服务")
        page.wait_for_url(f"**/activities/{activity.pk}/")
        page.click(f"#shift-{shift.pk} button:has-text('报名')")
        page.wait_for_selector(f".alert:has-text('{expected}')")
    statuses = dict(Signup.objects.values_list("volunteer_id", "status"))
    assert statuses == {first.pk: SignupStatus.CONFIRMED, second.pk: SignupStatus.WAITLISTED}

    # The organiser puts the QR code up; the first volunteer scans it and checks in.
    as_organiser(page)
    url = read_scan_url(page, activity, shift.pk)
    sign_in(page, "vol-a")
    page.goto(url)
    page.click("[data-testid=scan-button]:has-text('签到')")
    page.wait_for_selector(".alert:has-text('签到成功')")
    mine = Signup.objects.get(volunteer=first)
    assert mine.checked_in_at is not None and mine.check_in_method == "qr"

    # A test cannot wait an hour, so the organiser moves the shift back 70 minutes
    # (修改班次) and corrects the check-in to its start (更正时间).
    moved = timezone.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=70)
    as_organiser(page)
    open_board(page, activity, shift.pk)
    page.click("a:has-text('修改班次')")
    page.wait_for_url(f"**/activities/manage/shifts/{shift.pk}/edit/")
    shift_form = page.locator("[data-testid=shift-form]")
    shift_form.locator("input[name=starts_at]").fill(local_input(moved))
    shift_form.locator("input[name=ends_at]").fill(local_input(moved + dt.timedelta(hours=3)))
    shift_form.locator("button[type=submit]").click()
    page.wait_for_selector(".alert:has-text('已保存班次。')")
    page.click(f"tr[data-signup-id='{mine.pk}'] a:has-text('更正时间')")
    page.wait_for_url(f"**/activities/manage/signups/{mine.pk}/correct/")
    correct_form = page.locator("[data-testid=correct-form]")
    correct_form.locator("input[name=checked_in_at]").fill(local_input(moved))
    correct_form.locator("input[name=reason]").fill("按实际到岗时间更正")
    correct_form.locator("button[type=submit]").click()
    page.wait_for_selector(".alert:has-text('已更正 李志愿 的签到时间。')")
    shift.refresh_from_db()
    mine.refresh_from_db()
    assert (shift.starts_at, shift.ends_at) == (moved, moved + dt.timedelta(hours=3))
    assert (mine.checked_in_at, mine.checked_out_at) == (moved, None)

    # Service over: a fresh QR code (the token has rotated), and the same one big button
    # now says 签退.
    url = read_scan_url(page, activity, shift.pk)
    sign_in(page, "vol-a")
    page.goto(url)
    page.click("[data-testid=scan-button]:has-text('签退')")
    page.wait_for_selector(".alert:has-text('签退成功')")
    page.wait_for_selector("[data-testid=scan-done]")

    # The organiser confirms the shift's hours on the board.
    as_organiser(page)
    open_board(page, activity, shift.pk)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=shift-confirm]")
    page.wait_for_selector(".alert:has-text('已确认 1 条服务记录（其中新生成 1 条）。')")
    record = first.service_records.get()
    assert (record.minutes, record.status) == (60, RecordStatus.CONFIRMED)

    # My hours shows them.
    sign_in(page, "vol-a")
    page.goto(page.base_url + "/activities/hours/")
    assert page.inner_text("[data-testid=total-hours]") == "1"
    row = page.locator("[data-testid=records] li").first
    assert "社区助老服务" in row.inner_text() and "已确认" in row.inner_text()

    # The volunteer applies for a certificate.
    served_on = timezone.localtime(shift.starts_at).date()
    page.goto(page.base_url + "/activities/certificates/")
    page.click("#hz-apply summary")
    page.fill("input[name=period_from]", served_on.isoformat())
    page.fill("input[name=period_to]", today.isoformat())
    page.fill("input[name=purpose]", "升学")
    page.click("button:has-text('提交申请')")
    page.wait_for_selector(".alert:has-text('已向“甲社区”申请志愿服务证明')")
    assert page.inner_text("[data-testid=certificate-status]") == "已申请"

    # The organiser opens the application from 志愿服务证明 and issues it.
    applied = Certificate.objects.get()
    as_organiser(page)
    page.click("nav .dropdown-toggle:has-text('活动')")
    page.click("nav .dropdown-item:has-text('志愿服务证明')")
    page.wait_for_url("**/activities/manage/certificates/")
    page.click(f"[data-testid=certificates-todo] tr[data-certificate-id='{applied.pk}'] a")
    page.wait_for_url(f"**/activities/manage/certificates/{applied.pk}/")
    page.click("[data-testid=certificate-issue]")
    page.wait_for_selector(".alert:has-text('已开具志愿服务证明，志愿者会收到通知。')")
    assert page.inner_text("[data-testid=certificate-status]") == "已开具"
    certificate = Certificate.objects.get()
    assert certificate.status == CertificateStatus.ISSUED
    assert page.inner_text("[data-testid=certificate-number]") == certificate.number

    # The volunteer downloads the PDF.
    sign_in(page, "vol-a")
    page.goto(page.base_url + "/activities/certificates/")
    assert page.inner_text("[data-testid=certificate-status]") == "已开具"
    with page.expect_download() as download_info:
        page.click("[data-testid=certificate-download]")
    download = download_info.value
    assert download.suggested_filename == f"志愿服务证明-{certificate.number}.pdf"
    assert Path(download.path()).read_bytes().startswith(b"%PDF")

    # Anyone can verify it (signed out): the real number and code pass, a forged one fails.
    page.context.clear_cookies()
    page.goto(page.base_url + "/activities/verify/")
    page.fill("input[name=no]", certificate.number)
    page.fill("input[name=code]", certificate.snapshot["verify_code"])
    page.click("button:has-text('查验')")
    page.wait_for_selector("[data-testid=verify-valid]")
    assert page.inner_text("[data-testid=verify-name]") == "李**"
    assert page.inner_text("[data-testid=verify-hours]") == "1 小时"
    assert "李志愿" not in page.content()

    forged = certificate.number[:-1] + ("1" if certificate.number[-1] != "1" else "2")
    page.fill("input[name=no]", forged)
    page.click("button:has-text('查验')")
    page.wait_for_selector("[data-testid=verify-not-found]")
    assert "未找到该证明：编号或验证码不正确，请核对" in page.content()
    assert page.locator("[data-testid=verify-valid]").count() == 0
