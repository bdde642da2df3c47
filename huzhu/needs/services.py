"""Every write of the needs exchange: posting, inviting, accepting, doing, confirming and
paying, disputes, the thread, offers. Pairings are in ``pairing_services``.

Who may act: the requester (a resident with a login, acting for themselves), the volunteer who
was asked or took the need, and workers with ``NEED_MANAGE`` over the need's org. Each step is
atomic, audited and kept as a ``NeedEvent``; a refused step changes nothing. Phone numbers
typed into anything the other party reads (a description, a message, a reply, a note) are
hidden: the thread is the channel.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.identity import mask_name
from huzhu.common.services import counter_next
from huzhu.needs import matching, notifications
from huzhu.needs.classify import suggest_categories
from huzhu.needs.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    MatchProfile,
    Message,
    MessageRole,
    Need,
    NeedCategory,
    NeedChannel,
    NeedEvent,
    NeedStatus,
    Offer,
    Payment,
    Urgency,
)
from huzhu.needs.selectors import NeedAccess, board_root, community_of, person_id_of
from huzhu.orgs.models import Org
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person

MAX_WINDOW = dt.timedelta(days=7)
MAX_INVITES = 50
ADULT_AGE = 18
MINUTES_PER_DAY = 24 * 60
# Phone numbers typed into free text, after full-width digits and dashes are made ASCII:
# mobiles (13912345678, 139 1234 5678, +86 139-1234-5678, 0086…) and landlines with their
# area code (0531-8888 6666, (0531)88886666).
_SEP = r"[-. ]{0,2}"
PHONE_IN_TEXT = re.compile(
    r"(?<!\d)(?:"
    rf"(?:(?:\+|00)?86{_SEP})?1[3-9]\d(?:{_SEP}\d){{8}}"
    rf"|(?:\(0\d{{2,3}}\)|0\d{{2,3}}){_SEP}[2-9]\d{{2,3}}{_SEP}\d{{4}}"
    r")(?!\d)"
)
_ASCII_DIGITS = str.maketrans("０１２３４５６７８９＋－—–（）　．", "0123456789+---() .")


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _label(actor: Any) -> str:
    return actor.get_username() if _is_user(actor) else (str(actor) if actor else _("系统"))


def _event(need: Need, actor: Any, verb: str, before: str, note: str = "") -> None:
    NeedEvent.objects.create(
        need=need,
        verb=verb,
        from_status=before if before != need.status else "",
        to_status=need.status if before != need.status else "",
        actor=actor if _is_user(actor) else None,
        actor_label=_label(actor),
        note=note[:300],
    )


def _locked(need: Need) -> Need:
    return (
        Need.objects.select_for_update(of=("self",))
        .select_related("org", "category", "requester", "volunteer__person")
        .get(pk=need.pk)
    )


def _refuse_status(need: Need, allowed: tuple[str, ...], message: str) -> None:
    if need.status not in allowed:
        raise ValidationError(
            message % {"status": NeedStatus(need.status).label, "number": need.number}
        )


def _require_manage(scope: Scope, org: Org) -> None:
    if not scope.can(Perm.NEED_MANAGE, org):
        raise PermissionDenied(_("没有在该社区办理需求对接的权限。"))


# --- posting -------------------------------------------------------------------------------


@dataclass
class NeedInput:
    description: str
    address: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    category: NeedCategory | None = None
    title: str = ""
    urgency: str = Urgency.NORMAL
    payment: str = Payment.REQUESTER
    minutes: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    qualification_ids: list[int] = field(default_factory=list)


def _categorise(data: NeedInput) -> tuple[NeedCategory, list[NeedCategory]]:
    """The chosen category (or the best the description suggests) and the other suggestions."""
    suggestions = [s.category for s in suggest_categories(data.description)]
    category = data.category or (suggestions[0] if suggestions else None)
    if category is None:
        raise ValidationError({"category": [_("未能从描述中识别需求类别，请选择一个类别。")]})
    if not category.is_active:
        raise ValidationError({"category": [_("该需求类别已停用。")]})
    extras = [c for c in suggestions if c.pk != category.pk]
    return category, extras


def _validate(data: NeedInput, now: dt.datetime) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not data.description.strip():
        errors["description"] = [_("请说明需要什么帮助。")]
    elif len(data.description.strip()) > 1000:
        errors["description"] = [_("需求描述最多 1000 字。")]
    if not data.address.strip():
        errors["address"] = [_("请填写服务地点。")]
    if data.starts_at < now - dt.timedelta(minutes=5):
        errors["starts_at"] = [_("开始时间已过去，请选择现在或以后的时间。")]
    if data.ends_at <= data.starts_at:
        errors["ends_at"] = [_("结束时间须晚于开始时间。")]
    elif data.ends_at - data.starts_at > MAX_WINDOW:
        errors["ends_at"] = [_("时间段最长 7 天，请分开发布。")]
    if data.minutes is not None and not 1 <= data.minutes <= MINUTES_PER_DAY:
        errors["minutes"] = [_("预计时长应在 1 分钟到 24 小时之间。")]
    if data.urgency not in Urgency.values:
        errors["urgency"] = [_("紧急程度无效。")]
    if data.payment not in Payment.values:
        errors["payment"] = [_("支付方式无效。")]
    if (data.latitude is None) != (data.longitude is None):
        errors["latitude"] = [_("经纬度须同时填写。")]
    elif data.latitude is not None and not (
        -90 <= data.latitude <= 90 and -180 <= data.longitude <= 180  # type: ignore[operator]
    ):
        errors["latitude"] = [_("经纬度超出范围。")]
    if data.qualification_ids:
        from huzhu.volunteers.models import QualificationType

        wanted = set(data.qualification_ids)
        known = QualificationType.objects.filter(pk__in=wanted, is_active=True).count()
        if known != len(wanted):
            errors["qualification_ids"] = [_("所需证书不存在或已停用。")]
    return errors


def _validated(data: NeedInput) -> tuple[NeedCategory, list[NeedCategory]]:
    """Every problem of the form at once (the category too), or the category and extras."""
    errors = _validate(data, timezone.now())
    category, extras = None, []
    if data.category is not None or "description" not in errors:
        try:
            category, extras = _categorise(data)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return category, extras  # type: ignore[return-value]


def check_can_pay(*, payer: Person, minutes: int) -> None:
    """Refuse, with the figures, a requester whose balance (and credit line) cannot cover
    ``minutes`` — or who is below the age the time bank's rules set for spending — checked
    when posting and again, under locks, when paying."""
    from huzhu.timebank import ledger
    from huzhu.timebank.models import Account, AccountKind
    from huzhu.timebank.rules import rules_for

    rules = rules_for(community_of(payer.org))
    if rules.min_redeem_age and payer.age_on(timezone.localdate()) < rules.min_redeem_age:
        raise ValidationError(
            {
                "payment": [
                    _("年满 %(age)d 周岁方可用时间币兑换服务，可选择“公益（互助池支付）”。")
                    % {"age": rules.min_redeem_age}
                ]
            }
        )
    account = Account.objects.filter(person=payer, kind=AccountKind.PERSON).first()
    balance = account.balance if account else 0
    credit = account.credit_limit if account else rules.credit_limit_minutes
    if balance + credit < minutes:
        raise ValidationError(
            {
                "payment": [
                    _(
                        "时间币余额不足：现有 %(have)s 小时，本次预计需要 %(need)s 小时。"
                        "可选择“公益（互助池支付）”，或先请家人转赠。"
                    )
                    % {"have": ledger.hours(balance), "need": ledger.hours(minutes)}
                ]
            }
        )


def org_centre(org: Org) -> tuple[float | None, float | None]:
    if org.latitude is not None and org.longitude is not None:
        return org.latitude, org.longitude
    community = community_of(org)
    return community.latitude, community.longitude


def _apply(need: Need, data: NeedInput, category: NeedCategory) -> None:
    need.category = category
    description = hide_phone_numbers(data.description.strip())[:1000]
    need.description = description
    need.title = hide_phone_numbers(data.title.strip() or description.splitlines()[0])[:60]
    need.address = data.address.strip()[:200]
    need.latitude, need.longitude = data.latitude, data.longitude
    if need.latitude is None:  # no place marked: the centre of the grid (or community)
        need.latitude, need.longitude = org_centre(need.org)
    need.starts_at, need.ends_at = data.starts_at, data.ends_at
    need.urgency, need.payment = data.urgency, data.payment
    need.minutes = data.minutes or category.default_minutes


def need_create(
    *,
    actor: Any,
    scope: Scope,
    data: NeedInput,
    requester: Person | None = None,
    org: Org | None = None,
) -> Need:
    """Post a need. A resident posts for themselves (``requester`` is their own person); a
    worker posts for a resident (代发) or for an org (``requester`` None, paid by the pool or
    not at all)."""
    own = requester is not None and requester.pk == person_id_of(actor)
    if requester is not None:
        org = requester.org
        channel = NeedChannel.SELF if own else NeedChannel.WORKER
    else:
        channel = NeedChannel.ORG
    if org is None:
        raise ValidationError({"org": [_("请选择发布需求的社区。")]})
    if not own:
        _require_manage(scope, org)
    errors: dict[str, list[str]] = {}
    if channel == NeedChannel.ORG and data.payment == Payment.REQUESTER:
        errors["payment"] = [_("组织发布的需求只能是公益（互助池支付或不计时间币）。")]
    try:
        category, extras = _validated(data)
    except ValidationError as exc:
        raise ValidationError({**exc.message_dict, **errors}) from exc
    if errors:
        raise ValidationError(errors)
    minutes = data.minutes or category.default_minutes
    if data.payment == Payment.REQUESTER:
        check_can_pay(payer=requester, minutes=minutes)  # type: ignore[arg-type]
    need = Need(org=org, requester=requester, channel=channel, posted_by=_user(actor))
    _apply(need, data, category)
    with transaction.atomic():
        need.number = f"XQ{timezone.localdate().year}{counter_next('need'):08d}"
        need.save()
        need.extra_categories.set(extras)
        need.qualifications.set(sorted(set(data.qualification_ids)))
        _event(need, actor, "post", "", NeedChannel(channel).label)
        log_action(actor, "need.post", need, {"number": need.number, "channel": channel})
        notifications.posted(need=need, actor=actor)
    return need


def _user(actor: Any) -> Any:
    return actor if _is_user(actor) else None


def need_update(*, actor: Any, access: NeedAccess, data: NeedInput) -> Need:
    """Edit a need still 待匹配 (the requester or a worker)."""
    if not (access.is_requester or access.is_worker):
        raise PermissionDenied(_("只有求助人或工作人员可以修改需求。"))
    category, extras = _validated(data)
    with transaction.atomic():
        need = _locked(access.need)
        _refuse_status(
            need, (NeedStatus.OPEN,), _("需求%(number)s当前为“%(status)s”，不能再修改。")
        )
        if need.requester_id is None and data.payment == Payment.REQUESTER:
            raise ValidationError({"payment": [_("组织发布的需求只能是公益。")]})
        _apply(need, data, category)
        if need.payment == Payment.REQUESTER:
            check_can_pay(payer=need.requester, minutes=need.minutes)  # type: ignore[arg-type]
        need.save()
        need.extra_categories.set(extras)
        need.qualifications.set(sorted(set(data.qualification_ids)))
        _event(need, actor, "update", need.status)
        log_action(actor, "need.update", need, {"number": need.number})
    return need


def need_cancel(*, actor: Any, access: NeedAccess, reason: str) -> Need:
    """Withdraw a need before the service starts; pending invitations are withdrawn and a
    volunteer who had taken it (and everyone still asked) is told."""
    if not (access.is_requester or access.is_worker):
        raise PermissionDenied(_("只有求助人或工作人员可以取消需求。"))
    if not reason.strip():
        raise ValidationError({"reason": [_("请说明取消原因。")]})
    with transaction.atomic():
        need = _locked(access.need)
        if need.is_closed:
            _refuse_status(need, (), _("需求%(number)s已是“%(status)s”，不能再取消。"))
        _refuse_status(
            need,
            (NeedStatus.OPEN, NeedStatus.MATCHED),
            _("需求%(number)s当前为“%(status)s”，服务已开始，不能取消；如有问题请提出异议。"),
        )
        before, volunteer_id = need.status, need.volunteer_id
        now = timezone.now()
        need.status = NeedStatus.CANCELLED
        need.cancel_reason = hide_phone_numbers(reason.strip())[:200]
        need.closed_at = now
        need.save(update_fields=["status", "cancel_reason", "closed_at", "updated_at"])
        pending = list(
            need.invitations.filter(status=InvitationStatus.PENDING).select_related(
                "volunteer__person__user"
            )
        )
        Invitation.objects.filter(pk__in=[i.pk for i in pending]).update(
            status=InvitationStatus.WITHDRAWN, responded_at=now
        )
        _event(need, actor, "cancel", before, need.cancel_reason)
        log_action(actor, "need.cancel", need, {"number": need.number})
        if volunteer_id:
            _change_load(volunteer_id, -1)
        notifications.need_cancelled(
            need=need,
            invitees=[i.volunteer for i in pending],
            actor=actor,
            matched=volunteer_id is not None,
        )
    return need


# --- matching and invitations --------------------------------------------------------------


def _scores_for(need: Need, volunteer_ids: list[int]) -> dict[int, tuple[int | None, list[str]]]:
    """Each volunteer's score and reasons for the need (as the ranking would give them, even
    if already asked); None for a volunteer the ranking would not propose — no profile, too
    far, or without the qualifications the need asks for."""
    ctx = matching.MatchContext.for_need(need)
    ctx.excluded.difference_update(volunteer_ids)
    rows = MatchProfile.objects.filter(
        volunteer_id__in=volunteer_ids, category_id__in=list(ctx.category_shares)
    ).values_list(*matching.COLUMNS)
    best: dict[int, matching.Candidate] = {}
    for row in rows:
        candidate = matching.score_row(ctx, row)
        if candidate is None:
            continue
        known = best.get(candidate.volunteer_id)
        if known is None or candidate.score > known.score:
            best[candidate.volunteer_id] = candidate
    if ctx.qualification_ids and best:
        holders = matching.qualified_ids(ctx, list(best))
        best = {pk: c for pk, c in best.items() if pk in holders}
    found: dict[int, tuple[int | None, list[str]]] = {pk: (None, []) for pk in volunteer_ids}
    for pk, candidate in best.items():
        found[pk] = (candidate.points, matching.explain(ctx, candidate))
    return found


def _refuse_past(need: Need, message: str) -> None:
    if need.ends_at <= timezone.now():
        raise ValidationError({"need": [message % {"number": need.number}]})


def need_invite(
    *, actor: Any, access: NeedAccess, volunteer_ids: list[int], kind: str = InvitationKind.INVITE
) -> list[Invitation]:
    """Invite volunteers to take an open need: the worker anyone within reach; the requester
    only volunteers the ranking finds eligible. Volunteers already asked are skipped."""
    from huzhu.volunteers.models import Volunteer, VolunteerStatus

    if not (access.is_requester or access.is_worker):
        raise PermissionDenied(_("只有求助人或工作人员可以邀请志愿者。"))
    if kind not in (InvitationKind.INVITE, InvitationKind.BROADCAST):
        raise ValidationError({"kind": [_("邀请方式无效。")]})
    ids = list(dict.fromkeys(volunteer_ids))  # once each, in the order given
    if not ids:
        raise ValidationError({"volunteer_ids": [_("请选择要邀请的志愿者。")]})
    if len(ids) > MAX_INVITES:
        raise ValidationError(
            {"volunteer_ids": [_("一次最多邀请 %(n)d 位志愿者。") % {"n": MAX_INVITES}]}
        )
    with transaction.atomic():
        need = _locked(access.need)
        _refuse_status(
            need, (NeedStatus.OPEN,), _("需求%(number)s当前为“%(status)s”，不能再邀请。")
        )
        _refuse_past(need, _("需求%(number)s的时间已过，请先修改服务时间。"))
        volunteers = {
            v.pk: v
            for v in Volunteer.objects.filter(
                pk__in=ids, status=VolunteerStatus.REGISTERED
            ).select_related("person__user")
        }
        for volunteer_id in ids:
            volunteer = volunteers.get(volunteer_id)
            if volunteer is None:
                raise ValidationError(
                    {"volunteer_ids": [_("志愿者不存在或未在册：%(id)s") % {"id": volunteer_id}]}
                )
            if volunteer.person_id == need.requester_id:
                raise ValidationError({"volunteer_ids": [_("不能邀请求助人本人。")]})
        asked = set(need.invitations.values_list("volunteer_id", flat=True))
        fresh = [pk for pk in ids if pk not in asked]
        scores = _scores_for(need, fresh) if fresh else {}
        created = []
        for volunteer_id in fresh:
            volunteer = volunteers[volunteer_id]
            points, reasons = scores[volunteer_id]
            if points is None and not access.is_worker:
                raise ValidationError(
                    {
                        "volunteer_ids": [
                            _("%(name)s 不在推荐范围内。")
                            % {"name": mask_name(volunteer.person.name)}
                        ]
                    }
                )
            created.append(
                Invitation(
                    need=need,
                    volunteer=volunteer,
                    kind=kind,
                    invited_by=_user(actor),
                    score=points,
                    reasons=reasons or [_("由工作人员指定")],
                )
            )
        Invitation.objects.bulk_create(created)
        if created:
            names = "、".join(mask_name(i.volunteer.person.name) for i in created)
            _event(
                need,
                actor,
                "broadcast" if kind == InvitationKind.BROADCAST else "invite",
                need.status,
                names,
            )
            log_action(actor, "need.invite", need, {"count": len(created), "kind": kind})
            notifications.invited(need=need, invitations=created)
    return created


def need_broadcast(*, actor: Any, access: NeedAccess, top: int | None = None) -> list[Invitation]:
    """An urgent need goes to the best ``top`` candidates at once; the first to accept takes it."""
    from django.conf import settings

    if not (access.is_requester or access.is_worker):
        raise PermissionDenied(_("只有求助人或工作人员可以广播需求。"))
    need = access.need
    if need.urgency == Urgency.NORMAL:
        raise ValidationError({"urgency": [_("只有较急或紧急的需求可以广播。")]})
    count = top or settings.HUZHU_MATCH_BROADCAST_TOP
    if not 1 <= count <= 50:
        raise ValidationError({"top": [_("广播人数应在 1 到 50 之间。")]})
    _refuse_status(need, (NeedStatus.OPEN,), _("需求%(number)s当前为“%(status)s”，不能再广播。"))
    ranked = matching.rank(need, limit=count)
    if not ranked:
        raise ValidationError({"top": [_("附近暂无符合条件的志愿者，请工作人员直接联系。")]})
    return need_invite(
        actor=actor,
        access=access,
        volunteer_ids=[c.volunteer_id for c in ranked],
        kind=InvitationKind.BROADCAST,
    )


def _refuse_unfit(volunteer: Any, *, adult: bool) -> None:
    """Only volunteers 在册 take needs; offering oneself from the board (like being proposed
    by the ranking) is for adults — a worker may still invite a minor they know."""
    from huzhu.volunteers.models import VolunteerStatus

    if volunteer is None or volunteer.status != VolunteerStatus.REGISTERED:
        raise PermissionDenied(_("只有在册志愿者可以承接需求。"))
    if adult and volunteer.person.age_on(timezone.localdate()) < ADULT_AGE:
        raise PermissionDenied(_("未满 18 周岁的志愿者不能自荐承接需求，请联系社区工作人员。"))


def need_apply(*, actor: Any, need: Need, volunteer: Any, note: str = "") -> Invitation:
    """A volunteer offers to take an open need from the board (自荐); the requester or a
    worker approves it."""
    if volunteer is not None and volunteer.person_id != person_id_of(actor):
        raise PermissionDenied(_("只能以本人身份自荐。"))
    _refuse_unfit(volunteer, adult=True)
    if volunteer.person_id == need.requester_id:
        raise ValidationError({"need": [_("不能承接自己发布的需求。")]})
    with transaction.atomic():
        need = _locked(need)
        _refuse_status(
            need, (NeedStatus.OPEN,), _("需求%(number)s当前为“%(status)s”，不能再自荐。")
        )
        _refuse_past(need, _("需求%(number)s的时间已过，不能再自荐。"))
        if not need.org.path.startswith(board_root(volunteer)):
            raise ValidationError({"need": [_("只能承接本街道（社区）的需求。")]})
        if need.invitations.filter(volunteer=volunteer).exists():
            raise ValidationError({"need": [_("您已回应过这个需求。")]})
        points, reasons = _scores_for(need, [volunteer.pk])[volunteer.pk]
        invitation = Invitation.objects.create(
            need=need,
            volunteer=volunteer,
            kind=InvitationKind.APPLY,
            invited_by=_user(actor),
            score=points,
            reasons=reasons,
            reply=hide_phone_numbers(note.strip())[:200],
        )
        _event(need, actor, "apply", need.status, mask_name(volunteer.person.name))
        log_action(actor, "need.apply", need, {"volunteer": volunteer.pk})
        notifications.applied(need=need, invitation=invitation)
    return invitation


def _change_load(volunteer_id: int, delta: int) -> None:
    qs = MatchProfile.objects.filter(volunteer_id=volunteer_id)
    if delta < 0:
        qs = qs.filter(load__gte=-delta)
    qs.update(load=F("load") + delta)


def _assign(actor: Any, invitation: Invitation) -> Need:
    """Give the need to the invitation's volunteer — exactly once: the need row is locked, so
    of two volunteers accepting together one wins and the other is told it is taken."""
    need = _locked(Need(pk=invitation.need_id))
    if need.status != NeedStatus.OPEN:
        raise ValidationError(
            {"need": [_("需求%(number)s已由其他志愿者承接或已关闭。") % {"number": need.number}]}
        )
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("volunteer__person")
        .get(pk=invitation.pk)
    )
    if invitation.status != InvitationStatus.PENDING:
        raise ValidationError({"invitation": [_("该邀请已处理。")]})
    _refuse_past(need, _("需求%(number)s的时间已过，请联系工作人员重新安排。"))
    _refuse_unfit(invitation.volunteer, adult=False)
    now = timezone.now()
    need.status, need.volunteer, need.matched_at = (
        NeedStatus.MATCHED,
        invitation.volunteer,
        now,
    )
    need.save(update_fields=["status", "volunteer", "matched_at", "updated_at"])
    invitation.status, invitation.responded_at = InvitationStatus.ACCEPTED, now
    invitation.save(update_fields=["status", "responded_at"])
    need.invitations.filter(status=InvitationStatus.PENDING).update(
        status=InvitationStatus.CLOSED, responded_at=now
    )
    name = mask_name(invitation.volunteer.person.name)
    _event(need, actor, "match", NeedStatus.OPEN, name)
    _system_message(need, _("志愿者 %(name)s 已承接此需求，可在此留言沟通。") % {"name": name})
    log_action(actor, "need.match", need, {"volunteer": invitation.volunteer_id})
    _change_load(invitation.volunteer_id, 1)
    notifications.matched(need=need, actor=actor)
    return need


def invitation_accept(*, actor: Any, invitation: Invitation) -> Need:
    """The invited volunteer accepts (接单)."""
    if invitation.kind == InvitationKind.APPLY:
        raise PermissionDenied(_("自荐须由求助人或工作人员确认。"))
    if invitation.volunteer.person_id != person_id_of(actor):
        raise PermissionDenied(_("只能回复发给自己的邀请。"))
    with transaction.atomic():
        return _assign(actor, invitation)


def application_approve(*, actor: Any, access: NeedAccess, invitation: Invitation) -> Need:
    """The requester or a worker takes up a volunteer's offer (自荐)."""
    if not (access.is_requester or access.is_worker):
        raise PermissionDenied(_("只有求助人或工作人员可以确认自荐。"))
    if invitation.need_id != access.need.pk or invitation.kind != InvitationKind.APPLY:
        raise ValidationError({"invitation": [_("该自荐不属于此需求。")]})
    with transaction.atomic():
        return _assign(actor, invitation)


