"""Every write of the service desk's tickets (DOMAIN.md §6), atomic and audited.

登记 → 受理 (or 当场答复 → 办结) → 派单 → 签收 | 回退 → 办理 (延期) → 反馈 → 回访 → 办结 | 退回重办.
Deadlines count working days on the mainland calendar; ``tickets_escalate`` (run by
``huzhu runperiodic``) raises overdue work to the street and then the district.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.calendar import add_working_days, count_working_days
from huzhu.common.crypto import encrypt, keyed_hash
from huzhu.common.identity import mask_phone, normalise_text
from huzhu.common.services import counter_next
from huzhu.desk import notifications
from huzhu.desk.models import (
    OPEN_TICKET_STATUSES,
    Channel,
    CloseReason,
    EscalationLevel,
    MatterType,
    PhotoKind,
    Ticket,
    TicketEvent,
    TicketPhoto,
    TicketStatus,
)
from huzhu.desk.photos import CleanPhoto, clean_photos
from huzhu.desk.ratelimit import check_rate, source_hash
from huzhu.desk.selectors import (
    STAFF_CHANNELS,
    TicketAccess,
    community_of,
    matter_types_for,
    patrol_team_for,
    person_id_of,
)
from huzhu.desk.text import plain_text_errors
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _label(actor: Any) -> str:
    return actor.get_username() if _is_user(actor) else (str(actor) if actor else _("系统"))


def _event(
    ticket: Ticket, actor: Any, verb: str, before: str, note: str = "", public: bool = False
) -> TicketEvent:
    return TicketEvent.objects.create(
        ticket=ticket,
        verb=verb,
        from_status=before if before != ticket.status else "",
        to_status=ticket.status if before != ticket.status else "",
        actor=actor if _is_user(actor) else None,
        actor_label=_label(actor),
        note=note[:500],
        is_public=public,
    )


def _locked(ticket: Ticket) -> Ticket:
    """The ticket's row, locked until the transaction ends, with what the steps read (the
    receiver and reporter load only when a notification needs them)."""
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("org", "grid", "matter_type", "team")
        .order_by()
        .get(pk=ticket.pk)
    )


def _refuse_status(ticket: Ticket, allowed: tuple[str, ...], action: str) -> None:
    if ticket.status not in allowed:
        raise ValidationError(
            _("工单 %(number)s 当前为“%(status)s”，不能%(action)s。")
            % {
                "number": ticket.number,
                "status": TicketStatus(ticket.status).label,
                "action": action,
            },
            code="status",
        )


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise PermissionDenied(message)


def _required_text(value: str, field_name: str, label: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field_name: [_("请填写%(label)s。") % {"label": label}]})
    if len(value) > limit:
        raise ValidationError(
            {field_name: [_("%(label)s不能超过 %(n)d 字。") % {"label": label, "n": limit}]}
        )
    errors = plain_text_errors({field_name: value})
    if errors:
        raise ValidationError(errors)
    return value


def _optional_text(value: str, field_name: str, label: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ValidationError(
            {field_name: [_("%(label)s不能超过 %(n)d 字。") % {"label": label, "n": limit}]}
        )
    errors = plain_text_errors({field_name: value})
    if errors:
        raise ValidationError(errors)
    return value


def today_local() -> dt.date:
    return timezone.localdate()


# --- registering ---------------------------------------------------------------------------


@dataclass
class TicketInput:
    matter_type_id: int | None
    description: str
    channel: str
    title: str = ""
    org_id: int | None = None  # the community (or a grid of it)
    grid_id: int | None = None
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    reporter_id: int | None = None  # a registered person, entered by staff
    contact_name: str = ""
    contact_phone: str = ""
    reporter_public: bool = False
    photos: list[Any] = field(default_factory=list)


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dlat = math.radians(lat2 - lat1)
    dlon = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    return 6371.0 * math.hypot(dlat, dlon)


def nearest_org(
    kind: str, latitude: float, longitude: float, under: Org | None = None
) -> Org | None:
    """The active org of ``kind`` (under ``under``) whose centre is nearest the point."""
    orgs = Org.objects.filter(kind=kind, is_active=True, latitude__isnull=False)
    if under is not None:
        orgs = orgs.filter(path__startswith=under.path)
    # A coarse box first (about 20 km), then the exact nearest of what is left.
    box = orgs.filter(
        latitude__range=(latitude - 0.2, latitude + 0.2),
        longitude__range=(longitude - 0.25, longitude + 0.25),
    )
    rows = list(box.only("id", "latitude", "longitude", "path", "kind", "name", "parent_id"))
    if not rows:
        return None
    return min(rows, key=lambda o: _distance_km(latitude, longitude, o.latitude, o.longitude))


def _place(data: TicketInput, reporter: Person | None) -> tuple[Org, Org | None]:
    """The community and grid a new ticket belongs to."""
    org = Org.objects.filter(pk=data.org_id, is_active=True).first() if data.org_id else None
    if org is None and reporter is not None:
        org = reporter.org
    if org is None and data.latitude is not None and data.longitude is not None:
        org = nearest_org(OrgKind.COMMUNITY, data.latitude, data.longitude)
    if org is None or org.kind not in (OrgKind.COMMUNITY, OrgKind.GRID):
        raise ValidationError({"org": [_("请选择所属社区。")]})
    community = community_of(org)
    grid = org if org.kind == OrgKind.GRID else None
    if data.grid_id:
        grid = Org.objects.filter(
            pk=data.grid_id, kind=OrgKind.GRID, parent_id=community.pk, is_active=True
        ).first()
        if grid is None:
            raise ValidationError({"grid": [_("网格不属于该社区。")]})
    if grid is None and data.latitude is not None and data.longitude is not None:
        grid = nearest_org(OrgKind.GRID, data.latitude, data.longitude, under=community)
    return community, grid


def _validate(data: TicketInput, community: Org) -> tuple[MatterType, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    matter = (
        matter_types_for(community).filter(pk=data.matter_type_id).first()
        if data.matter_type_id
        else None
    )
    if matter is None:
        errors["matter_type"] = [_("请选择本社区事项清单中的事项。")]
    if data.channel not in Channel.values:
        errors["channel"] = [_("未知的渠道。")]
    description = (data.description or "").strip()
    if not description:
        errors["description"] = [_("请填写反映的内容。")]
    elif len(description) > 2000:
        errors["description"] = [_("内容不能超过 2000 字。")]
    if len(data.title or "") > 60:
        errors["title"] = [_("标题不能超过 60 字。")]
    if len(data.address or "") > 200:
        errors["address"] = [_("地点不能超过 200 字。")]
    if len(data.contact_name or "") > 50:
        errors["contact_name"] = [_("联系人不能超过 50 字。")]
    errors.update(
        plain_text_errors(
            {
                "title": data.title or "",
                "description": description,
                "address": data.address or "",
                "contact_name": data.contact_name or "",
            }
        )
    )
    for name, value, low, high in (
        ("latitude", data.latitude, -90, 90),
        ("longitude", data.longitude, -180, 180),
    ):
        if value is not None and not (low <= value <= high):
            errors[name] = [_("坐标超出范围。")]
    if (data.latitude is None) != (data.longitude is None):
        errors["latitude"] = [_("经度和纬度需同时填写。")]
    if matter is not None and matter.is_civic:
        has_point = data.latitude is not None and data.longitude is not None
        if not (has_point or (data.address or "").strip()):
            errors["address"] = [_("文明评议需要填写地点或在地图上标注位置。")]
    return matter, errors  # type: ignore[return-value]


def _contact_phone(value: str) -> tuple[str, str, str]:
    """(encrypted, hash, masked) of a contact phone, mobile or landline."""
    text = normalise_text(value or "").replace(" ", "").replace("-", "")
    if not text:
        return "", "", ""
    digits = text[3:] if text.startswith("+86") else text
    if not digits.isdigit() or not (7 <= len(digits) <= 12):
        raise ValidationError({"contact_phone": [_("联系电话应为手机号或固定电话号码。")]})
    return encrypt(digits), keyed_hash(digits, "phone"), mask_phone(digits)


def _title(data: TicketInput, matter: MatterType) -> str:
    if (data.title or "").strip():
        return data.title.strip()
    first_line = data.description.strip().splitlines()[0]
    return (first_line[:24] + ("…" if len(first_line) > 24 else "")) or matter.name


def _number(now: dt.datetime) -> str:
    year = timezone.localtime(now).year
    return f"GD{year}{counter_next(f'desk.ticket.{year}'):06d}"


def _save_photos(ticket: Ticket, photos: list[CleanPhoto], kind: str) -> None:
    for photo in photos:
        TicketPhoto.objects.create(
            ticket=ticket,
            kind=kind,
            image=photo.content,
            width=photo.width,
            height=photo.height,
            size=photo.size,
        )


def ticket_create(
    *,
    actor: Any,
    scope: Scope,
    data: TicketInput,
    client_address: str = "",
    app_key: Any = None,
    limit_rate: bool | None = None,
) -> Ticket:
    """Register a matter. Staff register walk-ins and calls for anyone (and become the first
    receiver); residents register their own matters from the web or phone; clients post
    through the API or Open311. Photos are cleaned first, so a bad photo stores nothing."""
    person_id = person_id_of(actor)
    reporter = None
    if data.reporter_id is not None:
        reporter = Person.objects.select_related("org").filter(pk=data.reporter_id).first()
        if reporter is None:
            raise ValidationError({"reporter": [_("居民不存在。")]})
    elif person_id is not None and data.channel not in STAFF_CHANNELS:
        reporter = Person.objects.select_related("org").get(pk=person_id)
    community, grid = _place(data, reporter)
    is_staff_entry = scope.can(Perm.DESK_MANAGE, community)
    if data.channel in STAFF_CHANNELS:
        _require(is_staff_entry, _("只有社区工作人员可以登记来访和来电。"))
    if reporter is not None and data.reporter_id is not None:
        _require(
            is_staff_entry and scope.can(Perm.PERSON_VIEW, reporter.org),
            _("没有为该居民登记事项的权限。"),
        )
    matter, errors = _validate(data, community)
    try:
        phone = _contact_phone(data.contact_phone)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        phone = ("", "", "")
    if errors:
        raise ValidationError(errors)
    photos = clean_photos(list(data.photos)) if data.photos else []
    source = source_hash(client_address)
    if limit_rate if limit_rate is not None else not is_staff_entry:
        check_rate(
            Ticket,
            source=source,
            phone_hash=phone[1],
            person_id=reporter.pk if reporter is not None else None,
        )
    now = timezone.now()
    with transaction.atomic():
        ticket = Ticket.objects.create(
            number=_number(now),
            token=secrets.token_hex(16),
            org=community,
            grid=grid,
            matter_type=matter,
            channel=data.channel,
            title=_title(data, matter),
            description=data.description.strip(),
            address=(data.address or "").strip(),
            latitude=data.latitude,
            longitude=data.longitude,
            reporter=reporter,
            contact_name=(data.contact_name or "").strip(),
            contact_phone_encrypted=phone[0],
            contact_phone_hash=phone[1],
            contact_phone_masked=phone[2],
            reporter_public=data.reporter_public,
            submitted_by=actor if _is_user(actor) else None,
            app_key=app_key,
            source_hash=source,
            receiver=actor if is_staff_entry and data.channel in STAFF_CHANNELS else None,
        )
        _save_photos(ticket, photos, PhotoKind.REPORT)
        _event(ticket, actor, "create", "", Channel(data.channel).label, public=True)
        log_action(actor, "desk.ticket.create", ticket, {"channel": data.channel})
        notifications.after_commit(lambda: notifications.created(ticket=ticket))
    return ticket


# --- receiving -----------------------------------------------------------------------------


def _deadline(start: dt.date, days: int) -> dt.date:
    return add_working_days(start, days).day


def ticket_accept(
    *, actor: Any, access: TicketAccess, note: str = "", today: dt.date | None = None
) -> Ticket:
    """受理: the worker who accepts becomes the first receiver (if nobody was) and the deadline
    starts to run: the matter's working days counted from ``today`` (default: the local
    date)."""
    _require(access.may_manage, _("没有受理该工单的权限。"))
    note = _optional_text(note, "note", _("受理说明"), 300)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.REGISTERED,), _("受理"))
        before = ticket.status
        now = timezone.now()
        ticket.status = TicketStatus.ACCEPTED
        if ticket.receiver_id is None:
            ticket.receiver = actor
        ticket.accepted_at = now
        ticket.due_date = _deadline(
            today or timezone.localdate(now), ticket.matter_type.deadline_days
        )
        ticket.save()
        _event(ticket, actor, "accept", before, note or _("已受理"), public=True)
        log_action(actor, "desk.ticket.accept", ticket)
        notifications.after_commit(lambda: notifications.accepted(ticket=ticket))
    return ticket


def ticket_answer(*, actor: Any, access: TicketAccess, answer: str) -> Ticket:
    """当场答复: a consultation answered at the desk closes at once."""
    _require(access.may_manage, _("没有答复该工单的权限。"))
    answer = _required_text(answer, "answer", _("答复内容"), 2000)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.REGISTERED, TicketStatus.ACCEPTED), _("当场答复"))
        before = ticket.status
        now = timezone.now()
        if ticket.receiver_id is None:
            ticket.receiver = actor
        ticket.accepted_at = ticket.accepted_at or now
        ticket.result = answer
        ticket.resolved_at = now
        _close(ticket, now, CloseReason.ON_THE_SPOT)
        _event(ticket, actor, "answer", before, answer, public=True)
        log_action(actor, "desk.ticket.answer", ticket)
        notifications.after_commit(lambda: notifications.answered(ticket=ticket))
    return ticket


def _close(ticket: Ticket, now: dt.datetime, reason: str) -> None:
    ticket.status = TicketStatus.CLOSED
    ticket.closed_at = now
    ticket.close_reason = reason
    ticket.closed_on_time = (
        ticket.due_date is None or timezone.localdate(ticket.resolved_at or now) <= ticket.due_date
    )
    ticket.save()


def _team_in_community(team: Org, community: Org) -> bool:
    return team.is_active and team.path.startswith(community.path) and team.pk != community.pk


def default_team(ticket: Ticket) -> Org | None:
    """Civic reports go to the grid's patrol team; other matters to the type's team."""
    if ticket.matter_type.is_civic:
        patrol = patrol_team_for(ticket.grid)
        if patrol is not None:
            return patrol
    return ticket.matter_type.handling_team


def ticket_assign(
    *, actor: Any, access: TicketAccess, team: Org | None = None, note: str = ""
) -> Ticket:
    """派单 to a team of the community (default: the patrol team or the matter's team)."""
    _require(access.may_manage, _("没有派单的权限。"))
    note = _optional_text(note, "note", _("派单说明"), 300)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.ACCEPTED, TicketStatus.RETURNED), _("派单"))
        team = team or default_team(ticket)
        if team is None:
            raise ValidationError({"team": [_("请选择承办队伍。")]})
        if not _team_in_community(team, ticket.org):
            raise ValidationError({"team": [_("承办队伍须属于本社区。")]})
        before = ticket.status
        ticket.status = TicketStatus.ASSIGNED
        ticket.team = team
        ticket.assigned_at = timezone.now()
        ticket.acknowledged_at = None
        ticket.save()
        _event(ticket, actor, "assign", before, note or team.name, public=True)
        log_action(actor, "desk.ticket.assign", ticket, {"team": team.name})
        notifications.after_commit(lambda: notifications.assigned(ticket=ticket))
    return ticket


