"""结对帮扶: long-term pairs of a volunteer or party member with a resident in difficulty, their
visit log, and reminders when a pair goes quiet."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.identity import mask_name
from huzhu.common.services import notify
from huzhu.needs.models import Pairing, PairingStatus, Visit
from huzhu.needs.selectors import person_id_of, quiet_pairings
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person


def _require(scope: Scope, org: Org) -> None:
    if not scope.can(Perm.PAIRING_MANAGE, org):
        raise PermissionDenied(_("没有在该社区管理结对帮扶的权限。"))


@dataclass
class PairingInput:
    helper: Person
    resident: Person
    purpose: str
    started_on: dt.date
    visit_every_days: int = 30
    helper_is_party_member: bool = False


def pairing_create(*, actor: Any, scope: Scope, data: PairingInput) -> Pairing:
    """Pair a helper with a resident of the worker's community (the resident's org owns it)."""
    org = data.resident.org
    _require(scope, org)
    errors: dict[str, list[str]] = {}
    if data.helper.pk == data.resident.pk:
        errors["helper"] = [_("帮扶人和帮扶对象不能是同一人。")]
    if not data.purpose.strip():
        errors["purpose"] = [_("请填写帮扶内容。")]
    if not 1 <= data.visit_every_days <= 366:
        errors["visit_every_days"] = [_("走访周期应在 1 到 366 天之间。")]
    if data.started_on > timezone.localdate():
        errors["started_on"] = [_("结对日期不能晚于今天。")]
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            pairing = Pairing.objects.create(
                org=org,
                helper=data.helper,
                resident=data.resident,
                purpose=data.purpose.strip()[:200],
                started_on=data.started_on,
                visit_every_days=data.visit_every_days,
                helper_is_party_member=data.helper_is_party_member,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
            log_action(actor, "pairing.create", pairing, {"resident": pairing.resident_id})
    except IntegrityError as exc:
        raise ValidationError({"resident": [_("这两人已经结对。")]}) from exc
    if data.helper.user_id:
        notify(
            user=data.helper.user,
            kind="pairing.create",
            title=_("您已与 %(name)s 结对帮扶") % {"name": mask_name(data.resident.name)},
            body=data.purpose,
            url=reverse("needs:pairing_detail", args=[pairing.pk]),
        )
    return pairing


def pairing_end(*, actor: Any, scope: Scope, pairing: Pairing, reason: str) -> Pairing:
    _require(scope, pairing.org)
    if not reason.strip():
        raise ValidationError({"reason": [_("请说明结束原因。")]})
    with transaction.atomic():
        pairing = Pairing.objects.select_for_update().get(pk=pairing.pk)
        if pairing.status != PairingStatus.ACTIVE:
            raise ValidationError({"reason": [_("该结对已结束。")]})
        pairing.status, pairing.ended_on = PairingStatus.ENDED, timezone.localdate()
        pairing.end_reason = reason.strip()[:200]
        pairing.save(update_fields=["status", "ended_on", "end_reason"])
        log_action(actor, "pairing.end", pairing, {"reason": pairing.end_reason})
    return pairing


@dataclass
class VisitInput:
    visited_on: dt.date
    done: str
    concerns: str = ""
    minutes: int | None = None


def visit_log(*, actor: Any, scope: Scope, pairing: Pairing, data: VisitInput) -> Visit:
    """The helper (or a worker) records a visit; the pair's last visit moves forward."""
    own = pairing.helper_id == person_id_of(actor)
    if not own:
        _require(scope, pairing.org)
    errors: dict[str, list[str]] = {}
    if data.visited_on > timezone.localdate():
        errors["visited_on"] = [_("走访日期不能晚于今天。")]
    elif data.visited_on < pairing.started_on:
        errors["visited_on"] = [_("走访日期不能早于结对日期。")]
    if not data.done.strip():
        errors["done"] = [_("请填写帮扶事项。")]
    if data.minutes is not None and not 1 <= data.minutes <= 24 * 60:
        errors["minutes"] = [_("时长应在 1 分钟到 24 小时之间。")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        pairing = Pairing.objects.select_for_update().get(pk=pairing.pk)
        if pairing.status != PairingStatus.ACTIVE:
            raise ValidationError({"visited_on": [_("该结对已结束，不能再记录走访。")]})
        visit = Visit.objects.create(
            pairing=pairing,
            visited_on=data.visited_on,
            minutes=data.minutes,
            done=data.done.strip()[:300],
            concerns=data.concerns.strip()[:300],
            recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if pairing.last_visit_on is None or data.visited_on > pairing.last_visit_on:
            pairing.last_visit_on = data.visited_on
            pairing.save(update_fields=["last_visit_on"])
        log_action(actor, "pairing.visit", pairing, {"visited_on": data.visited_on.isoformat()})
    return visit


def quiet_pairings_remind(*, today: dt.date) -> int:
    """Remind the helper — and the community's workers — of each pair gone quiet, once per
    quiet spell (the pair's ``reminded_on`` and the notification's dedupe key)."""
    from django.contrib.auth import get_user_model

    from huzhu.orgs.roles import Role

    quiet = quiet_pairings(Pairing.objects.select_related("org", "helper__user", "resident"), today)
    count = 0
    for pairing in quiet:
        last = pairing.last_visit_on or pairing.started_on
        if pairing.reminded_on is not None and pairing.reminded_on > last:
            continue
        title = _("结对帮扶已 %(d)d 天未走访：%(name)s") % {
            "d": (today - last).days,
            "name": mask_name(pairing.resident.name),
        }
        users = list(
            get_user_model()
            .objects.filter(
                role_grants__org=pairing.org, role_grants__role__in=(Role.WORKER, Role.ADMIN)
            )
            .distinct()
        )
        if pairing.helper.user_id:
            users.append(pairing.helper.user)
        with transaction.atomic():
            for user in users:
                notify(
                    user=user,
                    kind="pairing.quiet",
                    title=title,
                    url=reverse("needs:pairing_detail", args=[pairing.pk]),
                    dedupe_key=f"pairing.quiet:{pairing.pk}:{last.isoformat()}",
                )
            Pairing.objects.filter(pk=pairing.pk).update(reminded_on=today)
        count += 1
    return count
