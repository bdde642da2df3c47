"""Scopes: subtree roots per permission, and ``.within(scope)`` on every org-owned model."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from huzhu.common.audit import log_action
from huzhu.common.models import AuditEntry
from huzhu.orgs.models import Org, OrgKind, RoleGrant
from huzhu.orgs.roles import Perm, Role
from huzhu.orgs.scope import Grant, Scope
from huzhu.orgs.services import org_create, org_update
from huzhu.people.models import Person
from huzhu.people.services import person_reveal, person_update
from tests.factories import UserFactory, grant, make_person

# --- Scope on its own (no database) -------------------------------------------------------


def test_roots_minimise_nested_grants():
    scope = Scope(
        user_id=1,
        grants=(
            Grant(5, "/1/5/", Role.WORKER),
            Grant(12, "/12/", Role.WORKER),
            Grant(1, "/1/", Role.WORKER),
            Grant(7, "/1/5/7/", Role.ADMIN),
            Grant(13, "/12/13/", Role.SUPERVISOR),
        ),
    )
    assert scope.roots(Perm.VIEW) == ("/1/", "/12/")  # "/12/" is no descendant of "/1/"
    assert scope.roots(Perm.PERSON_EDIT) == ("/1/", "/12/")
    assert scope.roots(Perm.ORG_MANAGE) == ("/1/5/7/",)
    assert scope.roots(Perm.AUDIT_VIEW) == ("/1/", "/12/")
    assert scope.roots(Perm.PERSON_REVEAL) == ("/1/", "/12/")
    assert scope.roles == frozenset({"worker", "admin", "supervisor"})


def test_roots_per_role():
    supervisor = Scope(user_id=1, grants=(Grant(3, "/1/3/", Role.SUPERVISOR),))
    assert supervisor.roots(Perm.VIEW) == ("/1/3/",)
    assert supervisor.roots(Perm.PERSON_VIEW) == ("/1/3/",)
    assert supervisor.roots(Perm.AUDIT_VIEW) == ("/1/3/",)
    assert supervisor.roots(Perm.PERSON_EDIT) == ()
    assert supervisor.roots(Perm.PERSON_REVEAL) == ()
    assert supervisor.roots(Perm.ORG_MANAGE) == ()
    leader = Scope(user_id=2, grants=(Grant(3, "/1/3/", Role.TEAM_LEADER),))
    assert leader.roots(Perm.PERSON_VIEW) == ("/1/3/",)
    assert leader.roots(Perm.PERSON_REVEAL) == ()
    assert leader.roots(Perm.AUDIT_VIEW) == ()


def test_superuser_and_anonymous_roots():
    assert Scope(user_id=1, is_superuser=True).roots(Perm.ORG_MANAGE) == ("/",)
    anonymous = Scope.anonymous()
    assert not anonymous.is_authenticated
    for perm in Perm.values:
        assert anonymous.roots(perm) == ()
        assert not anonymous.can(perm)


def test_can_is_a_subtree_test():
    scope = Scope(user_id=1, grants=(Grant(5, "/1/5/", Role.WORKER),))
    assert scope.can(Perm.PERSON_EDIT)
    assert not scope.can(Perm.ORG_MANAGE)
    assert scope.can(Perm.PERSON_EDIT, Org(path="/1/5/"))
    assert scope.can(Perm.PERSON_EDIT, Org(path="/1/5/9/"))
    assert not scope.can(Perm.PERSON_EDIT, Org(path="/1/"))
    assert not scope.can(Perm.PERSON_EDIT, Org(path="/1/55/"))
    assert not scope.can(Perm.PERSON_EDIT, Org(path="/1/6/"))
    assert not scope.can(Perm.ORG_MANAGE, Org(path="/1/5/9/"))


# --- Scope.for_user -----------------------------------------------------------------------


@pytest.mark.django_db
def test_for_user(city):
    assert Scope.for_user(None) == Scope.anonymous()
    assert Scope.for_user(AnonymousUser()) == Scope.anonymous()
    scope = Scope.for_user(city.worker_a)
    assert scope.user_id == city.worker_a.pk
    assert scope.grants == (Grant(city.community_a.pk, city.community_a.path, "worker"),)
    assert not scope.is_superuser
    assert scope.person_id is None
    root = UserFactory(username="root", is_superuser=True)
    assert Scope.for_user(root).roots(Perm.VIEW) == ("/",)


@pytest.mark.django_db
def test_for_user_knows_the_users_own_person(city):
    person = make_person(city.community_a, "张三")
    person.user = city.worker_b
    person.save()
    assert Scope.for_user(city.worker_b).person_id == person.pk


@pytest.mark.django_db
def test_grants_on_inactive_orgs_do_not_count(city):
    Org.objects.filter(pk=city.community_a.pk).update(is_active=False)
    assert Scope.for_user(city.worker_a).roots(Perm.VIEW) == ()


# --- .within(scope) isolates sibling communities ------------------------------------------


@pytest.fixture
def world(city):
    person_a = make_person(city.grid_a, "张三")
    person_b = make_person(city.community_b, "李四")
    leader = UserFactory(username="leader-a")
    grant(leader, city.community_a, Role.TEAM_LEADER)
    log_action(city.worker_a, "note", city.community_a)
    return city, person_a, person_b


@pytest.mark.django_db
def test_within_isolates_sibling_communities(world):
    city, person_a, person_b = world
    scope_a, scope_b = Scope.for_user(city.worker_a), Scope.for_user(city.worker_b)

    assert set(Org.objects.within(scope_a)) == {city.community_a, city.grid_a}
    assert set(Org.objects.within(scope_b)) == {city.community_b, city.grid_b}

    assert list(Person.objects.within(scope_a)) == [person_a]
    assert list(Person.objects.within(scope_b)) == [person_b]
    assert list(Person.objects.within(scope_a, Perm.PERSON_EDIT)) == [person_a]

    grants_a = RoleGrant.objects.within(scope_a)
    assert {(g.user.username, g.org_id) for g in grants_a} == {
        ("worker-a", city.community_a.pk),
        ("leader-a", city.community_a.pk),
    }
    assert {g.user.username for g in RoleGrant.objects.within(scope_b)} == {"worker-b"}

    audit_a = AuditEntry.objects.within(scope_a, Perm.AUDIT_VIEW)
    assert {(e.verb, e.target_id) for e in audit_a} == {
        ("person.create", str(person_a.pk)),
        ("note", str(city.community_a.pk)),
    }
    audit_b = AuditEntry.objects.within(scope_b, Perm.AUDIT_VIEW)
    assert {(e.verb, e.target_id) for e in audit_b} == {("person.create", str(person_b.pk))}


@pytest.mark.django_db
def test_anonymous_sees_nothing(world):
    anonymous = Scope.anonymous()
    for model in (Org, Person, RoleGrant, AuditEntry):
        assert list(model.objects.within(anonymous)) == []
    assert Scope.for_user(AnonymousUser()).roots() == ()


@pytest.mark.django_db
def test_higher_grant_sees_the_whole_subtree(world):
    city, person_a, person_b = world
    street_worker = UserFactory(username="street")
    grant(street_worker, city.street, Role.WORKER)
    grant(street_worker, city.community_a, Role.WORKER)  # nested, changes nothing
    scope = Scope.for_user(street_worker)
    assert scope.roots() == (city.street.path,)
    assert set(Person.objects.within(scope)) == {person_a, person_b}
    assert set(Org.objects.within(scope)) == {
        city.street,
        city.community_a,
        city.community_b,
        city.grid_a,
        city.grid_b,
    }
    assert city.city not in Org.objects.within(scope)
    assert city.district not in Org.objects.within(scope)


@pytest.mark.django_db
def test_supervisor_views_but_does_not_edit(world):
    city, person_a, person_b = world
    supervisor = UserFactory(username="supervisor")
    grant(supervisor, city.street, Role.SUPERVISOR)
    scope = Scope.for_user(supervisor)
    assert set(Person.objects.within(scope, Perm.PERSON_VIEW)) == {person_a, person_b}
    assert AuditEntry.objects.within(scope, Perm.AUDIT_VIEW).count() == 3
    assert list(Person.objects.within(scope, Perm.PERSON_EDIT)) == []
    count = AuditEntry.objects.count()
    with pytest.raises(PermissionDenied):
        person_update(actor=supervisor, scope=scope, person=person_a, name="王五")
    with pytest.raises(PermissionDenied):
        person_reveal(actor=supervisor, scope=scope, person=person_a)
    with pytest.raises(PermissionDenied):
        org_create(
            actor=supervisor, scope=scope, parent=city.community_a, kind=OrgKind.GRID, name="二"
        )
    with pytest.raises(PermissionDenied):
        org_update(actor=supervisor, scope=scope, org=city.community_a, name="改名")
    assert AuditEntry.objects.count() == count
    assert Person.objects.get(pk=person_a.pk).name == "张三"
    assert Org.objects.get(pk=city.community_a.pk).name == "甲社区"