def _require_handler(access: TicketAccess, action: str) -> None:
    _require(
        access.is_handler or access.is_manager,
        _("只有承办队伍可以%(action)s。") % {"action": action},
    )


def ticket_acknowledge(*, actor: Any, access: TicketAccess) -> Ticket:
    """签收: the team takes the matter on; it is now in progress."""
    _require_handler(access, _("签收"))
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.ASSIGNED,), _("签收"))
        before = ticket.status
        ticket.status = TicketStatus.IN_PROGRESS
        ticket.acknowledged_at = timezone.now()
        ticket.save()
        _event(ticket, actor, "acknowledge", before, _("承办队伍已签收"), public=True)
        log_action(actor, "desk.ticket.acknowledge", ticket)
    return ticket


def ticket_return(
    *, actor: Any, access: TicketAccess, reason: str, today: dt.date | None = None
) -> Ticket:
    """回退: a team sends a matter that is not theirs back to the receiver, with a reason,
    within ``HUZHU_DESK_RETURN_DAYS`` working days of assignment."""
    _require_handler(access, _("回退"))
    reason = _required_text(reason, "reason", _("回退理由"), 300)
    today = today or today_local()
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.ASSIGNED,), _("回退"))
        assigned_on = timezone.localdate(ticket.assigned_at)
        used, _guessed = count_working_days(assigned_on, today)
        limit = settings.HUZHU_DESK_RETURN_DAYS
        if used > limit:
            raise ValidationError(
                _("派单已超过 %(n)d 个工作日，不能再回退，请签收办理或申请协调。") % {"n": limit},
                code="return_late",
            )
        before = ticket.status
        team = ticket.team
        ticket.status = TicketStatus.RETURNED
        ticket.team = None
        ticket.return_count += 1
        ticket.save()
        _event(ticket, actor, "return", before, reason)
        log_action(actor, "desk.ticket.return", ticket, {"team": team.name if team else ""})
        notifications.after_commit(lambda: notifications.returned(ticket=ticket, reason=reason))
    return ticket


