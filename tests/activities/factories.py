"""Activity test data made through the real services."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from huzhu.activities.models import Activity, Recruitment, Shift
from huzhu.activities.services import (
    ActivityInput,
    ShiftInput,
    activity_create,
    activity_set_status,
    shift_add,
)
from huzhu.orgs.models import Org
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import ServiceCategory, Volunteer
from huzhu.volunteers.services import RegistrationInput, volunteer_register
from tests.factories import make_id_number, make_person

SYSTEM = Scope(user_id=0, is_superuser=True)
User = get_user_model()


def make_volunteer(
    org: Org,
    name: str = "李志愿",
    birth: dt.date | None = None,
    username: str | None = None,
) -> Volunteer:
    """A registered (approved) volunteer; with ``username`` also a login linked to them."""
    person = make_person(org, name, id_number=make_id_number(birth=birth or dt.date(1990, 5, 1)))
    volunteer = volunteer_register(
        actor=None, scope=SYSTEM, org=org, data=RegistrationInput(id_number=person.id_number)
    ).volunteer
    if volunteer.status != "registered":
        volunteer.status = "registered"
        volunteer.save(update_fields=["status"])
    if username:
        user = User.objects.create_user(username=username, password="pw-for-tests")
        person.user = user
        person.save(update_fields=["user"])
        volunteer.person = person  # the loaded volunteer sees its login (notifications use it)
    return volunteer


def category(name: str = "社区服务") -> ServiceCategory:
    return ServiceCategory.objects.get(name=name)


def make_activity(
    org: Org,
    title: str = "社区助老活动",
    publish: bool = True,
    shifts: int = 1,
    capacity: int = 10,
    start: dt.datetime | None = None,
    hours: int = 3,
    **fields: object,
) -> Activity:
    """An activity with ``shifts`` daily shifts from ``start`` (default: tomorrow 09:00)."""
    start = start or timezone.localtime().replace(
        hour=9, minute=0, second=0, microsecond=0
    ) + dt.timedelta(days=1)
    last = start + dt.timedelta(days=max(shifts - 1, 0))
    data = ActivityInput(
        title=title,
        category=category(),
        address="甲社区活动室",
        starts_on=min(timezone.localdate(), start.date()),
        ends_on=max(last.date(), timezone.localdate()),
        recruitment=fields.pop("recruitment", Recruitment.OPEN),
        **fields,
    )
    activity = activity_create(actor=None, scope=SYSTEM, org=org, data=data)
    for n in range(shifts):
        begin = start + dt.timedelta(days=n)
        shift_add(
            actor=None,
            scope=SYSTEM,
            activity=activity,
            data=ShiftInput(
                starts_at=begin, ends_at=begin + dt.timedelta(hours=hours), capacity=capacity
            ),
        )
    if publish:
        activity_set_status(actor=None, scope=SYSTEM, activity=activity, status="recruiting")
    return activity


def first_shift(activity: Activity) -> Shift:
    return activity.shifts.order_by("starts_at").first()


# --- helpers for the service tests ---------------------------------------------------------


def activity_input(**overrides: object) -> ActivityInput:
    """A valid ``ActivityInput`` running from today for 30 days; any field overridable."""
    today = timezone.localdate()
    values: dict[str, object] = {
        "title": "社区助老活动",
        "category": category(),
        "address": "甲社区活动室",
        "starts_on": today,
        "ends_on": today + dt.timedelta(days=30),
    }
    values.update(overrides)
    return ActivityInput(**values)  # type: ignore[arg-type]


def make_minor_volunteer(
    org: Org, name: str, birth: dt.date, username: str | None = None
) -> Volunteer:
    """A registered volunteer under 18, registered with the guardian's consent."""
    person = make_person(org, name, id_number=make_id_number(birth=birth))
    volunteer = volunteer_register(
        actor=None,
        scope=SYSTEM,
        org=org,
        data=RegistrationInput(
            id_number=person.id_number, guardian_name="李监护", guardian_consent=True
        ),
    ).volunteer
    if volunteer.status != "registered":
        volunteer.status = "registered"
        volunteer.save(update_fields=["status"])
    if username:
        person.user = User.objects.create_user(username=username, password="pw-for-tests")
        person.save(update_fields=["user"])
    return volunteer