def invitation_decline(
    *, actor: Any, invitation: Invitation, reply: str = "", access: NeedAccess | None = None
) -> Invitation:
    """The volunteer declines an invitation (or withdraws their own offer) — or the requester
    or a worker, through ``access`` to the invitation's need, declines an offer (自荐) or
    withdraws an invitation they no longer want answered."""
    own = invitation.volunteer.person_id == person_id_of(actor)
    deciding = (
        access is not None
        and (access.is_requester or access.is_worker)
        and access.need.pk == invitation.need_id
    )
    if not (own or deciding):
        raise PermissionDenied(_("只能回复发给自己的邀请。"))
    applied = invitation.kind == InvitationKind.APPLY
    withdrawn = applied if own else not applied
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("need", "volunteer__person__user", "invited_by")
            .get(pk=invitation.pk)
        )
        if invitation.status != InvitationStatus.PENDING:
            raise ValidationError({"invitation": [_("该邀请已处理。")]})
        invitation.status = InvitationStatus.WITHDRAWN if withdrawn else InvitationStatus.DECLINED
        invitation.reply = hide_phone_numbers(reply.strip())[:200]
        invitation.responded_at = timezone.now()
        invitation.save(update_fields=["status", "reply", "responded_at"])
        need = invitation.need
        verb = "withdraw" if withdrawn else "decline"
        note = mask_name(invitation.volunteer.person.name)
        if invitation.reply:
            note = f"{note}：{invitation.reply}"
        _event(need, actor, verb, need.status, note)
        log_action(actor, f"need.{verb}", need, {"volunteer": invitation.volunteer_id})
        notifications.declined(need=need, invitation=invitation, actor=actor)
    return invitation


