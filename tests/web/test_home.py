"""The home page: dashboard counts for users with grants, a card for residents."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.orgs.models import OrgKind
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, Tag
from huzhu.web import selectors
from tests.factories import UserFactory, grant, make_id_number, make_org, make_person

OLD = dt.date(1950, 5, 1)
YOUNG = dt.date(1990, 5, 1)


def stat(response, name: str) -> int:
    html = response.content.decode()
    match = re.search(rf'data-testid="stat-{name}">(\d+)<', html)
    assert match, f"stat {name} not on the page"
    return int(match.group(1))


@pytest.fixture
def tags(db) -> dict[str, Tag]:
    return {t.name: t for t in Tag.objects.filter(name__in=["独居老人", "低保", "租户"])}


@pytest.fixture
def residents(city, tags):
    """Community A: 4 in register (2 aged 60+, one without phone), 1 moved out;
    community B: 2. Tags: 独居老人 ×2 and 低保 ×1 in A, 租户 ×1 in B."""
    a = city.community_a
    people = {
        "old1": make_person(
            city.grid_a, "甲老一", make_id_number(OLD), tags=[tags["独居老人"], tags["低保"]]
        ),
        "old2": make_person(a, "甲老二", make_id_number(OLD), tags=[tags["独居老人"]]),
        "young": make_person(city.grid_a, "甲青年", make_id_number(YOUNG), phone=""),
        "recent": make_person(a, "甲新人", make_id_number(YOUNG)),
        "gone": make_person(a, "甲迁出", make_id_number(OLD), status="moved_out"),
        "b1": make_person(city.community_b, "乙居民一", make_id_number(OLD), tags=[tags["租户"]]),
        "b2": make_person(city.grid_b, "乙居民二", make_id_number(YOUNG), phone=""),
    }
    long_ago = timezone.now() - dt.timedelta(days=90)
    Person.objects.exclude(pk=people["recent"].pk).update(created_at=long_ago)
    return people


@pytest.fixture
def street_admin(city):
    user = UserFactory(username="street-admin")
    grant(user, city.street, Role.ADMIN)
    return user


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_worker_dashboard_counts_their_community(client, city, residents):
    make_org(OrgKind.CORPS, "甲社区志愿者总队", city.community_a)
    client.force_login(city.worker_a)
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert stat(response, "communities") == 1
    assert stat(response, "grids") == 1
    assert stat(response, "residents") == 4
    assert stat(response, "elderly") == 2
    assert stat(response, "new") == 1
    assert stat(response, "volunteer-orgs") == 1
    board = response.context["board"]
    assert board.residents == {"residents": 4, "elderly": 2, "new_recent": 1, "no_phone": 1}
    assert [r.name for r in board.roots] == ["甲社区"]
    # A worker may edit people, so sensitive tags (低保) count too; 租户 is in B only.
    assert [(t["name"], t["count"]) for t in board.top_tags] == [("独居老人", 2), ("低保", 1)]
    assert board.communities is None  # one community: no per-community table
    html = response.content.decode()
    assert "乙居民" not in html and "乙社区" not in html
    assert 'data-testid="community-table"' not in html


def test_worker_todo_lists_residents_without_phone_and_recent_audit(client, city, residents):
    client.force_login(city.worker_a)
    response = client.get("/")
    html = response.content.decode()
    board = response.context["board"]
    assert board.no_phone_count == 1
    assert [p.name for p in board.no_phone] == ["甲青年"]
    assert "未登记手机号的居民 1 人" in html
    assert f'href="/people/{residents["young"].pk}/"' in html
    assert residents["young"].id_number_masked in html
    # Audit entries of community A (the registrations), none of B.
    assert board.recent_audit is not None
    labels = {e.target_label for e in board.recent_audit}
    assert labels == {"甲老一", "甲老二", "甲青年", "甲新人", "甲迁出"}
    assert "登记居民" in html


def test_supervisor_sees_no_sensitive_tags_and_no_phone_todo(client, city, residents):
    supervisor = UserFactory(username="supervisor-a")
    grant(supervisor, city.community_a, Role.SUPERVISOR)
    client.force_login(supervisor)
    board = client.get("/").context["board"]
    assert [(t["name"], t["count"]) for t in board.top_tags] == [("独居老人", 2)]
    assert board.can_edit_people is False
    assert board.no_phone == []
    assert board.recent_audit is not None  # supervisors have audit.view


def test_team_leader_sees_no_audit(client, city, residents):
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    client.force_login(leader)
    response = client.get("/")
    assert response.context["board"].recent_audit is None
    assert 'data-testid="recent-audit"' not in response.content.decode()


def test_street_admin_gets_per_community_table(client, city, residents, street_admin):
    client.force_login(street_admin)
    response = client.get("/")
    board = response.context["board"]
    assert stat(response, "communities") == 2
    assert stat(response, "residents") == 6
    rows = [(r.org.name, r.grids, r.residents, r.elderly) for r in board.communities]
    assert rows == [("甲社区", 1, 4, 2), ("乙社区", 1, 2, 1)]
    assert board.no_phone_count == 2
    assert [(t["name"], t["count"]) for t in board.top_tags] == [
        ("独居老人", 2),
        ("低保", 1),
        ("租户", 1),
    ]
    html = response.content.decode()
    assert 'data-testid="community-table"' in html
    assert f'href="/orgs/{city.community_b.pk}/"' in html


def test_resident_without_grants_sees_own_card(client, city):
    user = UserFactory(username="resident-1")
    number = make_id_number(OLD)
    person = make_person(city.grid_a, "李阿姨", number, phone="13912345678")
    Person.objects.filter(pk=person.pk).update(user=user)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    assert response.context["board"] is None
    assert response.context["me"].pk == person.pk
    html = response.content.decode()
    assert 'data-testid="me-card"' in html
    assert "李阿姨" in html
    assert person.id_number_masked in html
    assert "139****5678" in html
    assert number not in html and "13912345678" not in html
    assert 'href="/people/me/"' in html


def test_user_with_neither_grants_nor_record_is_told_whom_to_ask(client, city):
    client.force_login(UserFactory(username="nobody"))
    response = client.get("/")
    assert response.status_code == 200
    assert "您的账号还没有关联社区组织或居民档案" in response.content.decode()


def test_home_is_get_only(client, city):
    client.force_login(city.worker_a)
    assert client.post("/").status_code == 405


def _grow(city, tags, n: int) -> None:
    """n more residents in each community, tagged, some without phone, plus n grids and
    n teams, so every count and table on the dashboard has more rows."""
    tag_list = list(tags.values())
    for i in range(n):
        for community in (city.community_a, city.community_b):
            grid = make_org(OrgKind.GRID, f"{community.name}网格{i}", community)
            make_person(
                grid,
                f"{community.name}居民{i}",
                make_id_number(OLD if i % 2 else YOUNG),
                phone="" if i % 3 == 0 else None,
                tags=[tag_list[i % len(tag_list)]],
            )
        make_org(OrgKind.CORPS, f"总队{i}", city.community_a)


def _count_home_queries(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_dashboard_queries_do_not_grow_with_rows(client, city, tags, street_admin):
    client.force_login(street_admin)
    _grow(city, tags, 3)
    small = _count_home_queries(client)
    _grow(city, tags, 6)  # 3 → 9 of everything
    assert Person.objects.count() == 18
    large = _count_home_queries(client)
    assert large == small
    assert client.get("/").context["board"].residents["residents"] == 18


def test_dashboard_selector_counts_for_superuser(city, residents):
    board = selectors.dashboard(scope=Scope(user_id=1, is_superuser=True))
    assert [r.name for r in board.roots] == ["测试市"]
    assert board.orgs["communities"] == 2
    assert board.residents["residents"] == 6
    assert [r.org.name for r in board.communities] == ["甲社区", "乙社区"]
