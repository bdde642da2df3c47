"""The ``desk`` demo step: patrol teams and the ``patrol`` login, published contacts, a year
of tickets in every state and channel run through the real services (dated by the story,
numbered by its years), photos without EXIF, notices and suggestions, and what the demo
logins find."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from PIL import Image

from huzhu.common.calendar import count_working_days
from huzhu.common.models import AuditEntry
from huzhu.common.models import Counter as Sequence
from huzhu.demo.seed import STEPS, reset_demo, seed_demo
from huzhu.desk.models import (
    AppKey,
    Channel,
    CloseReason,
    EscalationLevel,
    Notice,
    NoticeKind,
    NoticeStatus,
    PatrolTeam,
    PublicContact,
    Suggestion,
    SuggestionStatus,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
)
from huzhu.desk.selectors import access_for, my_tickets, overdue_list, ticket_list
from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person

User = get_user_model()
PASSWORD = "demo-pass-123"
RESIDENTS = 600


@pytest.fixture
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def demo(db, media):
    return seed_demo(password=PASSWORD, residents=RESIDENTS, progress=False)


def _user(username: str):
    return User.objects.get(username=username)


def test_the_steps_are_registered_in_order():
    from huzhu.demo.seed import _load_plugin_steps

    _load_plugin_steps()  # what seeding does first (a worker may not have seeded yet)
    names = [s.name for s in STEPS]
    assert names.index("desk") == names.index("needs") + 1
    assert names.index("desk-logins") == names.index("needs-logins") + 1


def check_patrol_teams_serve_every_grid_and_the_patrol_login(demo) -> None:
    communities = Org.objects.filter(kind=OrgKind.COMMUNITY)
    assert demo.counts["desk.patrol_teams"] == communities.count() == 20
    kinds = ("文明劝导服务队", "平安巡逻服务队", "环境保护服务队")
    for community in communities:
        teams = list(Org.objects.filter(kind=OrgKind.TEAM, parent__parent=community).order_by("pk"))
        fitting = [t for kind in kinds for t in teams if t.name.endswith(kind)]
        team = (fitting or teams)[0]
        grids = set(Org.objects.filter(parent=community, kind=OrgKind.GRID))
        rows = PatrolTeam.objects.filter(grid__parent=community)
        assert {row.grid for row in rows} == grids
        assert {row.team_id for row in rows} == {team.pk}, community.name
    patrol = _user("patrol")
    grant = RoleGrant.objects.get(user=patrol)
    community_a = Org.objects.get(name="历山路社区")
    assert grant.role == Role.TEAM_LEADER
    assert grant.org == PatrolTeam.objects.filter(grid__parent=community_a).first().team
    assert patrol.check_password(PASSWORD) and patrol.is_active
    assert patrol.first_name == "马建军"
    # Named in the step's summary, not in the seed's fixed table of logins.
    assert "patrol" not in {a.username for a in demo.accounts}


def check_contacts_and_phones(demo) -> None:
    grids = Org.objects.filter(kind=OrgKind.GRID)
    communities = Org.objects.filter(kind=OrgKind.COMMUNITY)
    contacts = PublicContact.objects.all()
    assert demo.counts["desk.contacts"] == contacts.count() == grids.count() + communities.count()
    assert Counter(contacts.values_list("role", flat=True)) == {
        "网格员": grids.count(),
        "社区民警": communities.count(),
    }
    assert {c.org_id for c in contacts.filter(role="网格员")} == set(
        grids.values_list("pk", flat=True)
    )
    for contact in contacts:
        assert re.fullmatch(r"0531-8\d{7}", contact.phone), contact.phone
        assert 2 <= len(contact.name) <= 4  # 欧阳… has a two-character surname
    for community in communities:
        assert community.service_phone and community.supervision_phone


def check_tickets_in_every_state_and_channel(demo) -> None:
    tickets = Ticket.objects.all()
    assert demo.counts["desk.tickets"] == tickets.count() >= 40
    by_status = Counter(tickets.values_list("status", flat=True))
    assert set(by_status) == set(TicketStatus.values)
    for status, n in by_status.items():
        assert demo.counts[f"desk.tickets.{status}"] == n
    assert set(tickets.values_list("channel", flat=True)) == set(Channel.values)
    closed = tickets.filter(status=TicketStatus.CLOSED)
    reasons = set(closed.values_list("close_reason", flat=True))
    assert reasons == set(CloseReason.values) - {CloseReason.INVALID}
    assert set(closed.values_list("closed_on_time", flat=True)) == {True, False}
    assert tickets.filter(reopen_count__gt=0).exists()
    assert tickets.filter(return_count__gt=0).exists()
    assert tickets.filter(extension_days__gt=0).exists()
    assert tickets.filter(extension_requested_days__gt=0, status=TicketStatus.IN_PROGRESS)
    assert closed.filter(rating__isnull=True, close_reason=CloseReason.RESOLVED).exists()
    assert set(closed.exclude(rating=None).values_list("rating", flat=True)) <= {3, 4, 5}
    # Civic reports go to the patrol team of their grid; the others to the grid or a team.
    for ticket in tickets.filter(team__isnull=False, return_count=0).select_related(
        "team", "matter_type", "grid"
    ):
        if ticket.matter_type.is_civic:
            assert ticket.team == PatrolTeam.objects.get(grid=ticket.grid).team
        else:
            assert ticket.team == ticket.grid
    open311 = tickets.filter(channel=Channel.OPEN311)
    key = AppKey.objects.get()
    assert key.name == "泉城随手拍小程序" and key.org.name == "解放路街道"
    assert all(t.app_key_id == key.pk and t.reporter_id is None for t in open311)
    walk_ins = tickets.filter(channel__in=(Channel.WALK_IN, Channel.PHONE))
    assert all(t.receiver_id for t in walk_ins)
    assert walk_ins.filter(reporter__isnull=False).exists()
    assert walk_ins.filter(reporter__isnull=True).exclude(contact_phone_masked="").exists()


def check_repeated_reports_are_linked_to_an_earlier_one(demo) -> None:
    duplicates = Ticket.objects.filter(duplicate_of__isnull=False).select_related("duplicate_of")
    assert duplicates.exists()
    for ticket in duplicates:
        original = ticket.duplicate_of
        assert (ticket.org_id, ticket.matter_type_id) == (original.org_id, original.matter_type_id)
        assert original.created_at < ticket.created_at
        assert ticket.close_reason == CloseReason.DUPLICATE and ticket.closed_on_time is True
        # Named by the original's number as renumbered by the story.
        text = f"与工单 {original.number} 反映的是同一事项，并案办理。"
        assert ticket.result == text
        assert TicketEvent.objects.get(ticket=ticket, verb="link").note == text


def check_the_story_dates_everything(demo) -> None:
    now = timezone.now()
    today = timezone.localdate()
    year_ago = now - dt.timedelta(days=367)
    events = TicketEvent.objects.order_by("ticket_id", "pk").values_list(
        "ticket_id", "created_at", "verb"
    )
    by_ticket: dict[int, list[tuple[dt.datetime, str]]] = {}
    for ticket_id, created_at, verb in events:
        by_ticket.setdefault(ticket_id, []).append((created_at, verb))
    for ticket in Ticket.objects.all():
        assert year_ago < ticket.created_at < now
        stamps = [ticket.created_at, ticket.accepted_at, ticket.assigned_at, ticket.resolved_at]
        known = [s for s in stamps if s is not None]
        assert known == sorted(known), ticket.number
        if ticket.closed_at:
            assert ticket.closed_at >= (ticket.resolved_at or ticket.created_at)
            assert ticket.closed_at < now
        times = [t for t, _verb in by_ticket[ticket.pk]]
        assert times == sorted(times) and times[0] == ticket.created_at
        assert by_ticket[ticket.pk][0][1] == "create"
        assert ticket.updated_at >= times[-1] or by_ticket[ticket.pk][-1][1] == "escalate"
        if ticket.accepted_at and ticket.due_date:
            assert ticket.due_date > timezone.localdate(ticket.accepted_at)
        if ticket.status == TicketStatus.CLOSED and ticket.close_reason != CloseReason.DUPLICATE:
            done = timezone.localdate(ticket.resolved_at or ticket.closed_at)
            assert ticket.closed_on_time == (ticket.due_date is None or done <= ticket.due_date)
        running = ticket.status in (TicketStatus.IN_PROGRESS, TicketStatus.ASSIGNED)
        if running and ticket.due_date and ticket.due_date >= today:
            assert ticket.escalation_level == EscalationLevel.NONE
    for photo in TicketPhoto.objects.select_related("ticket"):
        assert photo.created_at >= photo.ticket.created_at


def check_numbers_follow_the_story_years(demo) -> None:
    tickets = list(Ticket.objects.order_by("created_at", "pk"))
    per_year: Counter = Counter()
    for ticket in tickets:
        year = timezone.localtime(ticket.created_at).year
        per_year[year] += 1
        assert ticket.number == f"GD{year}{per_year[year]:06d}"
    for year, n in per_year.items():
        assert Sequence.objects.get(name=f"desk.ticket.{year}").value == n
    for suggestion in Suggestion.objects.all():
        year = timezone.localtime(suggestion.created_at).year
        assert re.fullmatch(rf"JY{year}\d{{6}}", suggestion.number)


def check_escalations(demo) -> None:
    """Overdue tickets stand at the level their working days overdue call for."""
    today = timezone.localdate()
    supervisor = _user("supervisor")
    overdue = list(overdue_list(scope=Scope.for_user(supervisor), today=today))
    levels = {t.escalation_level for t in overdue}
    assert {EscalationLevel.STREET, EscalationLevel.DISTRICT} <= levels
    for ticket in overdue:
        days, _guessed = count_working_days(ticket.due_date, today)
        expected = (
            EscalationLevel.NONE
            if days == 0
            else EscalationLevel.STREET
            if days <= settings.HUZHU_DESK_DISTRICT_AFTER_DAYS
            else EscalationLevel.DISTRICT
        )
        assert ticket.escalation_level == expected, ticket.number
        if days == 0:
            continue
        assert ticket.escalated_at is not None and ticket.escalated_at < timezone.now()
        notes = list(
            TicketEvent.objects.filter(ticket=ticket, verb="escalate").values_list(
                "note", flat=True
            )
        )
        assert len(notes) in (1, 2) and notes[-1].endswith(ticket.get_escalation_level_display())
    assert (
        demo.counts["desk.tickets.escalated"]
        == Ticket.objects.filter(escalation_level__gt=0).count()
    )


def check_what_the_demo_logins_find(demo) -> None:
    resident = _user("resident")
    mine = list(my_tickets(user=resident).order_by("created_at"))
    assert [t.status for t in mine] == [
        TicketStatus.CLOSED,
        TicketStatus.RESOLVED,
        TicketStatus.IN_PROGRESS,
    ]
    closed, waiting, _running = mine
    assert (closed.rating, closed.rating_comment) == (5, "楼道清理得很干净，谢谢！")
    assert waiting.rating is None and waiting.result
    assert access_for(user=resident, scope=Scope.for_user(resident), ticket=waiting).is_reporter
    assert all(t.reporter_id == resident.person.pk for t in mine)
    assert TicketPhoto.objects.filter(ticket__in=mine[:2], kind="report").count() == 2
    assert Suggestion.objects.get(author=resident.person).status == SuggestionStatus.ADOPTED

    worker = _user("worker-a")
    scope = Scope.for_user(worker)
    community_a = Org.objects.get(name="历山路社区")

    def listed(**filters) -> list[Ticket]:
        return list(ticket_list(scope=scope, user=worker, **filters))

    assert len(listed(status=TicketStatus.REGISTERED)) >= 3
    assert all(t.org_id == community_a.pk for t in listed(status=TicketStatus.REGISTERED))
    returned = listed(status=TicketStatus.RETURNED)
    assert returned and all(t.receiver == worker for t in returned)
    assert [t for t in listed(status=TicketStatus.IN_PROGRESS) if t.extension_requested_days]
    assert len(listed(status=TicketStatus.RESOLVED)) >= 2

    patrol = _user("patrol")
    queue = ticket_list(scope=Scope.for_user(patrol), user=patrol, team_only=True)
    assert queue.filter(status=TicketStatus.ASSIGNED).count() >= 2
    assert queue.filter(status=TicketStatus.IN_PROGRESS).exists()


def check_the_transient_logins_are_gone_from_sight(demo) -> None:
    assert not Person.objects.filter(user__username__startswith="desk-demo-").exists()
    transient = User.objects.filter(username__startswith="desk-demo-")
    assert transient.exists() and not transient.filter(is_active=True).exists()
    assert not transient.exclude(password__startswith="!").exists()
    labels = set(TicketEvent.objects.values_list("actor_label", flat=True))
    assert not [label for label in labels if label.startswith("desk-demo-")]
    assert "worker-a" in labels and "patrol" in labels
    assert not AuditEntry.objects.filter(verb__startswith="desk.").exists()


def check_photos_are_clean_and_mostly_published(demo, media) -> None:
    photos = TicketPhoto.objects.all()
    assert demo.counts["desk.photos"] == photos.count() > 5
    assert photos.filter(is_public=True).exists()
    for photo in photos:
        path = Path(photo.image.path)
        assert path.is_relative_to(media)
        with Image.open(path) as image:
            assert image.format == "JPEG" and "exif" not in image.info
            assert max(image.size) <= 1600


def check_boards_and_suggestions(demo) -> None:
    notices = Notice.objects.all()
    assert demo.counts["desk.notices"] == notices.count()
    assert set(notices.values_list("kind", flat=True)) == set(NoticeKind.values)
    assert set(notices.values_list("status", flat=True)) == set(NoticeStatus.values)
    for notice in notices.filter(kind=NoticeKind.EXEMPLARY):
        assert notice.volunteer_id and notice.consent_at and notice.consent_note == "本人书面同意"
        assert notice.title.startswith(notice.volunteer.person.name)
    for notice in notices.filter(kind=NoticeKind.UNCIVIL):
        assert notice.place
    for notice in notices.filter(status=NoticeStatus.PUBLISHED):
        assert notice.published_at >= notice.created_at
    suggestions = Suggestion.objects.all()
    assert demo.counts["desk.suggestions"] == suggestions.count()
    assert set(suggestions.values_list("status", flat=True)) == set(SuggestionStatus.values)
    for suggestion in suggestions.exclude(status=SuggestionStatus.RECEIVED):
        assert suggestion.reply and suggestion.replied_at > suggestion.created_at


def test_patrol_teams_contacts_and_phones(demo):
    check_patrol_teams_serve_every_grid_and_the_patrol_login(demo)
    check_contacts_and_phones(demo)


def test_a_year_of_tickets(demo):
    check_tickets_in_every_state_and_channel(demo)
    check_repeated_reports_are_linked_to_an_earlier_one(demo)
    check_the_story_dates_everything(demo)
    check_numbers_follow_the_story_years(demo)
    check_escalations(demo)


def test_logins_photos_boards_and_suggestions(demo, media):
    check_what_the_demo_logins_find(demo)
    check_the_transient_logins_are_gone_from_sight(demo)
    check_photos_are_clean_and_mostly_published(demo, media)
    check_boards_and_suggestions(demo)


def test_reset_removes_the_desk_and_its_files(demo, media):
    assert any(p.is_file() for p in media.rglob("*"))
    assert reset_demo() is True
    for model in (Ticket, TicketEvent, TicketPhoto, Notice, Suggestion, PublicContact):
        assert not model.objects.exists(), model
    assert not PatrolTeam.objects.exists() and not AppKey.objects.exists()
    assert not User.objects.filter(username__startswith="desk-demo-").exists()
    assert not User.objects.filter(username="patrol").exists()
    assert not [p for p in media.rglob("*") if p.is_file()]
    out = StringIO()
    again = seed_demo(password=PASSWORD, residents=RESIDENTS, progress=False, stdout=out)
    assert again.counts["desk.tickets"] == demo.counts["desk.tickets"]
    lines = out.getvalue().splitlines()
    assert f"服务台：工单 {again.counts['desk.tickets']} 件" in next(
        line for line in lines if line.startswith("服务台：")
    )
    team = PatrolTeam.objects.filter(grid__parent__name="历山路社区").first().team
    assert f"巡查队长登录：patrol（马建军，{team.name}），密码同其他演示账号" in lines