# --- doing and confirming ----------------------------------------------------------------


def _require_volunteer(access: NeedAccess) -> None:
    if not access.is_volunteer:
        raise PermissionDenied(_("只有承接此需求的志愿者可以操作。"))


def need_start(*, actor: Any, access: NeedAccess) -> Need:
    """The volunteer starts the service (已匹配 → 服务中)."""
    _require_volunteer(access)
    with transaction.atomic():
        need = _locked(access.need)
        _refuse_status(
            need, (NeedStatus.MATCHED,), _("需求%(number)s当前为“%(status)s”，不能开始服务。")
        )
        need.status, need.started_at = NeedStatus.IN_SERVICE, timezone.now()
        need.save(update_fields=["status", "started_at", "updated_at"])
        _event(need, actor, "start", NeedStatus.MATCHED)
        log_action(actor, "need.start", need)
    return need


def need_mark_done(*, actor: Any, access: NeedAccess, minutes: int, note: str = "") -> Need:
    """The volunteer marks the work done, with the time it took; the requester confirms."""
    _require_volunteer(access)
    if not 1 <= minutes <= MINUTES_PER_DAY:
        raise ValidationError({"minutes": [_("服务时长应在 1 分钟到 24 小时之间。")]})
    with transaction.atomic():
        need = _locked(access.need)
        _refuse_status(
            need,
            (NeedStatus.MATCHED, NeedStatus.IN_SERVICE),
            _("需求%(number)s当前为“%(status)s”，不能标记完成。"),
        )
        before = need.status
        now = timezone.now()
        need.status, need.done_at = NeedStatus.AWAITING, now
        need.started_at = need.started_at or now
        need.actual_minutes, need.done_note = minutes, hide_phone_numbers(note.strip())[:300]
        need.save(
            update_fields=[
                "status",
                "done_at",
                "started_at",
                "actual_minutes",
                "done_note",
                "updated_at",
            ]
        )
        _event(need, actor, "done", before, _("服务 %(m)d 分钟") % {"m": minutes})
        log_action(actor, "need.done", need, {"minutes": minutes})
        notifications.awaiting_confirmation(need=need, actor=actor)
    return need


