"""``huzhu seed-demo``: the demo city, its residents and one login per role."""

from __future__ import annotations

import datetime as dt
import io
import random
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from stdnum.cn import ric

from huzhu.common.identity import parse_id_number
from huzhu.common.models import AuditEntry
from huzhu.demo import generator
from huzhu.demo.seed import (
    ACCOUNTS,
    DEMO_CITY_CODE,
    STEPS,
    DemoError,
    Step,
    register_step,
    seed_demo,
)
from huzhu.orgs.models import ALLOWED_CHILDREN, Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Role
from huzhu.people.models import Person

User = get_user_model()
PASSWORD = "demo-pass-123"
TODAY = dt.date(2025, 6, 1)


@pytest.fixture
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def demo(db, fast_hasher):
    return seed_demo(password=PASSWORD, residents=200, progress=False, today=TODAY)


def _kinds() -> Counter:
    return Counter(Org.objects.values_list("kind", flat=True))


def test_org_tree_shape(demo):
    kinds = _kinds()
    assert kinds[OrgKind.CITY] == 1
    assert kinds[OrgKind.DISTRICT] == 3
    assert kinds[OrgKind.STREET] == 8
    assert kinds[OrgKind.COMMUNITY] == 20
    assert kinds[OrgKind.CORPS] == 20
    assert kinds[OrgKind.PARTY_BRANCH] == 20
    assert kinds[OrgKind.ASSOCIATION] == 1
    assert kinds[OrgKind.BRANCH] == 3
    assert {f"org.{k}": v for k, v in kinds.items()} == {
        k: v for k, v in demo.counts.items() if k.startswith("org.")
    }
    city = Org.objects.get(kind=OrgKind.CITY)
    assert (city.name, city.division_code, city.path, city.depth) == (
        "济南市",
        DEMO_CITY_CODE,
        f"/{city.pk}/",
        0,
    )
    by_pk = {o.pk: o for o in Org.objects.all()}
    for org in by_pk.values():
        if org.parent_id is None:
            continue
        parent = by_pk[org.parent_id]
        assert org.kind in ALLOWED_CHILDREN[parent.kind], org
        assert org.path == f"{parent.path}{org.pk}/"
        assert org.depth == parent.depth + 1
    for district in Org.objects.filter(kind=OrgKind.DISTRICT):
        assert len(district.division_code) == 6
        assert district.parent_id == city.pk
    for org in Org.objects.filter(kind__in=[OrgKind.STREET, OrgKind.COMMUNITY]):
        parent_code = by_pk[org.parent_id].division_code
        assert len(org.division_code) == 12
        assert org.division_code.startswith(parent_code[:6])
        if org.kind == OrgKind.STREET:
            assert org.division_code.endswith("000")
    for community in Org.objects.filter(kind=OrgKind.COMMUNITY):
        children = Counter(c.kind for c in community.children.all())
        assert 3 <= children[OrgKind.GRID] <= 6
        assert children[OrgKind.CORPS] == 1 and children[OrgKind.PARTY_BRANCH] == 1
        corps = community.children.get(kind=OrgKind.CORPS)
        assert 2 <= corps.children.filter(kind=OrgKind.TEAM).count() <= 4
        branch = community.children.get(kind=OrgKind.PARTY_BRANCH)
        assert 2 <= branch.children.filter(kind=OrgKind.PARTY_GROUP).count() <= 3
    association = Org.objects.get(kind=OrgKind.ASSOCIATION)
    assert association.parent_id == city.pk and association.name == "济南市社区志愿者协会"
    assert association.children.filter(kind=OrgKind.BRANCH).count() == 3


EXPECTED_GRANTS = {
    "city-admin": (Role.ADMIN, OrgKind.CITY),
    "street-admin": (Role.ADMIN, OrgKind.STREET),
    "worker-a": (Role.WORKER, OrgKind.COMMUNITY),
    "worker-b": (Role.WORKER, OrgKind.COMMUNITY),
    "leader": (Role.TEAM_LEADER, OrgKind.TEAM),
    "party-worker": (Role.PARTY_WORKER, OrgKind.PARTY_BRANCH),
    "supervisor": (Role.SUPERVISOR, OrgKind.DISTRICT),
}


