"""Family links: declare by ID number, verify at the counter, revoke — and what transfers
make of them."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError

from huzhu.common.models import AuditEntry
from huzhu.orgs.scope import Scope
from huzhu.timebank.family_services import family_declare, family_revoke, family_verify
from huzhu.timebank.models import FamilyLink
from huzhu.timebank.services import relation_between
from tests.activities.factories import make_volunteer
from tests.factories import make_id_number, make_person

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def member(city):
    """王芳, a volunteer of community A with a login."""
    return make_volunteer(city.grid_a, "王芳", username="wangfang").person


@pytest.fixture
def parent(city):
    return make_person(city.grid_a, "王建国", id_number=make_id_number(birth=dt.date(1950, 3, 1)))


def scope_of(user) -> Scope:
    return Scope.for_user(user)


def link_state() -> list[tuple]:
    return list(
        FamilyLink.objects.order_by("id").values_list(
            "id", "person_id", "relative_id", "relation", "verified_at", "evidence", "revoked_at"
        )
    )


def declare(member, relative, relation="parent") -> FamilyLink:
    return family_declare(
        actor=member.user, person=member, relative_id_number=relative.id_number, relation=relation
    )


# --- declare ---------------------------------------------------------------------------------


def test_member_declares_a_relative_by_full_id_number(member, parent):
    link = declare(member, parent)
    assert (link.person_id, link.relative_id, link.relation) == (member.pk, parent.pk, "parent")
    assert (link.declared_by, link.verified_at, link.revoked_at) == (member.user, None, None)
    audit = AuditEntry.objects.get(verb="timebank.family_declare")
    assert (audit.actor, audit.target_id, audit.org) == (member.user, str(link.pk), member.org)
    assert audit.data == {"relative": parent.pk, "relation": "parent", "by_worker": False}


def test_id_number_with_spaces_and_lower_x_is_found(city, member):
    relative = make_person(city.grid_a, "王小", id_number="11010519491231002X")
    link = family_declare(
        actor=member.user,
        person=member,
        relative_id_number=" 11010519491231002x ",
        relation="child",
    )
    assert link.relative_id == relative.pk


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "身份证号不能为空"),
        ("12345", "身份证号应为18位（前17位为数字，末位为数字或X），或15位旧号码"),
        ("110105194912310021", "身份证号校验位不正确，请核对后重新输入"),
    ],
)
def test_bad_id_number_is_refused_on_the_field(member, number, message):
    with pytest.raises(ValidationError) as refusal:
        family_declare(
            actor=member.user, person=member, relative_id_number=number, relation="parent"
        )
    assert refusal.value.message_dict == {"relative_id_number": [message]}
    assert link_state() == []


def test_unregistered_relative_is_refused(member):
    with pytest.raises(ValidationError) as refusal:
        family_declare(
            actor=member.user,
            person=member,
            relative_id_number=make_id_number(),
            relation="parent",
        )
    assert refusal.value.message_dict == {
        "relative_id_number": ["没有找到该身份证号的登记居民，请亲属先到所在社区登记后再申报。"]
    }
    assert (link_state(), AuditEntry.objects.filter(verb__startswith="timebank").count()) == ([], 0)


def test_self_is_refused(member):
    with pytest.raises(ValidationError) as refusal:
        declare(member, member, "spouse")
    assert refusal.value.message_dict == {"relative_id_number": ["不能申报与本人的关系。"]}
    assert link_state() == []


def test_unknown_relation_is_refused(member, parent):
    with pytest.raises(ValidationError) as refusal:
        declare(member, parent, "neighbour")
    assert refusal.value.message_dict == {"relation": ["请选择与亲属的关系。"]}
    assert link_state() == []


def test_duplicate_active_declaration_is_refused_either_way(city, member, parent):
    declare(member, parent)
    parent.user = User.objects.create_user(username="wangjianguo", password="pw")
    parent.save(update_fields=["user"])
    before = link_state()
    message = {"relative_id_number": ["已申报过与这位亲属的关系，无需重复申报。"]}
    with pytest.raises(ValidationError) as again:
        declare(member, parent, "parent")
    assert again.value.message_dict == message
    with pytest.raises(ValidationError) as back:
        declare(parent, member, "child")
    assert back.value.message_dict == message
    assert link_state() == before


def test_a_revoked_relation_may_be_declared_again(member, parent):
    first = declare(member, parent)
    family_revoke(actor=member.user, link=first)
    second = declare(member, parent, "parent")
    assert second.pk != first.pk
    assert FamilyLink.objects.filter(revoked_at__isnull=True).get().pk == second.pk


def test_nobody_else_declares_for_a_member(city, member, parent):
    other = make_volunteer(city.grid_a, "赵六", username="zhaoliu").person
    for actor, scope in ((other.user, None), (city.worker_b, scope_of(city.worker_b))):
        with pytest.raises(PermissionDenied):
            family_declare(
                actor=actor,
                scope=scope,
                person=member,
                relative_id_number=parent.id_number,
                relation="parent",
            )
    assert link_state() == []


def test_a_worker_declares_at_the_counter(city, member, parent):
    link = family_declare(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        person=member,
        relative=parent,
        relation="parent",
    )
    assert (link.declared_by, link.relative_id) == (city.worker_a, parent.pk)
    assert AuditEntry.objects.get(verb="timebank.family_declare").data["by_worker"] is True


# --- verify ----------------------------------------------------------------------------------


def test_worker_of_the_members_community_verifies(city, member, parent):
    link = declare(member, parent)
    done = family_verify(
        actor=city.worker_a, scope=scope_of(city.worker_a), link=link, evidence=" 户口簿 "
    )
    assert (done.verified_by, done.evidence) == (city.worker_a, "户口簿")
    assert done.verified_at is not None
    audit = AuditEntry.objects.get(verb="timebank.family_verify")
    assert (audit.actor, audit.target_id, audit.data) == (
        city.worker_a,
        str(link.pk),
        {"evidence": "户口簿"},
    )
    assert relation_between(member, parent) == "parent"
    assert relation_between(parent, member) == "parent"  # either way round


def test_worker_of_another_community_or_the_member_cannot_verify(city, member, parent):
    link = declare(member, parent)
    before = link_state()
    for actor in (city.worker_b, member.user):
        with pytest.raises(PermissionDenied):
            family_verify(actor=actor, scope=scope_of(actor), link=link, evidence="户口簿")
    assert link_state() == before
    assert relation_between(member, parent) is None


def test_verify_needs_evidence_and_happens_once(city, member, parent):
    link = declare(member, parent)
    scope = scope_of(city.worker_a)
    with pytest.raises(ValidationError) as empty:
        family_verify(actor=city.worker_a, scope=scope, link=link, evidence="  ")
    assert empty.value.message_dict == {"evidence": ["请填写核实依据（如户口簿、结婚证）。"]}
    with pytest.raises(ValidationError) as long:
        family_verify(actor=city.worker_a, scope=scope, link=link, evidence="证" * 201)
    assert long.value.message_dict == {"evidence": ["核实依据不能超过200个字。"]}
    family_verify(actor=city.worker_a, scope=scope, link=link, evidence="户口簿")
    before = link_state()
    with pytest.raises(ValidationError) as twice:
        family_verify(actor=city.worker_a, scope=scope, link=link, evidence="结婚证")
    assert twice.value.messages == ["该亲属关系已核实。"]
    assert link_state() == before


def test_a_revoked_link_cannot_be_verified(city, member, parent):
    link = declare(member, parent)
    family_revoke(actor=member.user, link=link)
    before = link_state()
    with pytest.raises(ValidationError) as refusal:
        family_verify(
            actor=city.worker_a, scope=scope_of(city.worker_a), link=link, evidence="户口簿"
        )
    assert refusal.value.messages == ["该亲属关系已撤销，不能核实。"]
    assert link_state() == before


# --- revoke ----------------------------------------------------------------------------------


def test_member_revokes_their_own_link_and_transfers_stop(city, member, parent):
    link = declare(member, parent)
    family_verify(actor=city.worker_a, scope=scope_of(city.worker_a), link=link, evidence="户口簿")
    done = family_revoke(actor=member.user, link=link)
    assert done.revoked_at is not None
    audit = AuditEntry.objects.get(verb="timebank.family_revoke")
    assert (audit.actor, audit.data) == (member.user, {"reason": "本人撤销", "by_worker": False})
    assert relation_between(member, parent) is None


def test_worker_revokes_with_a_reason(city, member, parent):
    link = declare(member, parent)
    scope = scope_of(city.worker_a)
    with pytest.raises(ValidationError) as refusal:
        family_revoke(actor=city.worker_a, scope=scope, link=link, reason="")
    assert refusal.value.message_dict == {"reason": ["请填写撤销原因。"]}
    assert FamilyLink.objects.get().revoked_at is None
    family_revoke(actor=city.worker_a, scope=scope, link=link, reason="户籍信息不符")
    assert FamilyLink.objects.get().revoked_at is not None
    assert AuditEntry.objects.get(verb="timebank.family_revoke").data == {
        "reason": "户籍信息不符",
        "by_worker": True,
    }


def test_others_cannot_revoke_and_revoking_twice_is_refused(city, member, parent):
    link = declare(member, parent)
    other = make_volunteer(city.grid_a, "赵六", username="zhaoliu").person
    for actor in (city.worker_b, other.user):
        with pytest.raises(PermissionDenied):
            family_revoke(actor=actor, scope=scope_of(actor), link=link, reason="无")
    assert FamilyLink.objects.get().revoked_at is None
    family_revoke(actor=member.user, link=link)
    before = link_state()
    with pytest.raises(ValidationError) as twice:
        family_revoke(actor=member.user, link=link)
    assert twice.value.messages == ["该亲属关系已撤销。"]
    assert link_state() == before