@dataclass
class Confirmation:
    rating: int | None = None
    comment: str = ""
    minutes: int | None = None  # a worker may settle a different time (e.g. after a dispute)
    consent: str = ""  # 代办: how the resident agreed, when a worker confirms for them


RATING_TO_RECORD = {5: 5, 4: 4, 3: 3, 2: 1, 1: 1}


def need_confirm(*, actor: Any, access: NeedAccess, data: Confirmation) -> Need:
    """The requester (or a worker for them) confirms and rates: the service record is created
    and the time bank pays the volunteer — all in one transaction, so a refused payment
    (e.g. not enough balance) leaves the need waiting and nothing recorded."""
    if not (access.is_requester or access.is_worker):
        raise PermissionDenied(_("只有求助人或工作人员可以确认完成。"))
    if access.is_volunteer and not access.is_requester:
        raise PermissionDenied(_("不能确认自己承接的需求，请由其他工作人员确认。"))
    if data.rating is not None and not 1 <= data.rating <= 5:
        raise ValidationError({"rating": [_("评分应为 1 到 5 星。")]})
    if data.minutes is not None and not access.is_worker:
        raise PermissionDenied(_("只有工作人员可以调整服务时长。"))
    if data.minutes is not None and not 1 <= data.minutes <= MINUTES_PER_DAY:
        raise ValidationError({"minutes": [_("服务时长应在 1 分钟到 24 小时之间。")]})
    on_behalf = not access.is_requester
    with transaction.atomic():
        need = _locked(access.need)
        allowed = (
            (NeedStatus.AWAITING, NeedStatus.DISPUTED)
            if access.is_worker
            else (NeedStatus.AWAITING,)
        )
        _refuse_status(need, allowed, _("需求%(number)s当前为“%(status)s”，不能确认完成。"))
        if on_behalf and need.payment == Payment.REQUESTER and not data.consent.strip():
            raise ValidationError(
                {"consent": [_("代为确认并支付时间币，须记录求助人的同意（如“本人电话同意”）。")]}
            )
        before = need.status
        minutes = data.minutes or need.actual_minutes or need.minutes
        need.actual_minutes = minutes
        need.rating = data.rating
        need.rating_comment = hide_phone_numbers(data.comment.strip())[:200]
        need.record = _record(actor, need, minutes)
        need.transfer = _pay(actor, need, minutes, on_behalf, data.consent)
        need.status, need.closed_at = NeedStatus.DONE, timezone.now()
        need.save()
        _event(need, actor, "confirm", before, _("评分 %(r)s") % {"r": data.rating or "—"})
        log_action(actor, "need.confirm", need, {"minutes": minutes, "rating": data.rating})
        _change_load(need.volunteer_id, -1)  # type: ignore[arg-type]
        notifications.confirmed(need=need, actor=actor)
    from huzhu.needs.profiles import profiles_refresh

    profiles_refresh(volunteer_ids=[need.volunteer_id])  # rating and load, outside the lock
    return need