def test_accounts_log_in_with_exactly_their_grants(demo, client):
    usernames = {a[0] for a in ACCOUNTS}
    assert usernames == {*EXPECTED_GRANTS, "volunteer", "resident"}
    assert {a.username for a in demo.accounts} == usernames
    for username in usernames:
        user = User.objects.get(username=username)
        assert user.first_name, username
        assert not user.is_superuser and not user.is_staff
        assert client.login(username=username, password=PASSWORD), username
        client.logout()
        grants = list(RoleGrant.objects.filter(user=user).select_related("org"))
        if username in EXPECTED_GRANTS:
            assert [(g.role, g.org.kind) for g in grants] == [EXPECTED_GRANTS[username]]
        else:
            assert grants == []
    assert not client.login(username="worker-a", password="wrong-password")

    def org_of(username: str) -> Org:
        return RoleGrant.objects.get(user__username=username).org

    a, b = org_of("worker-a"), org_of("worker-b")
    street = org_of("street-admin")
    assert a != b and a.parent_id == b.parent_id == street.pk
    assert org_of("supervisor").pk == street.parent_id
    assert org_of("city-admin").kind == OrgKind.CITY
    team = org_of("leader")
    assert team.parent.kind == OrgKind.CORPS and team.parent.parent_id == a.pk
    assert org_of("party-worker").parent_id == a.pk
    for username in ("volunteer", "resident"):
        user = User.objects.get(username=username)
        person = Person.objects.get(user=user)
        assert person.org.path.startswith(a.path)
        assert user.first_name == person.name
    resident = Person.objects.get(user__username="resident")
    assert resident.age_on(TODAY) >= 60
    assert "独居老人" in set(resident.tags.values_list("name", flat=True))


def test_residents_are_valid_and_believable(demo):
    people = list(Person.objects.select_related("org__parent__parent__parent"))
    assert len(people) == demo.residents == 200
    assert len({p.id_number_hash for p in people}) == 200
    district_codes = set(
        Org.objects.filter(kind=OrgKind.DISTRICT).values_list("division_code", flat=True)
    )
    tags = {p.pk: set(p.tags.values_list("name", flat=True)) for p in people}
    for person in people:
        number = person.id_number
        citizen = parse_id_number(number, today=TODAY)
        assert citizen.number == number
        assert ric.calc_check_digit(number[:17] + "0") == number[17]
        assert citizen.birth_date == person.birth_date
        assert citizen.gender == person.gender
        assert (int(number[16]) % 2 == 1) == (person.gender == "M")
        assert person.id_number_masked == number[:4] + "*" * 10 + number[-4:]
        district = person.org.parent.parent.parent
        assert person.org.kind == OrgKind.GRID and district.kind == OrgKind.DISTRICT
        if "流动人口" not in tags[person.pk]:
            assert number[:6] == district.division_code
        assert number[:6] in district_codes or number[:6] in generator.MIGRANT_AREAS
        if person.phone:
            assert len(person.phone) == 11 and person.phone.startswith("1")
            assert person.phone_masked == person.phone[:3] + "****" + person.phone[-4:]
        assert 2 <= len(person.name) <= 4
        street = person.org.parent.parent
        assert person.address.startswith(f"{district.name}{street.name}")
        assert person.address.endswith("室")
        age = person.age_on(TODAY)
        if tags[person.pk] & {"独居老人", "空巢老人"}:
            assert age >= 60, (age, tags[person.pk])
        if "高龄老人" in tags[person.pk]:
            assert age >= 80
        if "留守儿童" in tags[person.pk]:
            assert age < 16
    elderly = sum(p.age_on(TODAY) >= 60 for p in people) / len(people)
    phones = sum(bool(p.phone_hash) for p in people) / len(people)
    assert 0.15 <= elderly <= 0.4
    assert 0.7 <= phones <= 0.95


def test_generator_at_scale_matches_the_design():
    """Many households (no database): ~25% aged 60+, ~85% with a phone, valid numbers."""
    gen = generator.HouseholdGenerator(random.Random(7), TODAY)
    members = []
    while len(members) < 20000:
        members += gen.household("370102")
    n = len(members)
    assert 0.22 <= sum(m.age >= 60 for m in members) / n <= 0.30
    assert 0.80 <= sum(bool(m.phone) for m in members) / n <= 0.90
    assert any(m.name[:2] in ("欧阳", "司马", "上官", "诸葛") for m in members)
    for m in members[:2000]:
        citizen = parse_id_number(m.id_number, today=TODAY)
        assert (citizen.birth_date, citizen.gender) == (m.birth_date, m.gender)
        assert m.age == (TODAY.year - m.birth_date.year) - (
            (TODAY.month, TODAY.day) < (m.birth_date.month, m.birth_date.day)
        )
        if "独居老人" in m.tags:
            assert m.age >= 60


