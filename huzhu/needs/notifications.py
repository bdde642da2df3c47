"""What requesters, volunteers and workers are told as a need moves (through ``notify``).

Each step tells the people it concerns — never the person who took the step (``actor``),
and nobody without a login (a resident whose need a worker posted is kept informed by that
worker). "Workers" are the worker who posted the need for a resident, or else the workers
and administrators of the need's community (and grid).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.common.services import notify, notify_many

if TYPE_CHECKING:
    from huzhu.needs.models import Invitation, Message, Need
    from huzhu.volunteers.models import Volunteer


def _url(need: Need) -> str:
    return reverse("needs:detail", args=[need.pk])


def _requester_user(need: Need) -> Any:
    return getattr(need.requester, "user", None) if need.requester_id else None


def _volunteer_user(need: Need) -> Any:
    return getattr(need.volunteer.person, "user", None) if need.volunteer_id else None


def _person_user(volunteer: Volunteer) -> Any:
    return getattr(volunteer.person, "user", None)


def _workers(need: Need) -> list[Any]:
    """The worker who posted it for a resident, else the community's workers and admins."""
    from django.contrib.auth import get_user_model

    from huzhu.needs.selectors import community_of
    from huzhu.orgs.roles import Role

    poster = need.posted_by
    if (
        poster is not None
        and need.requester_id is not None
        and poster.pk != getattr(_requester_user(need), "pk", None)
    ):
        return [poster]
    community = community_of(need.org)
    return list(
        get_user_model()
        .objects.filter(
            is_active=True,
            role_grants__org__in={need.org_id, community.pk},
            role_grants__role__in=(Role.WORKER, Role.ADMIN),
        )
        .distinct()
        .order_by("pk")
    )


def _tell(
    users: Iterable[Any], need: Need, kind: str, title: str, body: str = "", actor: Any = None
) -> None:
    seen: set[int] = {actor.pk} if getattr(actor, "pk", None) is not None else set()
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        notify(user=user, kind=kind, title=title, body=body, url=_url(need))


def posted(*, need: Need, actor: Any = None) -> None:
    """A resident asked for help themselves: the community's workers are told (a need a
    worker posted is already in hand)."""
    if need.channel != "self":
        return
    urgent = need.urgency != "normal"
    title = (_("紧急求助：%(t)s") if urgent else _("新的求助：%(t)s")) % {"t": need.title}
    _tell(
        _workers(need),
        need,
        "need.post",
        title,
        _("类别：%(c)s；时间：%(w)s。") % {"c": need.category.name, "w": when(need)},
        actor,
    )


def invited(*, need: Need, invitations: list[Invitation]) -> None:
    urgent = need.urgency != "normal"
    title = (_("紧急求助：%(t)s") if urgent else _("邀请您承接：%(t)s")) % {"t": need.title}
    notify_many(
        [
            {
                "user": _person_user(i.volunteer),
                "kind": "need.invite",
                "title": title,
                "body": _("类别：%(c)s；时间：%(w)s。")
                % {"c": need.category.name, "w": when(need)},
                "url": reverse("needs:invitations"),
            }
            for i in invitations
        ]
    )


def applied(*, need: Need, invitation: Invitation) -> None:
    _tell(
        [_requester_user(need), *_workers(need)],
        need,
        "need.apply",
        _("有志愿者愿意承接：%(t)s") % {"t": need.title},
        actor=_person_user(invitation.volunteer),
    )


def declined(*, need: Need, invitation: Invitation, actor: Any = None) -> None:
    """A volunteer said no (the inviter is told) — or their offer was declined or their
    invitation withdrawn (they are told)."""
    from huzhu.needs.models import InvitationKind

    volunteer_user = _person_user(invitation.volunteer)
    own = volunteer_user is not None and volunteer_user.pk == getattr(actor, "pk", None)
    if not own:
        title = (
            _("您的自荐未被采纳：%(t)s")
            if invitation.kind == InvitationKind.APPLY
            else _("邀请已撤回：%(t)s")
        ) % {"t": need.title}
        notify(
            user=volunteer_user,
            kind="need.decline",
            title=title,
            body=invitation.reply,
            url=reverse("needs:invitations"),
        )
        return
    if invitation.kind == InvitationKind.APPLY:
        return  # a volunteer taking back their own offer: nobody was waiting on it
    inviter = invitation.invited_by
    _tell(
        [inviter] if inviter is not None else _workers(need),
        need,
        "need.decline",
        _("志愿者婉拒了邀请：%(t)s") % {"t": need.title},
        invitation.reply,
        actor,
    )


def matched(*, need: Need, actor: Any = None) -> None:
    _tell(
        [_requester_user(need), *_workers(need), _volunteer_user(need)],
        need,
        "need.match",
        _("需求已匹配：%(t)s") % {"t": need.title},
        _("服务时间：%(w)s。") % {"w": when(need)},
        actor,
    )


def need_cancelled(
    *,
    need: Need,
    invitees: Iterable[Volunteer] = (),
    actor: Any = None,
    matched: bool = True,
) -> None:
    """The volunteer who had taken it, those still asked, and the requester (when someone
    else cancelled) are told."""
    users = [_requester_user(need)]
    if matched:
        users.append(_volunteer_user(need))
    users.extend(_person_user(v) for v in invitees)
    _tell(
        users,
        need,
        "need.cancel",
        _("需求已取消：%(t)s") % {"t": need.title},
        need.cancel_reason,
        actor,
    )


def awaiting_confirmation(*, need: Need, actor: Any = None) -> None:
    _tell(
        [_requester_user(need), *_workers(need)],
        need,
        "need.done",
        _("志愿者已完成服务，请确认并评价：%(t)s") % {"t": need.title},
        actor=actor,
    )


def confirmed(*, need: Need, actor: Any = None) -> None:
    _tell(
        [_volunteer_user(need)],
        need,
        "need.confirm",
        _("服务已确认：%(t)s") % {"t": need.title},
        _("服务时长 %(m)d 分钟已记入您的志愿服务记录。") % {"m": need.actual_minutes or 0},
        actor,
    )


def disputed(*, need: Need, actor: Any = None) -> None:
    _tell(
        [*_workers(need), _volunteer_user(need)],
        need,
        "need.dispute",
        _("求助人对服务有异议：%(t)s") % {"t": need.title},
        need.dispute_reason,
        actor,
    )


def dispute_returned(*, need: Need, note: str, actor: Any = None) -> None:
    _tell(
        [_volunteer_user(need), _requester_user(need)],
        need,
        "need.dispute_return",
        _("异议已处理，继续服务：%(t)s") % {"t": need.title},
        note,
        actor,
    )


def dispute_closed(*, need: Need, note: str, actor: Any = None) -> None:
    _tell(
        [_volunteer_user(need), _requester_user(need)],
        need,
        "need.dispute_close",
        _("异议已处理，需求已关闭：%(t)s") % {"t": need.title},
        note,
        actor,
    )


def message_posted(*, need: Need, message: Message, author: Any) -> None:
    users = [_requester_user(need), _volunteer_user(need)]
    if message.role != "worker":
        users.extend(_workers(need))
    _tell(
        users,
        need,
        "need.message",
        _("新留言：%(t)s") % {"t": need.title},
        message.body[:100],
        author,
    )


def when(need: Need) -> str:
    from django.utils import timezone

    start = timezone.localtime(need.starts_at)
    end = timezone.localtime(need.ends_at)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