def ticket_note(*, actor: Any, access: TicketAccess, note: str, public: bool = False) -> Ticket:
    """A progress note (办理进展); public notes become Open311 status notes."""
    _require(access.is_handler or access.may_manage, _("没有填写办理进展的权限。"))
    note = _required_text(note, "note", _("办理进展"), 500)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, OPEN_TICKET_STATUSES, _("填写进展"))
        _event(ticket, actor, "note", ticket.status, note, public=public)
        ticket.save(update_fields=["updated_at"])
    return ticket


def ticket_extension_request(*, actor: Any, access: TicketAccess, days: int, reason: str) -> Ticket:
    """申请延期: the team asks for more working days (at most 10 in all)."""
    _require_handler(access, _("申请延期"))
    reason = _required_text(reason, "reason", _("延期理由"), 300)
    limit = settings.HUZHU_DESK_EXTENSION_MAX_DAYS
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.IN_PROGRESS,), _("申请延期"))
        if ticket.extension_requested_days:
            raise ValidationError(_("已有待审批的延期申请。"), code="pending")
        if days < 1 or ticket.extension_days + days > limit:
            raise ValidationError(
                {
                    "days": [
                        _("延期合计不能超过 %(limit)d 个工作日（已延期 %(used)d 个）。")
                        % {"limit": limit, "used": ticket.extension_days}
                    ]
                }
            )
        ticket.extension_requested_days = days
        ticket.extension_reason = reason
        ticket.save()
        _event(ticket, actor, "extension_request", ticket.status, f"{days} · {reason}")
        log_action(actor, "desk.ticket.extension_request", ticket, {"days": days})
        notifications.after_commit(lambda: notifications.extension_requested(ticket=ticket))
    return ticket


