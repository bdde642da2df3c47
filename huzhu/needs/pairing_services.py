"""结对帮扶: long-term pairs of a volunteer or party member with a resident in difficulty, their
visit log, and reminders when a pair goes quiet.

Rules:

* a worker (or party worker) pairs a helper they can see with a resident of a community they
  manage pairings in; the pair belongs to the resident's org;
* one active pair per helper and resident; nobody is paired with themself; both in residence;
* 党员结对: when the helper is a registered volunteer, their 政治面貌 decides — a party member
  (预备党员 included) is always flagged, anyone else cannot be;
* the helper — or a worker — logs visits on an active pair, dated between the start and today;
  the pair's last visit moves forward, never back;
* a pair is quiet once more than ``visit_every_days`` have passed since its last visit (or its
  start); the helper and the community's workers are told once per quiet spell.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import DateField
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.identity import mask_name
from huzhu.common.services import notify
from huzhu.needs.models import Pairing, PairingStatus, Visit
from huzhu.needs.selectors import community_of, person_id_of
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm, Role
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person, ResidenceStatus

PURPOSE_MAX = 200
VISIT_TEXT_MAX = 300
REASON_MAX = 200
CYCLE_MAX_DAYS = 366
VISIT_MAX_MINUTES = 24 * 60


def _require(scope: Scope, org: Org) -> None:
    if not scope.can(Perm.PAIRING_MANAGE, org):
        raise PermissionDenied(_("没有在该社区管理结对帮扶的权限。"))


def _too_long(text: str, limit: int) -> bool:
    return len(text.strip()) > limit


def helper_is_party_member_on_record(helper: Person) -> bool | None:
    """What the register says of the helper's party membership: the 政治面貌 of their
    volunteer registration (预备党员 counts), or None when they are not a registered volunteer."""
    from huzhu.volunteers.models import PoliticalStatus, Volunteer

    status = (
        Volunteer.objects.filter(person_id=helper.pk)
        .values_list("political_status", flat=True)
        .first()
    )
    if status is None:
        return None
    return status in (PoliticalStatus.CPC_MEMBER, PoliticalStatus.CPC_PROBATIONARY)


# --- creating and ending a pair -----------------------------------------------------------


@dataclass
class PairingInput:
    helper: Person
    resident: Person
    purpose: str
    started_on: dt.date
    visit_every_days: int = field(default_factory=lambda: settings.HUZHU_PAIRING_VISIT_DAYS)
    helper_is_party_member: bool = False


def _pairing_errors(
    scope: Scope, data: PairingInput, party_on_record: bool | None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    helper, resident = data.helper, data.resident
    if not scope.can(Perm.VIEW, helper.org):
        errors["helper"] = [_("请从查找结果中选择帮扶人。")]
    elif helper.pk == resident.pk:
        errors["helper"] = [_("帮扶人和帮扶对象不能是同一人。")]
    elif helper.status != ResidenceStatus.ACTIVE:
        errors["helper"] = [
            _("帮扶人的状态为“%(status)s”，不能结对。") % {"status": helper.get_status_display()}
        ]
    if resident.status != ResidenceStatus.ACTIVE:
        errors["resident"] = [
            _("帮扶对象的状态为“%(status)s”，不能结对。")
            % {"status": resident.get_status_display()}
        ]
    elif "helper" not in errors and _active_pair_exists(helper, resident):
        errors["resident"] = [_("这两人已在结对中，不能重复结对。")]
    if not data.purpose.strip():
        errors["purpose"] = [_("请填写帮扶内容。")]
    elif _too_long(data.purpose, PURPOSE_MAX):
        errors["purpose"] = [_("帮扶内容不能超过 %(n)d 个字。") % {"n": PURPOSE_MAX}]
    if not 1 <= data.visit_every_days <= CYCLE_MAX_DAYS:
        errors["visit_every_days"] = [_("走访周期应在 1 到 %(n)d 天之间。") % {"n": CYCLE_MAX_DAYS}]
    if data.started_on > timezone.localdate():
        errors["started_on"] = [_("结对日期不能晚于今天。")]
    if data.helper_is_party_member and party_on_record is False:
        errors["helper_is_party_member"] = [
            _("帮扶人登记的政治面貌不是中共党员（含预备党员），不能登记为党员结对。")
        ]
    return errors


def _active_pair_exists(helper: Person, resident: Person) -> bool:
    return Pairing.objects.filter(
        helper=helper, resident=resident, status=PairingStatus.ACTIVE
    ).exists()


def pairing_create(*, actor: Any, scope: Scope, data: PairingInput) -> Pairing:
    """Pair a helper with a resident of the worker's community (the resident's org owns it)."""
    org = data.resident.org
    _require(scope, org)
    party_on_record = helper_is_party_member_on_record(data.helper)
    errors = _pairing_errors(scope, data, party_on_record)
    if errors:
        raise ValidationError(errors)
    party = data.helper_is_party_member or bool(party_on_record)
    try:
        with transaction.atomic():
            pairing = Pairing.objects.create(
                org=org,
                helper=data.helper,
                resident=data.resident,
                purpose=data.purpose.strip(),
                started_on=data.started_on,
                visit_every_days=data.visit_every_days,
                helper_is_party_member=party,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            log_action(
                actor,
                "pairing.create",
                pairing,
                {"resident": pairing.resident_id, "helper": pairing.helper_id, "party": party},
            )
    except IntegrityError as exc:  # a concurrent request paired them first
        raise ValidationError({"resident": [_("这两人已在结对中，不能重复结对。")]}) from exc
    if data.helper.user_id:
        notify(
            user=data.helper.user,
            kind="pairing.create",
            title=_("您已与 %(name)s 结对帮扶") % {"name": mask_name(data.resident.name)},
            body=pairing.purpose,
            url=reverse("needs:pairing_detail", args=[pairing.pk]),
        )
    return pairing


def pairing_end(*, actor: Any, scope: Scope, pairing: Pairing, reason: str) -> Pairing:
    _require(scope, pairing.org)
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": [_("请说明结束原因。")]})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": [_("结束原因不能超过 %(n)d 个字。") % {"n": REASON_MAX}]})
    with transaction.atomic():
        pairing = (
            Pairing.objects.select_for_update(of=("self",))
            .select_related("org", "helper__user", "resident")
            .get(pk=pairing.pk)
        )
        if pairing.status != PairingStatus.ACTIVE:
            raise ValidationError(_("该结对已结束。"))
        pairing.status, pairing.ended_on = PairingStatus.ENDED, timezone.localdate()
        pairing.end_reason = reason
        pairing.save(update_fields=["status", "ended_on", "end_reason"])
        log_action(actor, "pairing.end", pairing, {"reason": pairing.end_reason})
    if pairing.helper.user_id:
        notify(
            user=pairing.helper.user,
            kind="pairing.end",
            title=_("您与 %(name)s 的结对帮扶已结束") % {"name": mask_name(pairing.resident.name)},
            body=pairing.end_reason,
            url=reverse("needs:pairing_detail", args=[pairing.pk]),
        )
    return pairing


# --- the visit log ------------------------------------------------------------------------


@dataclass
class VisitInput:
    visited_on: dt.date
    done: str
    concerns: str = ""
    minutes: int | None = None


def _visit_errors(pairing: Pairing, data: VisitInput) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if data.visited_on > timezone.localdate():
        errors["visited_on"] = [_("走访日期不能晚于今天。")]
    elif data.visited_on < pairing.started_on:
        errors["visited_on"] = [
            _("走访日期不能早于结对日期（%(day)s）。")
            % {"day": pairing.started_on.strftime("%Y-%m-%d")}
        ]
    if not data.done.strip():
        errors["done"] = [_("请填写帮扶事项。")]
    elif _too_long(data.done, VISIT_TEXT_MAX):
        errors["done"] = [_("帮扶事项不能超过 %(n)d 个字。") % {"n": VISIT_TEXT_MAX}]
    if _too_long(data.concerns, VISIT_TEXT_MAX):
        errors["concerns"] = [_("反映的困难或诉求不能超过 %(n)d 个字。") % {"n": VISIT_TEXT_MAX}]
    if data.minutes is not None and not 1 <= data.minutes <= VISIT_MAX_MINUTES:
        errors["minutes"] = [_("时长应在 1 分钟到 24 小时之间。")]
    return errors


def visit_log(*, actor: Any, scope: Scope, pairing: Pairing, data: VisitInput) -> Visit:
    """The helper (or a worker) records a visit; the pair's last visit moves forward."""
    if pairing.helper_id != person_id_of(actor):
        _require(scope, pairing.org)
    ended = ValidationError(_("该结对已结束，不能再记录走访。"))
    if pairing.status != PairingStatus.ACTIVE:
        raise ended
    errors = _visit_errors(pairing, data)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        pairing = Pairing.objects.select_for_update().get(pk=pairing.pk)
        if pairing.status != PairingStatus.ACTIVE:
            raise ended
        visit = Visit.objects.create(
            pairing=pairing,
            visited_on=data.visited_on,
            minutes=data.minutes,
            done=data.done.strip(),
            concerns=data.concerns.strip(),
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if pairing.last_visit_on is None or data.visited_on > pairing.last_visit_on:
            pairing.last_visit_on = data.visited_on
            pairing.save(update_fields=["last_visit_on"])
        log_action(actor, "pairing.visit", pairing, {"visited_on": data.visited_on.isoformat()})
    return visit


# --- reminders ----------------------------------------------------------------------------


def quiet_from(pairing: Pairing) -> dt.date:
    """The first day of the pair's current quiet spell: the day after its visit cycle has run
    out since the last visit (or the start)."""
    last = pairing.last_visit_on or pairing.started_on
    return last + dt.timedelta(days=pairing.visit_every_days + 1)


def _due_reminders(today: dt.date) -> list[Pairing]:
    """Active pairs quiet on ``today`` that have not been reminded in this quiet spell."""
    last = Coalesce("last_visit_on", "started_on", output_field=DateField())
    rows = (
        Pairing.objects.filter(status=PairingStatus.ACTIVE)
        .annotate(last_seen=last)
        .filter(last_seen__lt=today - dt.timedelta(days=1))  # no cycle is shorter than a day
        .select_related("org", "helper__user", "resident")
        .order_by("pk")
    )
    return [
        pairing
        for pairing in rows
        if quiet_from(pairing) <= today
        and (pairing.reminded_on is None or pairing.reminded_on < quiet_from(pairing))
    ]


class _Staff:
    """Who hears of a community's quiet pairs: its (and the grid's) workers and admins, and
    for a party member's pair also its party workers. Looked up once per org."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, bool], list[Any]] = {}

    def of(self, pairing: Pairing) -> list[Any]:
        key = (pairing.org_id, pairing.helper_is_party_member)
        if key not in self._cache:
            from django.contrib.auth import get_user_model

            roles = [Role.WORKER, Role.ADMIN]
            if pairing.helper_is_party_member:
                roles.append(Role.PARTY_WORKER)
            orgs = {pairing.org_id, community_of(pairing.org).pk}
            self._cache[key] = list(
                get_user_model()
                .objects.filter(
                    is_active=True, role_grants__org_id__in=orgs, role_grants__role__in=roles
                )
                .distinct()
                .order_by("pk")
            )
        return self._cache[key]


def quiet_pairings_remind(*, today: dt.date) -> int:
    """Remind the helper — and the community's workers — of each pair gone quiet, once per
    quiet spell (the pair's ``reminded_on`` and the notification's dedupe key). Returns how
    many pairs were reminded."""
    staff = _Staff()
    count = 0
    for pairing in _due_reminders(today):
        last = pairing.last_visit_on or pairing.started_on
        title = _("结对帮扶已 %(d)d 天未走访：%(name)s") % {
            "d": (today - last).days,
            "name": mask_name(pairing.resident.name),
        }
        body = _("帮扶人：%(helper)s；帮扶内容：%(purpose)s；走访周期 %(n)d 天。") % {
            "helper": mask_name(pairing.helper.name),
            "purpose": pairing.purpose,
            "n": pairing.visit_every_days,
        }
        users = {user.pk: user for user in staff.of(pairing)}
        if pairing.helper.user_id:
            users.setdefault(pairing.helper.user_id, pairing.helper.user)
        with transaction.atomic():
            for user in users.values():
                notify(
                    user=user,
                    kind="pairing.quiet",
                    title=title,
                    body=body,
                    url=reverse("needs:pairing_detail", args=[pairing.pk]),
                    dedupe_key=f"pairing.quiet:{pairing.pk}:{last.isoformat()}",
                )
            Pairing.objects.filter(pk=pairing.pk).update(reminded_on=today)
        count += 1
    return count
