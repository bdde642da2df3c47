"""The service desk issue's "done when" journeys.

1. A resident reports flyposting with a photo from her phone; the worker accepts it and
   assigns it (to the grid's patrol team); the team acknowledges and resolves it; the resident
   rates it; the public board shows it closed, with no name on it.
2. A second case is returned once by the team, reassigned, then goes overdue and appears
   escalated on the supervisor's overdue board after ``huzhu runperiodic``.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.utils import timezone
from PIL import Image

from huzhu.common.calendar import count_working_days
from huzhu.desk.models import EscalationLevel, Ticket, TicketPhoto, TicketStatus
from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from tests.browser.conftest import login
from tests.desk.factories import patrol_team, team_leader
from tests.factories import City, UserFactory, grant, make_org
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def sign_in(page, username: str, viewport: dict[str, int]) -> None:
    page.context.clear_cookies()
    page.set_viewport_size(viewport)
    login(page, username)


def photo_with_location() -> bytes:
    """A 2400×1800 JPEG that carries GPS and camera data, as a phone would send."""
    image = Image.new("RGB", (2400, 1800), (30, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x8825] = {1: "N", 2: (36.0, 39.0, 36.0), 3: "E", 4: (117.0, 1.0, 12.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def act(page, card: str, fields: dict[str, str] | None = None) -> None:
    """Fill and send one action card of the worker's ticket page."""
    form = page.locator(f"[data-testid=form-{card}]")
    for selector, value in (fields or {}).items():
        element = form.locator(selector)
        if element.evaluate("e => e.tagName") == "SELECT":
            element.select_option(value)
        else:
            element.fill(value)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()


def test_flyposting_report_is_resolved_rated_and_shown_closed_without_a_name(page):
    city = City()
    resident = make_resident(city.grid_a, "李秀英", username="li-xiuying")
    team = patrol_team(city.community_a, city.grid_a)
    team_leader(team, "patrol-a")

    # The resident reports from her phone, with a photo.
    sign_in(page, "li-xiuying", PHONE)
    page.goto(f"{page.base_url}/desk/report/")
    page.locator("label[data-code=civic-flyposting]").click()
    page.fill("textarea[name=description]", "3号楼单元门口贴满了开锁小广告")
    page.fill("input[name=address]", "甲社区3号楼1单元门口")
    page.set_input_files(
        "input[name=photos]",
        files=[{"name": "door.jpg", "mimeType": "image/jpeg", "buffer": photo_with_location()}],
    )
    page.get_by_role("button", name="提交反映").click()
    page.locator("[data-testid=ticket-number]").wait_for()
    ticket = Ticket.objects.get(reporter=resident)
    assert (ticket.status, ticket.matter_type.code, ticket.channel) == (
        TicketStatus.REGISTERED,
        "civic-flyposting",
        "mobile",
    )
    photo = TicketPhoto.objects.get(ticket=ticket)
    with Image.open(photo.image.path) as stored:
        assert max(stored.size) == 1600
        assert not stored.getexif()  # no location, no device

    # The worker accepts it and assigns it to the grid's patrol team (the default).
    sign_in(page, "worker-a", DESKTOP)
    page.goto(f"{page.base_url}/desk/tickets/{ticket.pk}/")
    act(page, "accept")
    assert "已受理" in page.locator("[data-testid=ticket-status]").inner_text()
    act(page, "assign", {"select[name=team]": str(team.pk)})
    assert team.name in page.locator("[data-testid=team]").inner_text()

    # The team acknowledges and reports the result.
    sign_in(page, "patrol-a", DESKTOP)
    page.goto(f"{page.base_url}/desk/tickets/{ticket.pk}/")
    act(page, "acknowledge")
    act(page, "resolve", {"[name=result]": "已清除门口小广告，并在单元门张贴提示"})
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.RESOLVED

    # The resident sees the result on her phone and rates it.
    sign_in(page, "li-xiuying", PHONE)
    page.goto(f"{page.base_url}/desk/mine/{ticket.pk}/")
    assert "已清除门口小广告" in page.locator("[data-testid=result]").inner_text()
    rate = page.locator("[data-testid=rate-form]")
    rate.locator("label[for=hz-satisfied-yes]").click()
    rate.locator("label[for=hz-rating-5]").click()
    rate.locator("textarea[name=comment]").fill("处理很及时")
    rate.get_by_role("button", name="提交评价").click()
    page.locator("[data-testid=rating]").wait_for()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.rating, ticket.closed_on_time) == (
        TicketStatus.CLOSED,
        5,
        True,
    )

    # Anyone sees it closed on the public board, with no name, phone or comment on it.
    page.context.clear_cookies()
    page.goto(f"{page.base_url}/desk/public/reports/")
    card = page.locator("[data-testid=board] > *").filter(has_text=ticket.number)
    assert card.locator("[data-testid=public-status]").get_attribute("data-status") == "closed"
    board = page.locator("main").inner_text()
    assert "乱贴小广告" in board and "已清除门口小广告" in board
    for private in ("李秀英", "李**", resident.phone_masked, "li-xiuying", "处理很及时"):
        assert private not in board
    page.goto(f"{page.base_url}/desk/public/reports/{ticket.pk}/")
    assert "李秀英" not in page.content()