def _record(actor: Any, need: Need, minutes: int) -> Any:
    from huzhu.activities.record_services import RecordInput, record_from_need

    served_on = timezone.localtime(need.done_at or timezone.now()).date()
    return record_from_need(
        actor=actor,
        volunteer=need.volunteer,
        org=community_of(need.org),
        data=RecordInput(
            served_on=min(served_on, timezone.localdate()),
            minutes=minutes,
            content=_("需求对接：%(title)s（%(number)s）")
            % {"title": need.title, "number": need.number},
            place=need.address,
            category=need.category.service_category,
            rating=RATING_TO_RECORD.get(need.rating) if need.rating else None,
            evaluation=need.rating_comment,
        ),
    )


def _pay(actor: Any, need: Need, minutes: int, on_behalf: bool, consent: str) -> Any:
    from huzhu.timebank import services as timebank

    key = f"need:{need.pk}"
    memo = _("需求 %(number)s") % {"number": need.number}
    helper = need.volunteer.person  # type: ignore[union-attr]
    if need.payment == Payment.REQUESTER:
        return timebank.pay_for_help(
            actor=actor,
            payer=need.requester,  # type: ignore[arg-type]
            helper=helper,
            minutes=minutes,
            memo=memo,
            idempotency_key=key,
            on_behalf=on_behalf,
            consent=consent or (_("本人在线确认") if not on_behalf else ""),
            record=need.record,
        )
    if need.payment == Payment.POOL:
        return timebank.pool_pays_for_help(
            actor=actor,
            org=need.org,
            helper=helper,
            minutes=minutes,
            memo=memo,
            idempotency_key=key,
            record=need.record,
        )
    return None