def ticket_extension_decide(
    *,
    actor: Any,
    access: TicketAccess,
    approve: bool,
    note: str = "",
    today: dt.date | None = None,
) -> Ticket:
    """The receiver (or a manager) grants or refuses the requested extension. A grant moves
    the deadline by the requested working days (from ``today`` if there was none)."""
    _require(access.may_manage, _("没有审批延期的权限。"))
    note = _optional_text(note, "note", _("审批意见"), 300)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        if not ticket.extension_requested_days:
            raise ValidationError(_("没有待审批的延期申请。"), code="none")
        _refuse_status(ticket, OPEN_TICKET_STATUSES, _("审批延期"))
        days = ticket.extension_requested_days
        limit = settings.HUZHU_DESK_EXTENSION_MAX_DAYS
        if approve and ticket.extension_days + days > limit:
            raise ValidationError(
                {"days": [_("延期合计不能超过 %(limit)d 个工作日。") % {"limit": limit}]}
            )
        if approve:
            ticket.extension_days += days
            ticket.due_date = _deadline(ticket.due_date or today or today_local(), days)
        ticket.extension_requested_days = 0
        ticket.save()
        verb = "extension_approve" if approve else "extension_refuse"
        _event(ticket, actor, verb, ticket.status, note or f"{days}", public=approve)
        log_action(actor, f"desk.ticket.{verb}", ticket, {"days": days})
        notifications.after_commit(
            lambda: notifications.extension_decided(ticket=ticket, approve=approve)
        )
    return ticket


