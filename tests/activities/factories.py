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
