"""Every write of the notice boards, the suggestion box and the public contacts of a community
(DOMAIN.md §6), atomic and audited.

* Notices (公示栏): 好人好事 and 不文明行为 from any person of the community, every kind from
  workers (``DESK_MANAGE``). Everything waits as 待审核 until a worker publishes or rejects it
  (with a note); a published notice can be taken down. 不文明行为 names places and kinds only:
  text naming a person registered in the community, or holding a phone or ID number, is
  refused. 典型事迹 names a volunteer only with their consent, recorded by the worker (the
  database constraint ``notice_named_volunteer_consented`` backs it).
* Suggestions (献良策): numbered ``JY<year><6 digits>``; a worker answers with a status
  (已答复 / 已采纳 / 部分采纳 / 暂不采纳) and a reply the author reads in 我的建议.
* Public contacts and the community's service and supervision phones, kept by its workers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import CharField, F, Value
from django.db.models.functions import Length
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from huzhu.common.audit import log_action
from huzhu.common.services import counter_next, notify
from huzhu.desk.models import (
    Notice,
    NoticeKind,
    NoticeStatus,
    PublicContact,
    Suggestion,
    SuggestionStatus,
)
from huzhu.desk.ratelimit import RateLimited, check_rate, source_hash
from huzhu.desk.selectors import community_of
from huzhu.desk.text import plain_text_errors
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.roles import Perm
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from huzhu.volunteers.models import Volunteer

RESIDENT_KINDS = (NoticeKind.GOOD_DEED, NoticeKind.UNCIVIL)
REPLY_STATUSES = (
    SuggestionStatus.REPLIED,
    SuggestionStatus.ADOPTED,
    SuggestionStatus.PARTLY,
    SuggestionStatus.NOT_ADOPTED,
)

# Phone and ID numbers typed into free text, after full-width digits are made ASCII: mobiles
# (13912345678, 139 1234 5678, +86 139-1234-5678), landlines with their area code
# (0531-8888 6666, (0531)88886666) and citizen ID numbers (18 characters, or the old 15).
_SEP = r"[-. ]{0,2}"
_PHONE = re.compile(
    r"(?<!\d)(?:"
    rf"(?:(?:\+|00)?86{_SEP})?1[3-9]\d(?:{_SEP}\d){{8}}"
    rf"|(?:\(0\d{{2,3}}\)|0\d{{2,3}}){_SEP}[2-9]\d{{2,3}}{_SEP}\d{{4}}"
    r")(?!\d)"
)
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_ASCII = str.maketrans("０１２３４５６７８９＋－—–（）　．Ｘｘ", "0123456789+---() .Xx")
# A phone a community publishes: digits with an optional area code, dashes or spaces.
_PUBLIC_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{3,28}[0-9]$")


def _is_user(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise PermissionDenied(message)


def _text(
    errors: dict[str, list[str]],
    name: str,
    value: str,
    label: str,
    limit: int,
    required: bool = True,
) -> str:
    """The stripped value; an error under ``name`` when missing, too long or not plain."""
    value = (value or "").strip()
    if required and not value:
        errors.setdefault(name, []).append(_("请填写%(label)s。") % {"label": label})
    elif len(value) > limit:
        errors.setdefault(name, []).append(
            _("%(label)s不能超过 %(n)d 字。") % {"label": label, "n": limit}
        )
    else:
        for message in plain_text_errors({name: value}).get(name, []):
            errors.setdefault(name, []).append(message)
    return value


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def _notify_after_commit(user: Any, kind: str, title: str, body: str, url: str) -> None:
    if user is not None:
        transaction.on_commit(lambda: notify(user=user, kind=kind, title=title, body=body, url=url))


# --- checks on what a notice says ------------------------------------------------------------


def has_phone_or_id(text: str) -> bool:
    """Whether ``text`` holds something that looks like a phone or citizen ID number."""
    plain = (text or "").translate(_ASCII)
    return bool(_PHONE.search(plain) or _ID_NUMBER.search(plain))


def names_person_of(community: Org, text: str) -> bool:
    """Whether ``text`` holds the full name (two characters or more) of anyone registered in
    the community or its grids. Asked of the database, so a large register is not loaded."""
    text = (text or "").strip()
    if len(text) < 2:
        return False
    return (
        Person.objects.filter(org__path__startswith=community.path)
        .alias(name_length=Length("name"), haystack=Value(text, output_field=CharField()))
        .filter(name_length__gte=2, haystack__contains=F("name"))
        .exists()
    )


def _uncivil_errors(community: Org, fields: dict[str, tuple[str, str]]) -> dict[str, list[str]]:
    """不文明行为: places and kinds only. ``fields`` maps a field to (label, text)."""
    errors: dict[str, list[str]] = {}
    for name, (label, value) in fields.items():
        if not value:
            continue
        if names_person_of(community, value):
            errors.setdefault(name, []).append(
                _("不文明行为只写地点和现象，不能点名个人：请删去“%(label)s”中的居民姓名。")
                % {"label": label}
            )
        if has_phone_or_id(value):
            errors.setdefault(name, []).append(
                _("“%(label)s”中不能出现电话号码或身份证号。") % {"label": label}
            )
    return errors


# --- notices ---------------------------------------------------------------------------------


@dataclass
class NoticeInput:
    kind: str
    title: str
    body: str
    org_id: int | None = None  # the community (a worker chooses; a resident's is their own)
    place: str = ""
    volunteer_id: int | None = None  # 典型事迹: the volunteer named
    volunteer_number: str = ""  # … or their volunteer number
    consent_note: str = ""  # how the volunteer agreed to be named (e.g. 本人书面同意)
    consent_at: dt.datetime | None = None  # when (default: now)


def _notice_community(actor: Any, scope: Scope, data: NoticeInput) -> tuple[Org, bool]:
    """The community the notice goes to, and whether the actor posts as a worker there."""
    person = Person.objects.select_related("org").filter(user_id=actor.pk).first()
    if data.org_id:
        org = Org.objects.filter(pk=data.org_id, is_active=True).first()
        if org is None or org.kind not in (OrgKind.COMMUNITY, OrgKind.GRID):
            raise ValidationError({"org": [_("请选择社区。")]})
        community = community_of(org)
    elif person is not None:
        community = community_of(person.org)
    else:
        raise ValidationError({"org": [_("请选择社区。")]})
    if scope.can(Perm.DESK_MANAGE, community):
        return community, True
    _require(
        person is not None and person.org.path.startswith(community.path),
        _("只有本社区的居民和工作人员可以投稿。"),
    )
    return community, False


def _notice_volunteer(
    data: NoticeInput, community: Org, errors: dict[str, list[str]]
) -> Volunteer | None:
    if data.volunteer_id is None and not (data.volunteer_number or "").strip():
        return None
    volunteers = Volunteer.objects.select_related("person").filter(
        org__path__startswith=community.path
    )
    if data.volunteer_id is not None:
        volunteer = volunteers.filter(pk=data.volunteer_id).first()
    else:
        volunteer = volunteers.filter(number=data.volunteer_number.strip()).first()
    if volunteer is None:
        errors["volunteer"] = [_("本社区没有该志愿者。")]
    elif data.kind != NoticeKind.EXEMPLARY:
        errors["volunteer"] = [_("只有“典型事迹”可以署志愿者的名字。")]
    elif not (data.consent_note or "").strip():
        errors["consent_note"] = [
            _("署名前须取得志愿者本人同意：请填写同意方式（如“本人书面同意”）。")
        ]
    return volunteer


def _check_notice_rate(actor: Any, now: dt.datetime) -> None:
    per_hour = settings.HUZHU_DESK_RATE_PER_HOUR
    recent = Notice.objects.filter(
        submitted_by_id=actor.pk, created_at__gte=now - dt.timedelta(hours=1)
    ).count()
    if recent >= per_hour:
        raise RateLimited(
            _("投稿过于频繁：每小时最多 %(n)d 篇，请稍后再试。") % {"n": per_hour},
            code="rate_limited",
        )


def _notice_errors(
    data: NoticeInput, community: Org, as_worker: bool
) -> tuple[dict[str, list[str]], dict[str, str]]:
    errors: dict[str, list[str]] = {}
    if data.kind not in NoticeKind.values:
        errors["kind"] = [_("请选择栏目。")]
    elif not as_worker and data.kind not in RESIDENT_KINDS:
        errors["kind"] = [_("居民可以投稿“好人好事”和“不文明行为”，其他栏目由社区发布。")]
    values = {
        "title": _text(errors, "title", data.title, _("标题"), 60),
        "body": _text(errors, "body", data.body, _("内容"), 3000),
        "place": _text(
            errors, "place", data.place, _("地点"), 100, required=data.kind == NoticeKind.UNCIVIL
        ),
        "consent_note": _text(
            errors, "consent_note", data.consent_note, _("同意方式"), 100, required=False
        ),
    }
    if data.kind == NoticeKind.UNCIVIL and "title" not in errors and "body" not in errors:
        found = _uncivil_errors(
            community,
            {
                "title": (_("标题"), values["title"]),
                "body": (_("内容"), values["body"]),
                "place": (_("地点"), values["place"]),
            },
        )
        for name, messages in found.items():
            errors.setdefault(name, []).extend(messages)
    return errors, values


def notice_submit(*, actor: Any, scope: Scope, data: NoticeInput) -> Notice:
    """投稿: a person of the community posts a good deed or an uncivil behaviour; a worker
    posts any kind. It waits for moderation (待审核)."""
    _require(_is_user(actor), _("请先登录。"))
    community, as_worker = _notice_community(actor, scope, data)
    errors, values = _notice_errors(data, community, as_worker)
    volunteer = _notice_volunteer(data, community, errors)
    if volunteer is not None and not as_worker:
        errors["volunteer"] = [_("志愿者署名由社区工作人员在取得本人同意后填写。")]
    _raise(errors)
    now = timezone.now()
    if not as_worker:
        _check_notice_rate(actor, now)
    with transaction.atomic():
        notice = Notice.objects.create(
            org=community,
            kind=data.kind,
            title=values["title"],
            body=values["body"],
            place=values["place"],
            volunteer=volunteer,
            consent_at=(data.consent_at or now) if volunteer is not None else None,
            consent_note=values["consent_note"] if volunteer is not None else "",
            submitted_by=actor,
        )
        log_action(
            actor,
            "desk.notice.submit",
            notice,
            {"kind": data.kind, "volunteer": volunteer.pk if volunteer else None},
        )
    return notice


def _locked_notice(notice: Notice) -> Notice:
    return Notice.objects.select_for_update(of=("self",)).select_related("org").get(pk=notice.pk)


def _refuse_notice_status(notice: Notice, allowed: tuple[str, ...], action: str) -> None:
    if notice.status not in allowed:
        raise ValidationError(
            _("该内容当前为“%(status)s”，不能%(action)s。")
            % {"status": NoticeStatus(notice.status).label, "action": action},
            code="status",
        )


def _tell_submitter(notice: Notice, title: str, body: str) -> None:
    if notice.submitted_by_id is None:
        return
    url = reverse("desk:notice_detail", args=[notice.pk])
    _notify_after_commit(notice.submitted_by, "desk.notice", title, body, url)


def notice_moderate(
    *, actor: Any, scope: Scope, notice: Notice, publish: bool, note: str = ""
) -> Notice:
    """审核: a worker over the community publishes a pending notice, or rejects it with a
    note the submitter reads."""
    _require(scope.can(Perm.DESK_MANAGE, notice.org), _("没有审核该内容的权限。"))
    errors: dict[str, list[str]] = {}
    note = _text(errors, "note", note, _("审核意见"), 200, required=not publish)
    _raise(errors)
    with transaction.atomic():
        notice = _locked_notice(notice)
        _refuse_notice_status(notice, (NoticeStatus.PENDING,), _("审核"))
        now = timezone.now()
        notice.status = NoticeStatus.PUBLISHED if publish else NoticeStatus.REJECTED
        notice.moderated_by = actor
        notice.moderated_at = now
        notice.moderation_note = note
        notice.published_at = now if publish else None
        notice.save()
        verb = "desk.notice.publish" if publish else "desk.notice.reject"
        log_action(actor, verb, notice, {"note": note})
        if publish:
            _tell_submitter(notice, _("您的投稿已发布"), notice.title)
        else:
            _tell_submitter(notice, _("您的投稿未通过审核"), note)
    return notice


def notice_withdraw(*, actor: Any, scope: Scope, notice: Notice, note: str = "") -> Notice:
    """撤下: a worker takes a published notice off the board."""
    _require(scope.can(Perm.DESK_MANAGE, notice.org), _("没有撤下该内容的权限。"))
    errors: dict[str, list[str]] = {}
    note = _text(errors, "note", note, _("撤下理由"), 200, required=False)
    _raise(errors)
    with transaction.atomic():
        notice = _locked_notice(notice)
        _refuse_notice_status(notice, (NoticeStatus.PUBLISHED,), _("撤下"))
        notice.status = NoticeStatus.WITHDRAWN
        notice.moderated_by = actor
        notice.moderated_at = timezone.now()
        if note:
            notice.moderation_note = note
        notice.save()
        log_action(actor, "desk.notice.withdraw", notice, {"note": note})
    return notice


# --- suggestions -----------------------------------------------------------------------------


@dataclass
class SuggestionInput:
    title: str
    body: str
    is_public: bool = False  # publish the suggestion and the reply
    author_public: bool = False  # show the author's (masked) name with it


def _suggestion_number(now: dt.datetime) -> str:
    year = timezone.localtime(now).year
    return f"JY{year}{counter_next(f'desk.suggestion.{year}'):06d}"


def suggestion_submit(*, actor: Any, data: SuggestionInput, client_address: str = "") -> Suggestion:
    """献良策: a registered resident sends a suggestion to their community."""
    _require(_is_user(actor), _("请先登录。"))
    person = Person.objects.select_related("org").filter(user_id=actor.pk).first()
    _require(person is not None, _("只有登记的居民可以提建议。"))
    errors: dict[str, list[str]] = {}
    title = _text(errors, "title", data.title, _("标题"), 60)
    body = _text(errors, "body", data.body, _("建议内容"), 3000)
    _raise(errors)
    source = source_hash(client_address)
    check_rate(Suggestion, source=source, person_id=person.pk, person_field="author_id")
    now = timezone.now()
    with transaction.atomic():
        suggestion = Suggestion.objects.create(
            number=_suggestion_number(now),
            org=community_of(person.org),
            author=person,
            submitted_by=actor,
            title=title,
            body=body,
            is_public=bool(data.is_public),
            author_public=bool(data.author_public),
            source_hash=source,
        )
        log_action(actor, "desk.suggestion.submit", suggestion, {"public": data.is_public})
    return suggestion


def suggestion_reply(
    *, actor: Any, scope: Scope, suggestion: Suggestion, status: str, reply: str
) -> Suggestion:
    """答复: a worker over the community answers, saying whether it is adopted. A later answer
    replaces the earlier one (e.g. 已答复 → 已采纳 once decided)."""
    _require(scope.can(Perm.DESK_MANAGE, suggestion.org), _("没有答复该建议的权限。"))
    errors: dict[str, list[str]] = {}
    if status not in REPLY_STATUSES:
        errors["status"] = [_("请选择答复结果。")]
    reply = _text(errors, "reply", reply, _("答复"), 2000)
    _raise(errors)
    with transaction.atomic():
        suggestion = (
            Suggestion.objects.select_for_update(of=("self",))
            .select_related("org", "author__user", "submitted_by")
            .get(pk=suggestion.pk)
        )
        before = suggestion.status
        suggestion.status = status
        suggestion.reply = reply
        suggestion.replied_by = actor
        suggestion.replied_at = timezone.now()
        suggestion.save()
        log_action(actor, "desk.suggestion.reply", suggestion, {"from": before, "status": status})
        author = suggestion.author.user if suggestion.author_id else None
        _notify_after_commit(
            author or suggestion.submitted_by,
            "desk.suggestion",
            _("您的建议 %(number)s 已有答复") % {"number": suggestion.number},
            SuggestionStatus(status).label,
            reverse("desk:suggestion_detail", args=[suggestion.pk]),
        )
    return suggestion


# --- public contacts and phones --------------------------------------------------------------


@dataclass
class ContactInput:
    org_id: int | None
    name: str
    phone: str
    role: str = "网格员"
    sort_order: int = 0


def _phone(errors: dict[str, list[str]], name: str, value: str, required: bool) -> str:
    value = (value or "").translate(_ASCII).strip()
    if not value:
        if required:
            errors[name] = [_("请填写电话。")]
    elif len(value) > 30 or not _PUBLIC_PHONE.match(value):
        errors[name] = [_("电话只能包含数字、空格和“-”，如 0531-88886666。")]
    return value


def _contact_org(scope: Scope, org_id: int | None) -> Org:
    org = Org.objects.filter(pk=org_id, is_active=True).first() if org_id else None
    if org is None or org.kind not in (OrgKind.COMMUNITY, OrgKind.GRID):
        raise ValidationError({"org": [_("请选择社区或网格。")]})
    _require(scope.can(Perm.DESK_MANAGE, org), _("没有管理该社区联系人的权限。"))
    return org


def contact_add(*, actor: Any, scope: Scope, data: ContactInput) -> PublicContact:
    """A contact the community publishes (网格员 …), entered with the person's agreement."""
    org = _contact_org(scope, data.org_id)
    errors: dict[str, list[str]] = {}
    role = _text(errors, "role", data.role, _("职责"), 30)
    name = _text(errors, "name", data.name, _("姓名"), 30)
    phone = _phone(errors, "phone", data.phone, required=True)
    _raise(errors)
    with transaction.atomic():
        contact = PublicContact.objects.create(
            org=org, role=role, name=name, phone=phone, sort_order=data.sort_order or 0
        )
        log_action(actor, "desk.contact.add", contact, {"role": role, "org": org.name})
    return contact


def contact_delete(*, actor: Any, scope: Scope, contact: PublicContact) -> None:
    _require(scope.can(Perm.DESK_MANAGE, contact.org), _("没有管理该社区联系人的权限。"))
    with transaction.atomic():
        log_action(actor, "desk.contact.delete", contact, {"role": contact.role})
        contact.delete()


def community_phones_set(
    *, actor: Any, scope: Scope, org: Org, service_phone: str, supervision_phone: str
) -> Org:
    """The service phone and the supervision (complaint) phone a community publishes."""
    _require(
        org.kind == OrgKind.COMMUNITY and scope.can(Perm.DESK_MANAGE, org),
        _("没有设置该社区电话的权限。"),
    )
    errors: dict[str, list[str]] = {}
    service = _phone(errors, "service_phone", service_phone, required=False)
    supervision = _phone(errors, "supervision_phone", supervision_phone, required=False)
    _raise(errors)
    with transaction.atomic():
        org.service_phone = service
        org.supervision_phone = supervision
        org.save(update_fields=["service_phone", "supervision_phone", "updated_at"])
        log_action(
            actor,
            "desk.community.phones",
            org,
            {"service_phone": service, "supervision_phone": supervision},
        )
    return org