def ticket_resolve(
    *, actor: Any, access: TicketAccess, result: str, photos: list[Any] | None = None
) -> Ticket:
    """反馈: the team reports the result; the matter waits for the follow-up (回访)."""
    _require_handler(access, _("反馈办理结果"))
    result = _required_text(result, "result", _("办理结果"), 2000)
    cleaned = clean_photos(list(photos)) if photos else []
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.IN_PROGRESS,), _("反馈结果"))
        before = ticket.status
        ticket.status = TicketStatus.RESOLVED
        ticket.result = result
        ticket.resolved_at = timezone.now()
        ticket.extension_requested_days = 0  # a pending request is moot once resolved
        ticket.save()
        _save_photos(ticket, cleaned, PhotoKind.RESULT)
        TicketPhoto.objects.filter(ticket=ticket, kind=PhotoKind.RESULT).update(is_public=True)
        _event(ticket, actor, "resolve", before, result, public=True)
        log_action(actor, "desk.ticket.resolve", ticket)
        notifications.after_commit(lambda: notifications.resolved(ticket=ticket))
    return ticket


@dataclass
class FollowUp:
    satisfied: bool
    rating: int | None = None
    comment: str = ""
    on_behalf: bool = False  # a worker records the resident's answer (电话回访)


def ticket_follow_up(
    *, actor: Any, access: TicketAccess, data: FollowUp, today: dt.date | None = None
) -> Ticket:
    """回访: the resident rates the result. Satisfied → 办结; dissatisfied → 退回重办 with a new
    deadline (the matter's working days from ``today``). The resident answers themselves, or
    a worker records their answer."""
    if data.on_behalf:
        _require(access.may_manage, _("没有代为回访的权限。"))
    else:
        _require(access.is_reporter, _("只有反映人可以评价。"))
    errors: dict[str, list[str]] = {}
    if data.rating is None or not 1 <= data.rating <= 5:
        errors["rating"] = [_("请选择 1 到 5 星的满意度。")]
    if len(data.comment or "") > 300:
        errors["comment"] = [_("评价不能超过 300 字。")]
    errors.update(plain_text_errors({"comment": data.comment or ""}))
    if not data.satisfied and not (data.comment or "").strip():
        errors["comment"] = [_("不满意时请说明原因，以便重新办理。")]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.RESOLVED,), _("评价"))
        before = ticket.status
        now = timezone.now()
        ticket.rating = data.rating
        ticket.rating_comment = (data.comment or "").strip()
        note = f"{data.rating}★ {ticket.rating_comment}".strip()
        if data.satisfied:
            _close(ticket, now, CloseReason.RESOLVED)
            _event(ticket, actor, "close", before, note, public=True)
            log_action(actor, "desk.ticket.close", ticket, {"rating": data.rating})
            notifications.after_commit(lambda: notifications.closed(ticket=ticket))
        else:
            ticket.status = TicketStatus.IN_PROGRESS
            ticket.reopen_count += 1
            ticket.resolved_at = None
            ticket.due_date = _deadline(
                today or timezone.localdate(now), ticket.matter_type.deadline_days
            )
            ticket.save()
            _event(ticket, actor, "reopen", before, note, public=True)
            log_action(actor, "desk.ticket.reopen", ticket, {"rating": data.rating})
            notifications.after_commit(lambda: notifications.reopened(ticket=ticket))
    return ticket