def test_same_seed_same_city_and_reset(db, fast_hasher):
    def snapshot() -> list[tuple]:
        return list(
            Person.objects.order_by("pk").values_list(
                "name", "id_number_masked", "phone_masked", "address", "org__name"
            )
        )

    first = seed_demo(password=PASSWORD, residents=60, progress=False, today=TODAY, seed=5)
    one = snapshot()
    second = seed_demo(
        password=PASSWORD, residents=60, progress=False, today=TODAY, seed=5, reset=True
    )
    assert snapshot() == one
    assert second.city_id != first.city_id
    assert Org.objects.filter(kind=OrgKind.CITY).count() == 1
    assert User.objects.filter(username="worker-a").count() == 1
    seed_demo(password=PASSWORD, residents=60, progress=False, today=TODAY, seed=6, reset=True)
    assert snapshot() != one
    assert Person.objects.count() == 60


def test_scale_multiplies_and_streams_in_batches(db, fast_hasher):
    result = seed_demo(password=PASSWORD, residents=40, scale=3, batch_size=25, progress=False)
    assert result.residents == Person.objects.count() == 120
    # resident, volunteer, and the volunteer step's pending self-registration
    assert Person.objects.filter(user__isnull=False).count() == 3


def test_command_if_empty_is_idempotent_and_refuses_without_reset(db, fast_hasher):
    out = io.StringIO()
    # On an empty database --if-empty seeds (what `make demo` relies on).
    call_command("seed_demo", "--if-empty", "--residents", "50", "--password", PASSWORD, stdout=out)
    text = out.getvalue()
    assert "演示城市已生成" in text
    for username, *_ in ACCOUNTS:
        assert username in text
    assert PASSWORD in text and "历山路社区" in text
    before = (Org.objects.count(), Person.objects.count(), User.objects.count())
    for _ in range(2):
        out = io.StringIO()
        call_command("seed_demo", "--if-empty", "--password", PASSWORD, stdout=out)
        assert "worker-a" in out.getvalue() and "社区工作者" in out.getvalue()
        assert (Org.objects.count(), Person.objects.count(), User.objects.count()) == before
    with pytest.raises(CommandError, match="--reset"):
        call_command("seed_demo", "--residents", "50", stdout=io.StringIO())
    assert (Org.objects.count(), Person.objects.count(), User.objects.count()) == before
    call_command(
        "seed_demo", "--reset", "--residents", "50", "--password", PASSWORD, stdout=io.StringIO()
    )
    assert Person.objects.count() == 50 and Org.objects.filter(kind=OrgKind.CITY).count() == 1
    with pytest.raises(CommandError):
        call_command("seed_demo", "--reset", "--if-empty")
    with pytest.raises(CommandError, match="密码"):
        call_command("seed_demo", "--reset", "--password", "short", stdout=io.StringIO())


# and demo redemptions go through the audited counter service
CERTIFICATE_VERBS = ("certificate.apply", "certificate.issue", "timebank.redeem")


def test_one_audit_entry_summarises_the_seed(demo):
    # Demo certificates are issued through the real service (so they verify), which audits them.
    entries = list(AuditEntry.objects.exclude(verb__in=CERTIFICATE_VERBS))
    assert [e.verb for e in entries] == ["demo.seed"]
    data = entries[0].data
    assert data["residents"] == 200
    assert data["counts"]["org.community"] == 20
    assert entries[0].actor is None and entries[0].org.kind == OrgKind.CITY


def test_an_existing_city_is_refused_without_reset(db, fast_hasher):
    from tests.factories import make_org

    make_org(OrgKind.CITY, "测试市", code="110100")
    with pytest.raises(DemoError, match="测试市"):
        seed_demo(password=PASSWORD, residents=20, progress=False)
    result = seed_demo(password=PASSWORD, residents=20, progress=False, if_empty=True)
    assert not result.created and result.accounts == []


def test_later_features_can_append_steps(db, fast_hasher):
    seen = {}

    def count_grids(ctx):
        seen["grids"] = sum(len(g) for g in ctx.grids.values())
        seen["team_a"] = ctx.named["team_a"].name
        ctx.counts["plugin"] = 1

    register_step(Step("test-plugin", count_grids))
    try:
        result = seed_demo(password=PASSWORD, residents=20, progress=False)
    finally:
        STEPS[:] = [s for s in STEPS if s.name != "test-plugin"]
    assert seen["grids"] == Org.objects.filter(kind=OrgKind.GRID).count()
    assert seen["team_a"].startswith("历山路社区")
    assert result.counts["plugin"] == 1