def need_dispute(*, actor: Any, access: NeedAccess, reason: str) -> Need:
    """The requester does not agree the work was done (or with its time): a worker decides."""
    if not (access.is_requester or access.is_worker):
        raise PermissionDenied(_("只有求助人或工作人员可以提出异议。"))
    if not reason.strip():
        raise ValidationError({"reason": [_("请说明异议内容。")]})
    with transaction.atomic():
        need = _locked(access.need)
        _refuse_status(
            need, (NeedStatus.AWAITING,), _("需求%(number)s当前为“%(status)s”，不能提出异议。")
        )
        need.status = NeedStatus.DISPUTED
        need.dispute_reason = hide_phone_numbers(reason.strip())[:300]
        need.save(update_fields=["status", "dispute_reason", "updated_at"])
        _event(need, actor, "dispute", NeedStatus.AWAITING, need.dispute_reason)
        log_action(actor, "need.dispute", need)
        notifications.disputed(need=need, actor=actor)
    return need


def dispute_return(*, actor: Any, access: NeedAccess, note: str) -> Need:
    """A worker sends a disputed need back to the volunteer to finish (争议 → 服务中)."""
    if not access.is_worker:
        raise PermissionDenied(_("只有工作人员可以处理异议。"))
    if not note.strip():
        raise ValidationError({"note": [_("请写明处理意见。")]})
    with transaction.atomic():
        need = _locked(access.need)
        _refuse_status(
            need, (NeedStatus.DISPUTED,), _("需求%(number)s当前为“%(status)s”，没有待处理的异议。")
        )
        note = hide_phone_numbers(note.strip())[:300]
        need.status = NeedStatus.IN_SERVICE
        need.save(update_fields=["status", "updated_at"])
        _event(need, actor, "dispute_return", NeedStatus.DISPUTED, note)
        _system_message(need, _("工作人员处理意见：%(note)s") % {"note": note})
        log_action(actor, "need.dispute_return", need)
        notifications.dispute_returned(need=need, note=note, actor=actor)
    return need