def make_service_team(community: Org, name: str = "甲社区助老服务队") -> Org:
    """A team under the community's corps (the corps is created when missing)."""
    from huzhu.volunteers.services import corps_ensure, team_create

    corps = corps_ensure(actor=None, scope=SYSTEM, community=community)
    return team_create(actor=None, scope=SYSTEM, corps=corps, name=name)


def team_join(team: Org, volunteer: Volunteer) -> None:
    from huzhu.volunteers.services import team_member_add

    team_member_add(actor=None, scope=SYSTEM, team=team, volunteer=volunteer)


def local_at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """An aware datetime at ``hour:minute`` local time on ``day``."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def organiser_check(direction: str, volunteer: Volunteer, shift: Shift, at: dt.datetime):
    """Check a confirmed volunteer in (``direction`` "in") or out by the organiser at ``at``."""
    from huzhu.activities.services import Credential, check_in, check_out

    action = check_in if direction == "in" else check_out
    return action(
        actor=None,
        volunteer_id=volunteer.pk,
        shift_id=shift.pk,
        credential=Credential(method="organiser"),
        scope=SYSTEM,
        now=at,
    )


def attend(
    volunteer: Volunteer, shift: Shift, checked_in_at: dt.datetime, checked_out_at: dt.datetime
):
    """Check a confirmed volunteer in and out by the organiser at the given times."""
    organiser_check("in", volunteer, shift, checked_in_at)
    return organiser_check("out", volunteer, shift, checked_out_at)


def enter_record(
    volunteer: Volunteer,
    org: Org,
    served_on: dt.date,
    minutes: int = 120,
    *,
    content: str = "陪伴独居老人",
    place: str = "甲社区",
    category_name: str = "社区服务",
    confirm: bool = True,
):
    """A service record entered for ``org`` (组织录入), confirmed at once unless told not."""
    from huzhu.activities.record_services import RecordInput, record_enter

    return record_enter(
        actor=None,
        scope=SYSTEM,
        volunteer=volunteer,
        org=org,
        data=RecordInput(
            served_on=served_on,
            minutes=minutes,
            content=content,
            place=place,
            category=category(category_name),
        ),
        confirm=confirm,
    )


def signup_state() -> tuple[list[tuple], list[tuple], int, int]:
    """Every sign-up and shift row plus the notification and audit counts: compared before
    and after a refused call to show that it changed nothing."""
    from huzhu.activities.models import Signup
    from huzhu.common.models import AuditEntry, Notification

    signups = list(
        Signup.objects.order_by("id").values_list(
            "id",
            "shift_id",
            "volunteer_id",
            "status",
            "queued_at",
            "note",
            "attendance",
            "checked_in_at",
            "checked_out_at",
            "check_in_method",
            "check_out_method",
            "check_in_distance_m",
        )
    )
    shifts = list(
        Shift.objects.order_by("id").values_list(
            "id", "capacity", "confirmed_count", "is_cancelled", "starts_at", "ends_at"
        )
    )
    return signups, shifts, Notification.objects.count(), AuditEntry.objects.count()


def years_before(day: dt.date, years: int, days: int = 0) -> dt.date:
    """The date ``years`` years (then ``days`` days) before ``day`` (29 Feb → 28 Feb)."""
    try:
        same = day.replace(year=day.year - years)
    except ValueError:
        same = day.replace(year=day.year - years, day=28)
    return same - dt.timedelta(days=days)


def shift_input_like(shift: Shift, **changes: object):
    """A ``ShiftInput`` holding the shift's current values, with ``changes`` applied."""
    from huzhu.activities.services import ShiftInput

    values: dict[str, object] = {
        "starts_at": shift.starts_at,
        "ends_at": shift.ends_at,
        "capacity": shift.capacity,
        "name": shift.name,
        "signup_mode": shift.signup_mode,
        "checkin_opens_minutes": shift.checkin_opens_minutes,
        "checkout_closes_minutes": shift.checkout_closes_minutes,
    }
    values.update(changes)
    return ShiftInput(**values)  # type: ignore[arg-type]


def make_login_volunteer(
    org: Org, name: str, username: str, birth: dt.date | None = None
) -> Volunteer:
    """``make_volunteer`` with a login, read back so that ``volunteer.person.user`` is set
    (services notify that user)."""
    volunteer = make_volunteer(org, name, birth=birth, username=username)
    return Volunteer.objects.select_related("person__user").get(pk=volunteer.pk)
