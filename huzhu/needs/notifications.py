"""What requesters, volunteers and workers are told as a need moves (through ``notify``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.urls import reverse
from django.utils.translation import gettext as _

from huzhu.common.services import notify, notify_many

if TYPE_CHECKING:
    from huzhu.needs.models import Invitation, Message, Need


def _url(need: Need) -> str:
    return reverse("needs:detail", args=[need.pk])


def _requester_user(need: Need) -> Any:
    return getattr(need.requester, "user", None) if need.requester_id else None


def _volunteer_user(need: Need) -> Any:
    return getattr(need.volunteer.person, "user", None) if need.volunteer_id else None


def _workers(need: Need) -> list[Any]:
    """The worker who posted it, else the community's workers and admins."""
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
        .objects.filter(role_grants__org=community, role_grants__role__in=(Role.WORKER, Role.ADMIN))
        .distinct()
    )


def _tell(users: Iterable[Any], need: Need, kind: str, title: str, body: str = "") -> None:
    seen: set[int] = set()
    for user in users:
        if user is None or user.pk in seen:
            continue
        seen.add(user.pk)
        notify(user=user, kind=kind, title=title, body=body, url=_url(need))


def invited(*, need: Need, invitations: list[Invitation]) -> None:
    urgent = need.urgency != "normal"
    title = (_("紧急求助：%(t)s") if urgent else _("邀请您承接：%(t)s")) % {"t": need.title}
    notify_many(
        [
            {
                "user": getattr(i.volunteer.person, "user", None),
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
    )


def matched(*, need: Need) -> None:
    _tell(
        [_requester_user(need), *_workers(need), _volunteer_user(need)],
        need,
        "need.match",
        _("需求已匹配：%(t)s") % {"t": need.title},
        _("服务时间：%(w)s。") % {"w": when(need)},
    )


def need_cancelled(*, need: Need) -> None:
    _tell([_volunteer_user(need)], need, "need.cancel", _("需求已取消：%(t)s") % {"t": need.title})


def awaiting_confirmation(*, need: Need) -> None:
    _tell(
        [_requester_user(need), *_workers(need)],
        need,
        "need.done",
        _("志愿者已完成服务，请确认并评价：%(t)s") % {"t": need.title},
    )


def confirmed(*, need: Need) -> None:
    _tell(
        [_volunteer_user(need)],
        need,
        "need.confirm",
        _("服务已确认：%(t)s") % {"t": need.title},
        _("服务时长 %(m)d 分钟已记入您的志愿服务记录。") % {"m": need.actual_minutes or 0},
    )


def disputed(*, need: Need) -> None:
    _tell(
        [*_workers(need), _volunteer_user(need)],
        need,
        "need.dispute",
        _("求助人对服务有异议：%(t)s") % {"t": need.title},
        need.dispute_reason,
    )


def message_posted(*, need: Need, message: Message, author: Any) -> None:
    users = [_requester_user(need), _volunteer_user(need)]
    if message.role != "worker":
        users.extend(_workers(need))
    author_pk = getattr(author, "pk", None)
    _tell(
        [u for u in users if u is not None and u.pk != author_pk],
        need,
        "need.message",
        _("新留言：%(t)s") % {"t": need.title},
        message.body[:100],
    )


def when(need: Need) -> str:
    from django.utils import timezone

    start = timezone.localtime(need.starts_at)
    end = timezone.localtime(need.ends_at)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M}"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