def dispute_close(*, actor: Any, access: NeedAccess, note: str) -> Need:
    """A worker closes a disputed need without payment or record (已取消, reason kept)."""
    if not access.is_worker:
        raise PermissionDenied(_("只有工作人员可以处理异议。"))
    if not note.strip():
        raise ValidationError({"note": [_("请写明处理意见。")]})
    with transaction.atomic():
        need = _locked(access.need)
        _refuse_status(
            need, (NeedStatus.DISPUTED,), _("需求%(number)s当前为“%(status)s”，没有待处理的异议。")
        )
        note = hide_phone_numbers(note.strip())[:300]
        need.status, need.closed_at = NeedStatus.CANCELLED, timezone.now()
        need.cancel_reason = note[:200]
        need.save(update_fields=["status", "closed_at", "cancel_reason", "updated_at"])
        _event(need, actor, "dispute_close", NeedStatus.DISPUTED, note)
        _system_message(need, _("工作人员处理意见：%(note)s") % {"note": note})
        log_action(actor, "need.dispute_close", need)
        _change_load(need.volunteer_id, -1)  # type: ignore[arg-type]
        notifications.dispute_closed(need=need, note=note, actor=actor)
    return need


# --- the thread ----------------------------------------------------------------------------


def hide_phone_numbers(text: str) -> str:
    """Phone numbers typed into a message (or a description, a note …) are hidden: the
    thread is the channel. Full-width digits are read as digits (the translation keeps every
    character in place, so the spans found apply to the original text)."""
    plain = text.translate(_ASCII_DIGITS)
    spans = [m.span() for m in PHONE_IN_TEXT.finditer(plain)]
    if not spans:
        return text
    mark, parts, last = _("[号码已隐藏]"), [], 0
    for start, end in spans:
        parts.extend((text[last:start], mark))
        last = end
    parts.append(text[last:])
    return "".join(parts)


