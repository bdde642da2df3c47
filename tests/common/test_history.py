"""The audit-history pages of a person and of an org."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.common.views import describe
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.orgs.services import org_update
from huzhu.people.services import person_reveal, person_update
from tests.factories import UserFactory, grant, make_id_number, make_person

pytestmark = pytest.mark.django_db

SYSTEM = Scope(user_id=0, is_superuser=True)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def history_url(person) -> str:
    return reverse("common:person_history", kwargs={"person_id": person.pk})


def test_person_history_reads_in_chinese(city):
    id_number = make_id_number()
    person = make_person(city.community_a, "张三", id_number=id_number, phone="13912345678")
    scope_a = Scope.for_user(city.worker_a)
    person_update(
        actor=city.worker_a, scope=scope_a, person=person, status="moved_out", address="新址"
    )
    person_reveal(actor=city.worker_a, scope=scope_a, person=person, reason="核实身份")
    response = client_for(city.worker_a).get(history_url(person))
    html = response.content.decode()
    assert response.status_code == 200
    assert "张三 的操作记录" in html
    for text in ("登记居民", "修改居民信息", "查看完整号码", "核实身份", "worker-a", "系统"):
        assert text in html
    items = response.context["items"]
    assert [i.entry.verb for i in items] == ["person.reveal", "person.update", "person.create"]
    update = items[1]
    assert ("状态", "在册", "已迁出") in update.changes
    assert ("住址", "（空）", "新址") in update.changes
    assert ("查看项目", "身份证号、手机号") in items[0].details
    assert id_number not in html
    assert "13912345678" not in html
    assert person.id_number_masked in html  # the create entry shows the masked number


def test_history_404_out_of_scope_and_403_without_audit_view(city):
    person = make_person(city.community_a, "张三")
    assert client_for(city.worker_b).get(history_url(person)).status_code == 404
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)  # sees the person, not the log
    assert client_for(leader).get(history_url(person)).status_code == 403
    supervisor = UserFactory(username="supervisor")
    grant(supervisor, city.street, Role.SUPERVISOR)
    assert client_for(supervisor).get(history_url(person)).status_code == 200
    missing = reverse("common:person_history", kwargs={"person_id": person.pk + 1000})
    assert client_for(city.worker_a).get(missing).status_code == 404
    assert Client().get(history_url(person)).status_code == 302


def test_resident_cannot_read_the_history_of_their_own_record(city):
    user = UserFactory(username="resident")
    person = make_person(city.community_a, "张三")
    person.user = user
    person.save(update_fields=["user"])
    assert client_for(user).get(history_url(person)).status_code == 403


def test_org_history(city):
    org_update(actor=None, scope=SYSTEM, org=city.community_a, service_phone="0531-1234567")
    org_update(actor=None, scope=SYSTEM, org=city.grid_a, is_active=False)
    org_update(actor=None, scope=SYSTEM, org=city.community_a, sort_order=3)
    url = reverse("common:org_history", kwargs={"org_id": city.community_a.pk})
    response = client_for(city.worker_a).get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert "甲社区 的操作记录" in html
    assert "修改组织信息" in html
    items = response.context["items"]
    assert ("服务电话", "（空）", "0531-1234567") in items[1].changes
    assert ("排序", "0", "3") in items[0].changes
    assert len(items) == 2  # the grid's change is in the grid's history
    grid_url = reverse("common:org_history", kwargs={"org_id": city.grid_a.pk})
    grid_items = client_for(city.worker_a).get(grid_url).context["items"]
    assert ("启用", "是", "否") in grid_items[0].changes
    assert client_for(city.worker_b).get(url).status_code == 404
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    assert client_for(leader).get(url).status_code == 403


def test_unknown_verbs_and_odd_data_still_render(city):
    from huzhu.common.audit import log_action

    person = make_person(city.community_a, "张三")
    entry = log_action(None, "volunteer.approve", person, {"note": "ok", "items": [1, 2]})
    item = describe(entry)
    assert item.label == "volunteer.approve"
    assert ("note", "ok") in item.details
    assert ("items", "1、2") in item.details
    response = client_for(city.worker_a).get(history_url(person))
    assert "volunteer.approve" in response.content.decode()


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_history_query_count_does_not_grow_with_entries(city):
    person = make_person(city.community_a, "张三")
    scope_a = Scope.for_user(city.worker_a)
    client = client_for(city.worker_a)

    def edits(n: int, start: int) -> None:
        for i in range(start, start + n):
            person_update(actor=city.worker_a, scope=scope_a, person=person, address=f"{i}号")
            person_reveal(actor=city.worker_a, scope=scope_a, person=person)

    edits(2, 0)
    few = _count(client, history_url(person))
    edits(14, 2)
    response = client.get(history_url(person))
    assert len(response.context["items"]) == 33
    assert _count(client, history_url(person)) == few


@pytest.mark.django_db
def test_org_history_includes_role_grants_made_on_it(city):
    from huzhu.orgs.services import role_grant_create

    admin = UserFactory(username="street-admin-h")
    grant(admin, city.street, Role.ADMIN)
    newcomer = UserFactory(username="newcomer")
    role_grant_create(
        actor=admin,
        scope=Scope.for_user(admin),
        org=city.community_a,
        user=newcomer,
        role=Role.WORKER,
    )
    client = Client()
    client.force_login(admin)
    response = client.get(f"/history/org/{city.community_a.pk}/")
    assert response.status_code == 200
    assert "授予角色" in response.content.decode()
    assert "newcomer" in response.content.decode()
