"""``log_action``: who did what to which object, in which org, with masked data only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType

from huzhu.common.audit import log_action
from huzhu.common.models import AuditEntry
from huzhu.orgs.models import OrgKind, RoleGrant
from huzhu.people.models import Person
from tests.factories import make_org, make_person

pytestmark = pytest.mark.django_db


def test_log_action_records_actor_verb_target_and_org(city):
    person = make_person(city.grid_a, "张三")
    entry = log_action(city.worker_a, "person.update", person, {"changes": {"name": ["甲", "乙"]}})
    entry.refresh_from_db()
    assert entry.actor == city.worker_a
    assert entry.actor_label == "worker-a"
    assert entry.verb == "person.update"
    assert entry.target_type == ContentType.objects.get_for_model(Person)
    assert entry.target_id == str(person.pk)
    assert entry.target_label == "张三"
    assert entry.org == city.grid_a
    assert entry.org_path == city.grid_a.path
    assert entry.data == {"changes": {"name": ["甲", "乙"]}}


def test_org_path_comes_from_the_targets_audit_org(city):
    grant = RoleGrant.objects.get(user=city.worker_b)
    entry = log_action(city.worker_b, "role.grant", grant)
    assert (entry.org, entry.org_path) == (city.community_b, city.community_b.path)
    entry = log_action(city.worker_b, "org.update", city.street)
    assert (entry.org, entry.org_path) == (city.street, city.street.path)


@pytest.mark.parametrize(
    ("actor", "label"),
    [(None, "系统"), ("导入任务", "导入任务"), (AnonymousUser(), "AnonymousUser")],
)
def test_actor_without_a_login(city, actor, label):
    entry = log_action(actor, "person.create", city.community_a)
    assert entry.actor is None
    assert entry.actor_label == label


def test_no_target(city):
    entry = log_action(city.worker_a, "crypto.rotate_keys", None, {"rotated": 3})
    entry.refresh_from_db()
    assert (entry.target_type, entry.target_id, entry.target_label) == (None, "", "")
    assert (entry.org, entry.org_path) == (None, "")
    assert entry.data == {"rotated": 3}


def test_data_is_scrubbed_at_any_depth(city):
    data = {
        "note": "请回电 13800138000",
        "nested": {
            "ids": ["11010519491231002x", {"deep": "旧号 110105491231002"}],
            "pair": ("13900139000", 7),
            "13800138000": "a phone as a key",
        },
        "count": 42,
        "ratio": 0.5,
        "code": "370102001001",
        "flag": True,
        "nothing": None,
        "day": dt.date(2024, 6, 15),
    }
    entry = log_action(city.worker_a, "person.update", city.community_a, data)
    entry.refresh_from_db()
    assert entry.data == {
        "note": "请回电 138****8000",
        "nested": {
            "ids": ["1101**********002X", {"deep": "旧号 1101*******1002"}],
            "pair": ["139****9000", 7],
            "138****8000": "a phone as a key",
        },
        "count": 42,
        "ratio": 0.5,
        "code": "370102001001",
        "flag": True,
        "nothing": None,
        "day": "2024-06-15",
    }


def test_target_label_is_scrubbed(city):
    org = make_org(OrgKind.GRID, "热线13800138000网格", city.community_a)
    entry = log_action(None, "org.create", org)
    assert entry.target_label == "热线138****8000网格"


def test_entries_are_kept_newest_first(city):
    first = log_action(None, "a", city.community_a)
    second = log_action(None, "b", city.community_a)
    assert list(AuditEntry.objects.filter(pk__in=[first.pk, second.pk])) == [second, first]
