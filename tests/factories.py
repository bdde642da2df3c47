"""Factories for tests: real rows through the real services where rules apply."""

from __future__ import annotations

import datetime as dt
import itertools

import factory
from django.contrib.auth import get_user_model

from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.people.services import person_create

User = get_user_model()
_seq = itertools.count(1)


def make_id_number(
    birth: dt.date | None = None,
    area: str = "370102",
    male: bool = True,
) -> str:
    """A valid 18-character citizen ID number with a correct check character.

    The three order digits come from a counter, so numbers never repeat within a run
    (500 per birth date and gender)."""
    from stdnum.cn import ric

    n = next(_seq)
    birth = birth or dt.date(1950, 1, 1) + dt.timedelta(days=(n * 37) % (365 * 60))
    order = (n % 500) * 2 + (1 if male else 0)  # odd = male, even = female
    body = f"{area}{birth:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_phone() -> str:
    return f"139{next(_seq) % 100000000:08d}"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests")


def make_org(kind: str, name: str, parent: Org | None = None, code: str | None = None) -> Org:
    """Create an org directly (tests that are not about org rules)."""
    org = Org.objects.create(
        parent=parent,
        kind=kind,
        name=name,
        division_code=code,
        path=f"/new-{next(_seq)}/",
        depth=(parent.depth + 1) if parent else 0,
    )
    org.path = f"{parent.path if parent else '/'}{org.pk}/"
    org.save(update_fields=["path"])
    return org


def grant(user: object, org: Org, role: str = Role.WORKER) -> RoleGrant:
    return RoleGrant.objects.create(user=user, org=org, role=role)


def make_person(
    org: Org,
    name: str = "张三",
    id_number: str | None = None,
    phone: str | None = None,
    **kwargs: object,
) -> Person:
    system = Scope(user_id=0, is_superuser=True)
    return person_create(
        actor=None,
        scope=system,
        org=org,
        name=name,
        id_number=id_number or make_id_number(),
        phone=make_phone() if phone is None else phone,
        **kwargs,
    )


class City:
    """A small tree: city → district → street → communities A and B (siblings), grids."""

    def __init__(self) -> None:
        self.city = make_org(OrgKind.CITY, "测试市", code="370100")
        self.district = make_org(OrgKind.DISTRICT, "历下区", self.city, "370102")
        self.street = make_org(OrgKind.STREET, "解放路街道", self.district, "370102001000")
        self.community_a = make_org(OrgKind.COMMUNITY, "甲社区", self.street, "370102001001")
        self.community_b = make_org(OrgKind.COMMUNITY, "乙社区", self.street, "370102001002")
        self.grid_a = make_org(OrgKind.GRID, "甲社区第一网格", self.community_a)
        self.grid_b = make_org(OrgKind.GRID, "乙社区第一网格", self.community_b)
        self.worker_a = UserFactory(username="worker-a")
        self.worker_b = UserFactory(username="worker-b")
        grant(self.worker_a, self.community_a, Role.WORKER)
        grant(self.worker_b, self.community_b, Role.WORKER)