def _due_overdue_by(working_days: int) -> dt.date:
    """The latest deadline that lies ``working_days`` working days before today."""
    today = timezone.localdate()
    day = today
    while count_working_days(day, today)[0] < working_days:
        day -= dt.timedelta(days=1)
    return day


def test_a_returned_case_goes_overdue_and_is_escalated(page):
    city = City()
    team = patrol_team(city.community_a, city.grid_a)
    team_leader(team, "patrol-a")
    other = make_org(OrgKind.TEAM, "甲社区物业协调组", team.parent)
    team_leader(other, "property-a")
    supervisor = UserFactory(username="street-supervisor")
    grant(supervisor, city.street, Role.SUPERVISOR)

    # A phone call is registered at the desk, accepted and assigned to the wrong team.
    sign_in(page, "worker-a", DESKTOP)
    page.goto(f"{page.base_url}/desk/intake/")
    page.locator("input[name=channel][value=phone]").check()
    page.locator("select[name=place]").select_option(str(city.grid_a.pk))
    page.locator("select[name=matter_type]").select_option(label="楼道堆物")
    page.fill("textarea[name=description]", "5号楼楼道堆满纸箱，影响通行")
    page.fill("input[name=address]", "甲社区5号楼2单元")
    page.fill("input[name=contact_name]", "刘先生")
    page.fill("input[name=contact_phone]", "13800138000")
    page.locator("form[data-testid=intake-form] button[type=submit]").click()
    page.locator("[data-testid=ticket-status]").wait_for()
    ticket = Ticket.objects.get(description__startswith="5号楼楼道")
    act(page, "accept")
    act(page, "assign", {"select[name=team]": str(other.pk)})

    # That team returns it once, with a reason.
    sign_in(page, "property-a", DESKTOP)
    page.goto(f"{page.base_url}/desk/tickets/{ticket.pk}/")
    act(page, "return", {"[name=reason]": "楼道堆物归巡查队处理"})
    ticket.refresh_from_db()
    assert (ticket.status, ticket.return_count) == (TicketStatus.RETURNED, 1)

    # The receiver reassigns it to the patrol team, which acknowledges it — and then lets
    # the deadline pass.
    sign_in(page, "worker-a", DESKTOP)
    page.goto(f"{page.base_url}/desk/tickets/{ticket.pk}/")
    history = page.locator("[data-testid=history]").inner_text()
    assert "楼道堆物归巡查队处理" in history
    act(page, "assign", {"select[name=team]": str(team.pk)})
    sign_in(page, "patrol-a", DESKTOP)
    page.goto(f"{page.base_url}/desk/tickets/{ticket.pk}/")
    act(page, "acknowledge")
    ticket.refresh_from_db()
    assert ticket.status == TicketStatus.IN_PROGRESS

    # Time passes: the deadline now lies one working day back, and the periodic run escalates.
    Ticket.objects.filter(pk=ticket.pk).update(due_date=_due_overdue_by(1))
    call_command("runperiodic", "--only", "desk.escalate")
    ticket.refresh_from_db()
    assert ticket.escalation_level == EscalationLevel.STREET

    # The street's supervisor sees it on the overdue board, escalated.
    sign_in(page, "street-supervisor", DESKTOP)
    page.goto(f"{page.base_url}/desk/overdue/")
    row = page.locator("tr").filter(has_text=ticket.number)
    assert "街道督办" in row.inner_text()

    # Still not done three working days past the deadline: the district is told.
    Ticket.objects.filter(pk=ticket.pk).update(due_date=_due_overdue_by(3))
    call_command("runperiodic", "--only", "desk.escalate")
    ticket.refresh_from_db()
    assert ticket.escalation_level == EscalationLevel.DISTRICT
    page.reload()
    assert "区级督办" in page.locator("tr").filter(has_text=ticket.number).inner_text()
