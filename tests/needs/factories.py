"""Needs test data made through the real services."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from huzhu.needs.models import Need, NeedCategory, Payment, Urgency
from huzhu.needs.profiles import profiles_refresh
from huzhu.needs.selectors import NeedAccess, _access
from huzhu.needs.services import NeedInput, OfferInput, need_create, offer_save
from huzhu.orgs.models import Org
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.timebank import ledger
from huzhu.timebank.ledger import Leg
from huzhu.timebank.models import AccountKind, TransferKind
from huzhu.timebank.services import account_for_person, org_account
from huzhu.volunteers.models import Volunteer
from tests.activities.factories import SYSTEM, make_login_volunteer
from tests.factories import make_id_number, make_person

User = get_user_model()


def need_category(name: str) -> NeedCategory:
    return NeedCategory.objects.get(name=name)


def set_place(org: Org, latitude: float, longitude: float) -> Org:
    org.latitude, org.longitude = latitude, longitude
    org.save(update_fields=["latitude", "longitude"])
    return org


def make_resident(org: Org, name: str = "王奶奶", username: str | None = None) -> Person:
    """An elderly resident (born 1948), with a login when ``username`` is given."""
    person = make_person(org, name, id_number=make_id_number(birth=dt.date(1948, 3, 8)))
    if username:
        person.user = User.objects.create_user(username=username, password="pw-for-tests")
        person.save(update_fields=["user"])
    return person


def give_credits(person: Person, minutes: int) -> None:
    """Credit a person's account from their community's issuance (as earlier service would)."""
    account = account_for_person(person)
    issuance = org_account(account.org, AccountKind.ISSUANCE)
    ledger.post(
        kind=TransferKind.ADJUST,
        legs=[Leg(issuance.pk, -minutes), Leg(account.pk, minutes)],
        memo="测试入账",
    )


def tomorrow_at(hour: int, minutes: int = 120) -> tuple[dt.datetime, dt.datetime]:
    day = timezone.localdate() + dt.timedelta(days=1)
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))
    return start, start + dt.timedelta(minutes=minutes)


def need_input(**overrides: object) -> NeedInput:
    start, end = tomorrow_at(9)
    values: dict[str, object] = {
        "description": "帮我买菜，腿脚不方便下楼",
        "address": "甲社区 3 号楼 2 单元 501",
        "starts_at": start,
        "ends_at": end,
        "urgency": Urgency.NORMAL,
        "payment": Payment.REQUESTER,
        "minutes": 60,
    }
    values.update(overrides)
    return NeedInput(**values)  # type: ignore[arg-type]


def post_need(worker, requester: Person | None = None, org: Org | None = None, **overrides) -> Need:
    """A worker posts a need for ``requester`` (代发), or for ``org``."""
    return need_create(
        actor=worker,
        scope=Scope.for_user(worker),
        data=need_input(**overrides),
        requester=requester,
        org=org,
    )


def access_for(user, need: Need) -> NeedAccess:
    return _access(user, Scope.for_user(user), Need.objects.get(pk=need.pk))


def helper_volunteer(
    org: Org,
    name: str,
    username: str,
    categories: tuple[str, ...] = ("跑腿代办",),
    place: tuple[float, float] | None = None,
    availability: int = (1 << 21) - 1,
) -> Volunteer:
    """A registered volunteer with a login and an offer in ``categories`` (at ``place``)."""
    volunteer = make_login_volunteer(org, name, username)
    user = volunteer.person.user
    offer_save(
        actor=user,
        volunteer=volunteer,
        data=OfferInput(
            title=f"{name}可以帮忙",
            category_ids=[need_category(c).pk for c in categories],
            availability=availability,
            latitude=place[0] if place else None,
            longitude=place[1] if place else None,
        ),
    )
    return volunteer


def refresh_all() -> None:
    profiles_refresh()


__all__ = ["SYSTEM"]