def _system_message(need: Need, body: str) -> Message:
    return Message.objects.create(
        need=need, role=MessageRole.SYSTEM, author_label=_("系统"), body=body[:1000]
    )


def message_post(*, actor: Any, access: NeedAccess, body: str) -> Message:
    """Post in a need's thread (requester, its volunteer, or a worker)."""
    if not (access.is_requester or access.is_volunteer or access.is_worker):
        raise PermissionDenied(_("只有求助人、承接志愿者和工作人员可以留言。"))
    if not access.may_post:
        raise ValidationError({"body": [_("需求已办结，留言已关闭。")]})
    text = body.strip()
    if not text:
        raise ValidationError({"body": [_("请输入留言内容。")]})
    if len(text) > 1000:
        raise ValidationError({"body": [_("留言最多 1000 字。")]})
    need = access.need
    role = access.role
    if role == MessageRole.WORKER:
        label = _("社区工作人员")
    elif role == MessageRole.REQUESTER:
        label = _("求助人 %(name)s") % {"name": mask_name(need.requester.name)}  # type: ignore[union-attr]
    else:
        label = _("志愿者 %(name)s") % {"name": mask_name(need.volunteer.person.name)}  # type: ignore[union-attr]
    message = Message.objects.create(
        need=need, author=_user(actor), role=role, author_label=label, body=hide_phone_numbers(text)
    )
    notifications.message_posted(need=need, message=message, author=actor)
    return message


# --- offers --------------------------------------------------------------------------------


@dataclass
class OfferInput:
    title: str
    category_ids: list[int]
    description: str = ""
    availability: int = 0
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    is_active: bool = True


def _validate_offer(data: OfferInput) -> list[NeedCategory]:
    errors: dict[str, list[str]] = {}
    if not data.title.strip():
        errors["title"] = [_("请填写标题。")]
    categories = list(NeedCategory.objects.filter(pk__in=data.category_ids, is_active=True))
    if not data.category_ids:
        errors["category_ids"] = [_("请至少选择一项可提供的服务。")]
    elif len(categories) != len(set(data.category_ids)):
        errors["category_ids"] = [_("服务类别不存在或已停用。")]
    if not 0 <= data.availability < (1 << 21):
        errors["availability"] = [_("可服务时间无效。")]
    if (data.latitude is None) != (data.longitude is None):
        errors["latitude"] = [_("经纬度须同时填写。")]
    elif data.latitude is not None and not (
        -90 <= data.latitude <= 90 and -180 <= data.longitude <= 180  # type: ignore[operator]
    ):
        errors["latitude"] = [_("经纬度超出范围。")]
    if errors:
        raise ValidationError(errors)
    return categories


def offer_save(
    *,
    actor: Any,
    data: OfferInput,
    volunteer: Any = None,
    org: Org | None = None,
    scope: Scope | None = None,
    offer: Offer | None = None,
) -> Offer:
    """A volunteer publishes (or edits) their own offer; a worker records a unit's offer."""
    categories = _validate_offer(data)
    if offer is not None:
        volunteer, org = offer.volunteer, offer.org
    if volunteer is not None:
        if volunteer.person_id != person_id_of(actor):
            raise PermissionDenied(_("只能发布或修改自己的服务。"))
        org = volunteer.org
    elif org is None or scope is None or not scope.can(Perm.NEED_MANAGE, org):
        raise PermissionDenied(_("没有在该社区登记单位服务的权限。"))
    with transaction.atomic():
        offer = offer or Offer(org=org, volunteer=volunteer, created_by=_user(actor))
        offer.title = data.title.strip()[:60]
        offer.description = data.description.strip()[:1000]
        offer.availability = data.availability
        offer.address = data.address.strip()[:200]
        offer.latitude, offer.longitude = data.latitude, data.longitude
        offer.is_active = data.is_active
        offer.save()
        offer.categories.set(categories)
        log_action(actor, "offer.save", offer, {"categories": [c.pk for c in categories]})
    if volunteer is not None:
        from huzhu.needs.profiles import profiles_refresh

        profiles_refresh(volunteer_ids=[volunteer.pk])
    return offer