def ticket_close_unrated(*, actor: Any, access: TicketAccess, note: str) -> Ticket:
    """办结 without a rating when the resident cannot be reached (noted why)."""
    _require(access.may_manage, _("没有办结工单的权限。"))
    note = _required_text(note, "note", _("办结说明"), 300)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.RESOLVED,), _("办结"))
        before = ticket.status
        _close(ticket, timezone.now(), CloseReason.RESOLVED)
        _event(ticket, actor, "close", before, note, public=True)
        log_action(actor, "desk.ticket.close", ticket)
        notifications.after_commit(lambda: notifications.closed(ticket=ticket))
    return ticket


def ticket_link(*, actor: Any, access: TicketAccess, original: Ticket, note: str = "") -> Ticket:
    """Link a repeated report to the original and close it (重复反映，并案办理). The reporter
    follows the original's result."""
    _require(access.may_manage, _("没有并案的权限。"))
    note = _optional_text(note, "note", _("并案说明"), 300)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        found = Ticket.objects.select_related("duplicate_of").filter(pk=original.pk).first()
        if found is None:
            raise ValidationError({"original": [_("要并入的工单不存在。")]})
        original = found
        if original.pk == ticket.pk or original.duplicate_of_id == ticket.pk:
            raise ValidationError({"original": [_("不能与自身并案。")]})
        if original.org_id != ticket.org_id:
            raise ValidationError({"original": [_("只能并入本社区的工单。")]})
        if original.duplicate_of_id:
            original = original.duplicate_of
        _refuse_status(ticket, OPEN_TICKET_STATUSES, _("并案"))
        # Reports already linked to this one follow the original from now on.
        Ticket.objects.filter(duplicate_of=ticket).update(duplicate_of=original)
        before = ticket.status
        now = timezone.now()
        ticket.duplicate_of = original
        if ticket.receiver_id is None:
            ticket.receiver = actor
        ticket.result = _("与工单 %(number)s 反映的是同一事项，并案办理。") % {
            "number": original.number
        }
        _close(ticket, now, CloseReason.DUPLICATE)
        ticket.closed_on_time = True
        ticket.save(update_fields=["closed_on_time"])
        _event(ticket, actor, "link", before, note or ticket.result, public=True)
        log_action(actor, "desk.ticket.link", ticket, {"original": original.number})
        if original.status == TicketStatus.CLOSED:
            # The original's result is known already: its reporter hears it now.
            notifications.after_commit(
                lambda: notifications.duplicate_closed(duplicate=ticket, original=original)
            )
    return ticket


