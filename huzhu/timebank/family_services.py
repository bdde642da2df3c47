"""Family links (DOMAIN.md §5): a member declares a relation to another registered resident,
a worker of the member's community verifies it, and only verified links allow 转赠.

A declaration names the relative by their full ID number, found through the people app's
keyed hash (the number itself is never stored here). Every write is audited.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.identity import parse_id_number
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.people.services import id_number_hash
from huzhu.timebank.models import FamilyLink, Relation

EVIDENCE_MAX = 200
REASON_MAX = 200


def _is_self(actor: Any, person: Person) -> bool:
    """Whether ``actor`` is the signed-in user of ``person``."""
    user_id = getattr(actor, "pk", None)
    return bool(getattr(actor, "is_authenticated", False)) and user_id == person.user_id


def _may_operate(scope: Scope | None, person: Person) -> bool:
    return scope is not None and scope.can(Perm.TIMEBANK_OPERATE, person.org)


def _find_relative(id_number: str) -> Person:
    try:
        citizen = parse_id_number(id_number)
    except ValidationError as exc:
        raise ValidationError({"relative_id_number": exc.messages}) from exc
    found = (
        Person.objects.filter(id_number_hash=id_number_hash(citizen.number))
        .select_related("org")
        .first()
    )
    if found is None:
        raise ValidationError(
            {
                "relative_id_number": _(
                    "没有找到该身份证号的登记居民，请亲属先到所在社区登记后再申报。"
                )
            }
        )
    return found


def _active_between(person: Person, relative: Person) -> bool:
    """An active (not revoked) declaration between the two, made by either of them."""
    return (
        FamilyLink.objects.filter(revoked_at__isnull=True)
        .filter(
            Q(person_id=person.pk, relative_id=relative.pk)
            | Q(person_id=relative.pk, relative_id=person.pk)
        )
        .exists()
    )


def family_declare(
    *,
    actor: Any,
    person: Person,
    relation: str,
    relative: Person | None = None,
    relative_id_number: str = "",
    scope: Scope | None = None,
) -> FamilyLink:
    """申报亲属关系: ``relation`` is what the relative is to ``person``. The actor is the
    member themself, or a worker with the counter permission on the member's org (pass
    ``scope``). The link waits for a worker's verification before transfers may use it."""
    if not (_is_self(actor, person) or _may_operate(scope, person)):
        raise PermissionDenied(_("只能为本人申报亲属关系。"))
    if relation not in Relation.values:
        raise ValidationError({"relation": _("请选择与亲属的关系。")})
    if relative is None:
        relative = _find_relative(relative_id_number)
    if relative.pk == person.pk:
        raise ValidationError({"relative_id_number": _("不能申报与本人的关系。")})
    if _active_between(person, relative):
        raise ValidationError({"relative_id_number": _("已申报过与这位亲属的关系，无需重复申报。")})
    try:
        with transaction.atomic():
            link = FamilyLink.objects.create(
                person=person,
                relative=relative,
                relation=relation,
                declared_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError as exc:  # the same declaration submitted twice at once
        raise ValidationError(
            {"relative_id_number": _("已申报过与这位亲属的关系，无需重复申报。")}
        ) from exc
    log_action(
        actor,
        "timebank.family_declare",
        link,
        {"relative": relative.pk, "relation": relation, "by_worker": not _is_self(actor, person)},
    )
    return link


def _locked(link: FamilyLink) -> FamilyLink:
    return FamilyLink.objects.select_for_update().select_related("person__org").get(pk=link.pk)


def family_verify(*, actor: Any, scope: Scope, link: FamilyLink, evidence: str) -> FamilyLink:
    """核实: a worker with the counter permission on the member's org confirms the relation,
    recording what it was checked against (户口簿、结婚证 …)."""
    if not _may_operate(scope, link.person):
        raise PermissionDenied(_("没有核实该居民亲属关系的权限。"))
    evidence = (evidence or "").strip()
    if not evidence:
        raise ValidationError({"evidence": _("请填写核实依据（如户口簿、结婚证）。")})
    if len(evidence) > EVIDENCE_MAX:
        raise ValidationError({"evidence": _("核实依据不能超过200个字。")})
    with transaction.atomic():
        current = _locked(link)
        if current.revoked_at is not None:
            raise ValidationError(_("该亲属关系已撤销，不能核实。"))
        if current.verified_at is not None:
            raise ValidationError(_("该亲属关系已核实。"))
        current.verified_at = timezone.now()
        current.verified_by = actor if getattr(actor, "is_authenticated", False) else None
        current.evidence = evidence
        current.save(update_fields=["verified_at", "verified_by", "evidence"])
    log_action(actor, "timebank.family_verify", current, {"evidence": evidence})
    return current


def family_revoke(
    *, actor: Any, link: FamilyLink, reason: str = "", scope: Scope | None = None
) -> FamilyLink:
    """撤销: the member who declared the link, or a worker with the counter permission on
    the member's org (who must give a reason). Transfers stop using it at once."""
    is_self = _is_self(actor, link.person)
    if not (is_self or _may_operate(scope, link.person)):
        raise PermissionDenied(_("没有撤销该亲属关系的权限。"))
    reason = (reason or "").strip()
    if not reason and not is_self:
        raise ValidationError({"reason": _("请填写撤销原因。")})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": _("撤销原因不能超过200个字。")})
    with transaction.atomic():
        current = _locked(link)
        if current.revoked_at is not None:
            raise ValidationError(_("该亲属关系已撤销。"))
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
    log_action(
        actor,
        "timebank.family_revoke",
        current,
        {"reason": reason or _("本人撤销"), "by_worker": not is_self},
    )
    return current
