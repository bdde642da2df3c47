import pytest

from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from tests.factories import make_person


@pytest.mark.django_db
def test_scope_isolates_sibling_communities(city):
    p = make_person(city.community_a, "张三")
    scope_a = Scope.for_user(city.worker_a)
    scope_b = Scope.for_user(city.worker_b)
    assert list(Person.objects.within(scope_a)) == [p]
    assert list(Person.objects.within(scope_b)) == []
    assert p.name_initials == "zs"