def ticket_withdraw(*, actor: Any, access: TicketAccess, reason: str = "") -> Ticket:
    """The reporter withdraws a matter not yet assigned."""
    _require(access.is_reporter, _("只有反映人可以撤回。"))
    reason = _optional_text(reason, "reason", _("撤回原因"), 300)
    with transaction.atomic():
        ticket = _locked(access.ticket)
        _refuse_status(ticket, (TicketStatus.REGISTERED, TicketStatus.ACCEPTED), _("撤回"))
        if ticket.duplicates.exists():
            raise ValidationError(
                _("已有其他居民反映同一事项并入本工单，不能撤回。"), code="has_duplicates"
            )
        before = ticket.status
        _close(ticket, timezone.now(), CloseReason.WITHDRAWN)
        _event(ticket, actor, "withdraw", before, reason or _("居民撤回"), public=True)
        log_action(actor, "desk.ticket.withdraw", ticket)
    return ticket


def photo_publish(*, actor: Any, access: TicketAccess, photo: TicketPhoto, public: bool) -> None:
    """A worker checks a report photo (no faces, no plates) before the public sees it."""
    _require(access.may_manage, _("没有审核照片的权限。"))
    if photo.ticket_id != access.ticket.pk:
        raise ValidationError(_("照片不属于该工单。"))
    photo.is_public = public
    photo.save(update_fields=["is_public"])
    log_action(actor, "desk.photo.publish" if public else "desk.photo.hide", access.ticket)


def ticket_contact_reveal(*, actor: Any, scope: Scope, access: TicketAccess) -> str:
    """The full contact phone of a ticket (the one given at intake, else the registered
    reporter's), for a role with ``PERSON_REVEAL`` over the ticket's community. Audited."""
    ticket = access.ticket
    if not (access.is_staff and scope.can(Perm.PERSON_REVEAL, ticket.org)):
        raise PermissionDenied(_("没有查看完整联系电话的权限。"))
    phone = ticket.contact_phone or (ticket.reporter.phone if ticket.reporter else "")
    if not phone:
        raise ValidationError(_("该工单没有联系电话。"), code="no_phone")
    log_action(actor, "desk.ticket.reveal", ticket, {"fields": ["contact_phone"]})
    return phone


# --- escalation ----------------------------------------------------------------------------


def _level_for(overdue_days: int) -> int:
    if overdue_days <= 0:
        return EscalationLevel.NONE
    if overdue_days > settings.HUZHU_DESK_DISTRICT_AFTER_DAYS:
        return EscalationLevel.DISTRICT
    return EscalationLevel.STREET


def tickets_escalate(*, today: dt.date) -> int:
    """分级督办: every open ticket past its deadline goes to the street on the first working day
    overdue, and to the district after ``HUZHU_DESK_DISTRICT_AFTER_DAYS`` more. A level is
    raised once; running again the same day changes nothing. Returns how many were raised."""
    raised = 0
    overdue = list(
        Ticket.objects.filter(status__in=OPEN_TICKET_STATUSES, due_date__lt=today)
        .exclude(escalation_level=EscalationLevel.DISTRICT)
        .order_by("pk")
        .values_list("pk", "due_date", "escalation_level")
    )
    for pk, due_date, level in overdue:
        days, _guessed = count_working_days(due_date, today)
        target = _level_for(days)
        if target <= level:
            continue
        with transaction.atomic():
            ticket = _locked(Ticket(pk=pk))
            if ticket.escalation_level >= target or ticket.status not in OPEN_TICKET_STATUSES:
                continue
            previous = ticket.escalation_level
            ticket.escalation_level = target
            ticket.escalated_at = timezone.now()
            ticket.save(update_fields=["escalation_level", "escalated_at", "updated_at"])
            label = EscalationLevel(target).label
            note = _("逾期 %(days)d 个工作日，%(level)s") % {"days": days, "level": label}
            _event(ticket, None, "escalate", ticket.status, note)
            log_action(None, "desk.ticket.escalate", ticket, {"level": target, "days": days})
            notifications.after_commit(
                lambda t=ticket, lv=target, was=previous: notifications.escalated(
                    ticket=t, level=lv, previous=was
                )
            )
        raised += 1
    return raised
