"""Notice boards, suggestions, public contacts and phones: the rules in board_services and
what the board selectors let each person see."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from huzhu.common.models import AuditEntry, Notification
from huzhu.desk import board_selectors as selectors
from huzhu.desk.board_services import (
    ContactInput,
    NoticeInput,
    SuggestionInput,
    community_phones_set,
    contact_add,
    contact_delete,
    has_phone_or_id,
    names_person_of,
    notice_moderate,
    notice_submit,
    notice_withdraw,
    suggestion_reply,
    suggestion_submit,
)
from huzhu.desk.models import (
    Notice,
    NoticeKind,
    NoticeStatus,
    PublicContact,
    Suggestion,
    SuggestionStatus,
    TicketStatus,
)
from huzhu.desk.ratelimit import RateLimited
from huzhu.desk.services import ticket_answer
from huzhu.orgs.scope import Scope
from huzhu.people.models import Person
from tests.activities.factories import make_volunteer
from tests.desk.factories import access, report
from tests.factories import UserFactory
from tests.needs.factories import make_resident

pytestmark = pytest.mark.django_db


# --- helpers (also used by the view and API tests) -------------------------------------------


def scope_of(user: Any) -> Scope:
    return Scope.for_user(user)


def resident(org, name: str = "李阿姨", username: str = "li") -> Person:
    return make_resident(org, name, username=username)


def submit(user: Any, kind: str = NoticeKind.GOOD_DEED, **overrides: Any) -> Notice:
    values: dict[str, Any] = {
        "kind": kind,
        "title": "热心邻居帮忙修好楼道灯",
        "body": "3号楼的楼道灯坏了，邻居主动买来灯泡换好。",
    }
    if kind == NoticeKind.UNCIVIL:
        values.update(title="绿地里有狗粪", body="有人遛狗不清理", place="3号楼东侧绿地")
    values.update(overrides)
    return notice_submit(actor=user, scope=scope_of(user), data=NoticeInput(**values))


def publish(worker: Any, notice: Notice, note: str = "") -> Notice:
    return notice_moderate(
        actor=worker, scope=scope_of(worker), notice=notice, publish=True, note=note
    )


def suggest(user: Any, **overrides: Any) -> Suggestion:
    values: dict[str, Any] = {"title": "增设停车棚", "body": "建议在东门增设非机动车停车棚"}
    values.update(overrides)
    return suggestion_submit(actor=user, data=SuggestionInput(**values))


def reply(worker: Any, suggestion: Suggestion, status: str = "adopted", text: str = "已采纳"):
    return suggestion_reply(
        actor=worker, scope=scope_of(worker), suggestion=suggestion, status=status, reply=text
    )


def errors_of(exc: pytest.ExceptionInfo) -> dict[str, list[str]]:
    return exc.value.message_dict


def verbs(target: Any, pk: int | None = None) -> list[str]:
    return list(
        AuditEntry.objects.filter(target_id=str(pk or target.pk), verb__startswith="desk.")
        .order_by("pk")
        .values_list("verb", flat=True)
    )


# --- submitting notices ----------------------------------------------------------------------


def test_resident_posts_a_good_deed_that_waits_for_moderation(city):
    person = resident(city.grid_a)
    notice = submit(person.user)
    assert notice.org == city.community_a
    assert notice.status == NoticeStatus.PENDING
    assert notice.submitted_by == person.user and notice.published_at is None
    assert verbs(notice) == ["desk.notice.submit"]


def test_resident_may_not_post_exemplary_or_community_notices(city):
    person = resident(city.grid_a)
    for kind in (NoticeKind.EXEMPLARY, NoticeKind.NOTICE):
        with pytest.raises(ValidationError) as exc:
            submit(person.user, kind)
        assert errors_of(exc) == {
            "kind": ["居民可以投稿“好人好事”和“不文明行为”，其他栏目由社区发布。"]
        }
    assert Notice.objects.count() == 0


def test_only_people_of_the_community_and_its_workers_post(city):
    outsider = resident(city.grid_b, "赵大爷", "zhao")
    with pytest.raises(PermissionDenied) as exc:
        submit(outsider.user, org_id=city.community_a.pk)
    assert str(exc.value) == "只有本社区的居民和工作人员可以投稿。"
    nobody = UserFactory(username="nobody")
    with pytest.raises(ValidationError) as exc:
        submit(nobody)
    assert errors_of(exc) == {"org": ["请选择社区。"]}
    assert Notice.objects.count() == 0


def test_worker_posts_every_kind_to_a_community_in_scope(city):
    for kind in NoticeKind.values:
        notice = submit(city.worker_a, kind, org_id=city.community_a.pk)
        assert notice.kind == kind and notice.status == NoticeStatus.PENDING
    with pytest.raises(PermissionDenied):
        submit(city.worker_a, NoticeKind.NOTICE, org_id=city.community_b.pk)


def test_uncivil_needs_a_place_and_plain_text(city):
    person = resident(city.grid_a)
    with pytest.raises(ValidationError) as exc:
        submit(person.user, NoticeKind.UNCIVIL, place="", body="<script>alert(1)</script>")
    assert errors_of(exc) == {
        "body": ["不能包含 HTML 标记或脚本，请只填写文字。"],
        "place": ["请填写地点。"],
    }


def test_uncivil_refuses_the_name_of_a_person_of_the_community(city):
    person = resident(city.grid_a)
    make_resident(city.grid_a, "王建国")
    make_resident(city.community_b, "孙悟")
    with pytest.raises(ValidationError) as exc:
        submit(person.user, NoticeKind.UNCIVIL, body="王建国家的狗在绿地便溺")
    assert errors_of(exc) == {
        "body": ["不文明行为只写地点和现象，不能点名个人：请删去“内容”中的居民姓名。"]
    }
    with pytest.raises(ValidationError) as exc:
        submit(person.user, NoticeKind.UNCIVIL, title="李阿姨乱扔垃圾")
    assert list(errors_of(exc)) == ["title"]
    # A name registered only in another community is not this community's person.
    notice = submit(person.user, NoticeKind.UNCIVIL, body="孙悟空贴纸贴满单元门")
    assert notice.kind == NoticeKind.UNCIVIL and notice.place == "3号楼东侧绿地"


def test_uncivil_refuses_phone_and_id_numbers(city):
    person = resident(city.grid_a)
    for body in (
        "小广告电话 139 1234 5678",
        "证件 370102195001010011",
        "拨打０５３１－８８８８６６６６",
    ):
        with pytest.raises(ValidationError) as exc:
            submit(person.user, NoticeKind.UNCIVIL, body=body)
        assert errors_of(exc) == {"body": ["“内容”中不能出现电话号码或身份证号。"]}
    assert Notice.objects.count() == 0


def test_name_and_number_checks():
    assert has_phone_or_id("电话13912345678") is True
    assert has_phone_or_id("(0531)88886666") is True
    assert has_phone_or_id("身份证37010219500101001X") is True
    assert has_phone_or_id("3号楼2单元501室") is False
    assert has_phone_or_id("2024年10月1日") is False


def test_names_person_of_ignores_one_character_names(city):
    make_resident(city.grid_a, "王")
    assert names_person_of(city.community_a, "王府井小吃街") is False
    make_resident(city.grid_a, "王府")
    assert names_person_of(city.community_a, "王府井小吃街") is True
    assert names_person_of(city.community_b, "王府井小吃街") is False


def test_exemplary_names_a_volunteer_only_with_recorded_consent(city):
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    data = {"org_id": city.community_a.pk, "volunteer_id": volunteer.pk}
    with pytest.raises(ValidationError) as exc:
        submit(city.worker_a, NoticeKind.EXEMPLARY, **data)
    assert errors_of(exc) == {
        "consent_note": ["署名前须取得志愿者本人同意：请填写同意方式（如“本人书面同意”）。"]
    }
    agreed = timezone.make_aware(dt.datetime(2026, 3, 1, 12))
    notice = submit(
        city.worker_a,
        NoticeKind.EXEMPLARY,
        consent_note="本人书面同意",
        consent_at=agreed,
        **data,
    )
    assert notice.volunteer == volunteer
    assert (notice.consent_note, notice.consent_at) == ("本人书面同意", agreed)
    by_number = submit(
        city.worker_a,
        NoticeKind.EXEMPLARY,
        org_id=city.community_a.pk,
        volunteer_number=volunteer.number,
        consent_note="电话确认同意",
    )
    assert by_number.volunteer == volunteer and by_number.consent_at is not None


def test_volunteer_naming_refused_outside_exemplary_or_community_or_for_residents(city):
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    other = make_volunteer(city.grid_b, "周志愿")
    with pytest.raises(ValidationError) as exc:
        submit(
            city.worker_a,
            NoticeKind.GOOD_DEED,
            org_id=city.community_a.pk,
            volunteer_id=volunteer.pk,
            consent_note="本人同意",
        )
    assert errors_of(exc) == {"volunteer": ["只有“典型事迹”可以署志愿者的名字。"]}
    with pytest.raises(ValidationError) as exc:
        submit(
            city.worker_a,
            NoticeKind.EXEMPLARY,
            org_id=city.community_a.pk,
            volunteer_id=other.pk,
            consent_note="本人同意",
        )
    assert errors_of(exc) == {"volunteer": ["本社区没有该志愿者。"]}
    person = resident(city.grid_a)
    with pytest.raises(ValidationError) as exc:
        submit(person.user, volunteer_id=volunteer.pk)
    assert errors_of(exc) == {"volunteer": ["志愿者署名由社区工作人员在取得本人同意后填写。"]}


def test_database_refuses_a_named_volunteer_without_consent(city):
    volunteer = make_volunteer(city.grid_a, "陈志愿")
    with pytest.raises(IntegrityError), transaction.atomic():
        Notice.objects.create(
            org=city.community_a,
            kind=NoticeKind.EXEMPLARY,
            title="t",
            body="b",
            volunteer=volunteer,
        )


def test_resident_notices_are_rate_limited(city, settings):
    settings.HUZHU_DESK_RATE_PER_HOUR = 2
    person = resident(city.grid_a)
    submit(person.user)
    submit(person.user)
    with pytest.raises(RateLimited) as exc:
        submit(person.user)
    assert exc.value.messages == ["投稿过于频繁：每小时最多 2 篇，请稍后再试。"]
    Notice.objects.update(created_at=timezone.now() - dt.timedelta(hours=2))
    submit(person.user)
    for _ in range(3):  # workers are not limited
        submit(city.worker_a, NoticeKind.NOTICE, org_id=city.community_a.pk)
    assert Notice.objects.count() == 6


# --- moderation ------------------------------------------------------------------------------


def test_publish_reject_and_withdraw_are_audited_and_told(city, django_capture_on_commit_callbacks):
    person = resident(city.grid_a)
    first, second = submit(person.user), submit(person.user, title="另一件好事")
    with django_capture_on_commit_callbacks(execute=True):
        first = publish(city.worker_a, first, note="好")
        second = notice_moderate(
            actor=city.worker_a,
            scope=scope_of(city.worker_a),
            notice=second,
            publish=False,
            note="内容重复",
        )
    assert first.status == NoticeStatus.PUBLISHED and first.published_at is not None
    assert first.moderated_by == city.worker_a and first.moderation_note == "好"
    assert second.status == NoticeStatus.REJECTED and second.published_at is None
    assert second.moderation_note == "内容重复"
    titles = list(
        Notification.objects.filter(user=person.user).order_by("pk").values_list("title", "body")
    )
    assert titles == [
        ("您的投稿已发布", "热心邻居帮忙修好楼道灯"),
        ("您的投稿未通过审核", "内容重复"),
    ]
    first = notice_withdraw(
        actor=city.worker_a, scope=scope_of(city.worker_a), notice=first, note="已过时"
    )
    assert first.status == NoticeStatus.WITHDRAWN and first.moderation_note == "已过时"
    assert verbs(first) == ["desk.notice.submit", "desk.notice.publish", "desk.notice.withdraw"]
    assert verbs(second) == ["desk.notice.submit", "desk.notice.reject"]


def test_moderation_rules(city):
    person = resident(city.grid_a)
    notice = submit(person.user)
    with pytest.raises(ValidationError) as exc:
        notice_moderate(
            actor=city.worker_a, scope=scope_of(city.worker_a), notice=notice, publish=False
        )
    assert errors_of(exc) == {"note": ["请填写审核意见。"]}
    for user in (city.worker_b, person.user):
        with pytest.raises(PermissionDenied):
            publish(user, notice)
    with pytest.raises(PermissionDenied):
        notice_withdraw(actor=city.worker_b, scope=scope_of(city.worker_b), notice=notice)
    with pytest.raises(ValidationError) as exc:
        notice_withdraw(actor=city.worker_a, scope=scope_of(city.worker_a), notice=notice)
    assert exc.value.messages == ["该内容当前为“待审核”，不能撤下。"]
    publish(city.worker_a, notice)
    with pytest.raises(ValidationError) as exc:
        publish(city.worker_a, notice)
    assert exc.value.messages == ["该内容当前为“已发布”，不能审核。"]
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.PUBLISHED


def test_notice_access(city):
    person = resident(city.grid_a)
    neighbour = resident(city.grid_a, "周阿姨", "zhou")
    notice = submit(person.user)

    def sees(user: Any) -> bool:
        try:
            selectors.notice_access(user=user, scope=scope_of(user), notice_id=notice.pk)
        except Http404:
            return False
        return True

    assert [sees(u) for u in (person.user, city.worker_a, city.worker_b, neighbour.user)] == [
        True,
        True,
        False,
        False,
    ]
    publish(city.worker_a, notice)
    assert [sees(u) for u in (city.worker_b, neighbour.user)] == [True, True]
    access = selectors.notice_access(
        user=neighbour.user, scope=scope_of(neighbour.user), notice_id=notice.pk
    )
    assert (access.is_manager, access.is_staff, access.is_submitter) == (False, False, False)


def test_notice_list_pending_first_and_scoped(city):
    person = resident(city.grid_a)
    older = submit(person.user, title="先投的")
    publish(city.worker_a, older)
    newer = submit(person.user, title="后投的")
    submit(city.worker_b, NoticeKind.NOTICE, org_id=city.community_b.pk)
    rows = list(selectors.notice_list(scope=scope_of(city.worker_a)))
    assert rows == [newer, older]
    counts = selectors.notice_status_counts(scope=scope_of(city.worker_a))
    assert counts == {"pending": 1, "published": 1}
    assert list(selectors.notice_list(scope=scope_of(city.worker_a), status="published")) == [older]


# --- suggestions -----------------------------------------------------------------------------


def test_suggestion_is_numbered_and_belongs_to_the_authors_community(city):
    person = resident(city.grid_a)
    first = suggest(person.user, is_public=True, author_public=True)
    second = suggest(person.user)
    year = timezone.localdate().year
    assert first.number == f"JY{year}000001" and second.number == f"JY{year}000002"
    assert first.org == city.community_a and first.author == person
    assert first.status == SuggestionStatus.RECEIVED
    assert (first.is_public, first.author_public) == (True, True)
    assert (second.is_public, second.author_public) == (False, False)
    assert verbs(first) == ["desk.suggestion.submit"]


def test_suggestion_refusals(city, settings):
    with pytest.raises(PermissionDenied) as exc:
        suggest(city.worker_a)
    assert str(exc.value) == "只有登记的居民可以提建议。"
    person = resident(city.grid_a)
    with pytest.raises(ValidationError) as exc:
        suggest(person.user, title="", body="<img src=x onerror=alert(1)>")
    assert errors_of(exc) == {
        "title": ["请填写标题。"],
        "body": ["不能包含 HTML 标记或脚本，请只填写文字。"],
    }
    settings.HUZHU_DESK_RATE_PER_HOUR = 1
    suggest(person.user)
    with pytest.raises(RateLimited):
        suggest(person.user)
    assert Suggestion.objects.count() == 1


def test_reply_sets_status_and_tells_the_author(city, django_capture_on_commit_callbacks):
    person = resident(city.grid_a)
    suggestion = suggest(person.user)
    with django_capture_on_commit_callbacks(execute=True):
        suggestion = reply(city.worker_a, suggestion, "replied", "正在研究")
    assert suggestion.status == SuggestionStatus.REPLIED and suggestion.reply == "正在研究"
    assert suggestion.replied_by == city.worker_a and suggestion.replied_at is not None
    suggestion = reply(city.worker_a, suggestion, "adopted", "已采纳，下月动工")
    assert suggestion.status == SuggestionStatus.ADOPTED
    note = Notification.objects.get(user=person.user)
    assert (note.title, note.body) == (f"您的建议 {suggestion.number} 已有答复", "已答复")
    assert note.url == f"/desk/suggestions/{suggestion.pk}/"
    assert verbs(suggestion) == [
        "desk.suggestion.submit",
        "desk.suggestion.reply",
        "desk.suggestion.reply",
    ]


def test_reply_rules(city):
    person = resident(city.grid_a)
    suggestion = suggest(person.user)
    with pytest.raises(ValidationError) as exc:
        reply(city.worker_a, suggestion, "received", "")
    assert errors_of(exc) == {"status": ["请选择答复结果。"], "reply": ["请填写答复。"]}
    for user in (city.worker_b, person.user):
        with pytest.raises(PermissionDenied):
            reply(user, suggestion)
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.RECEIVED and suggestion.reply == ""


def test_suggestion_access_and_lists(city):
    person = resident(city.grid_a)
    neighbour = resident(city.grid_a, "周阿姨", "zhou")
    suggestion = suggest(person.user)
    suggest(neighbour.user, title="neighbour's")

    def sees(user: Any) -> bool:
        try:
            selectors.suggestion_access(
                user=user, scope=scope_of(user), suggestion_id=suggestion.pk
            )
        except Http404:
            return False
        return True

    assert [sees(u) for u in (person.user, city.worker_a, city.worker_b, neighbour.user)] == [
        True,
        True,
        False,
        False,
    ]
    assert list(selectors.my_suggestions(user=person.user)) == [suggestion]
    assert selectors.suggestion_list(scope=scope_of(city.worker_a)).count() == 2
    assert selectors.suggestion_list(scope=scope_of(city.worker_b)).count() == 0


# --- contacts and phones ---------------------------------------------------------------------


def test_contacts_are_added_and_deleted_by_the_communitys_workers(city):
    scope = scope_of(city.worker_a)
    contact = contact_add(
        actor=city.worker_a,
        scope=scope,
        data=ContactInput(org_id=city.grid_a.pk, name="刘网格", phone="0531-8888 6666"),
    )
    assert (contact.org, contact.role, contact.phone) == (city.grid_a, "网格员", "0531-8888 6666")
    with pytest.raises(PermissionDenied):
        contact_add(
            actor=city.worker_b,
            scope=scope_of(city.worker_b),
            data=ContactInput(org_id=city.grid_a.pk, name="x", phone="12345"),
        )
    with pytest.raises(PermissionDenied):
        contact_delete(actor=city.worker_b, scope=scope_of(city.worker_b), contact=contact)
    contact_id = contact.pk
    contact_delete(actor=city.worker_a, scope=scope, contact=contact)
    assert PublicContact.objects.count() == 0
    assert verbs(contact, contact_id) == ["desk.contact.add", "desk.contact.delete"]


def test_contact_refusals(city):
    scope = scope_of(city.worker_a)
    with pytest.raises(ValidationError) as exc:
        contact_add(
            actor=city.worker_a,
            scope=scope,
            data=ContactInput(org_id=city.grid_a.pk, name="", phone="call me", role="<b>x</b>"),
        )
    assert errors_of(exc) == {
        "role": ["不能包含 HTML 标记或脚本，请只填写文字。"],
        "name": ["请填写姓名。"],
        "phone": ["电话只能包含数字、空格和“-”，如 0531-88886666。"],
    }
    with pytest.raises(ValidationError) as exc:
        contact_add(
            actor=city.worker_a,
            scope=scope,
            data=ContactInput(org_id=city.street.pk, name="x", phone="12345"),
        )
    assert errors_of(exc) == {"org": ["请选择社区或网格。"]}


def test_community_phones_are_set_by_its_workers(city):
    org = community_phones_set(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        org=city.community_a,
        service_phone="0531-12345678",
        supervision_phone="１２３４５",
    )
    org.refresh_from_db()
    assert (org.service_phone, org.supervision_phone) == ("0531-12345678", "12345")
    assert verbs(org) == ["desk.community.phones"]
    for user, target in ((city.worker_b, city.community_a), (city.worker_a, city.grid_a)):
        with pytest.raises(PermissionDenied):
            community_phones_set(
                actor=user,
                scope=scope_of(user),
                org=target,
                service_phone="12345",
                supervision_phone="",
            )
    with pytest.raises(ValidationError) as exc:
        community_phones_set(
            actor=city.worker_a,
            scope=scope_of(city.worker_a),
            org=city.community_a,
            service_phone="12",
            supervision_phone="",
        )
    assert errors_of(exc) == {"service_phone": ["电话只能包含数字、空格和“-”，如 0531-88886666。"]}


# --- the public page -------------------------------------------------------------------------


def test_public_community_shows_published_and_public_only(city):
    person = resident(city.grid_a)
    shown = publish(city.worker_a, submit(person.user))
    submit(person.user, title="待审核")
    uncivil = publish(city.worker_a, submit(person.user, NoticeKind.UNCIVIL))
    public = reply(city.worker_a, suggest(person.user, is_public=True))
    suggest(person.user, is_public=True, title="未答复")
    reply(city.worker_a, suggest(person.user, title="不公开"))
    contact_add(
        actor=city.worker_a,
        scope=scope_of(city.worker_a),
        data=ContactInput(org_id=city.grid_a.pk, name="刘网格", phone="12345"),
    )
    page = selectors.public_community(org_id=city.community_a.pk)
    columns = {c.kind: c.notices for c in page.columns}
    assert columns == {"notice": [], "good_deed": [shown], "exemplary": [], "uncivil": [uncivil]}
    assert page.suggestions == [public]
    assert [c.name for c in page.contacts] == ["刘网格"]
    for org_id in (city.grid_a.pk, city.street.pk):
        with pytest.raises(Http404):
            selectors.public_community(org_id=org_id)
    city.community_b.is_active = False
    city.community_b.save(update_fields=["is_active"])
    with pytest.raises(Http404):
        selectors.public_community(org_id=city.community_b.pk)


def test_public_community_counts_this_years_civic_reports(city):
    person = resident(city.grid_a)
    first = report(person.user, city.grid_a)
    report(person.user, city.grid_a, description="楼道堆满杂物", code="civic-stairwell")
    report(person.user, city.grid_b)  # another community
    ticket_answer(actor=city.worker_a, access=access(city.worker_a, first), answer="已处理")
    first.refresh_from_db()
    assert first.status == TicketStatus.CLOSED
    page = selectors.public_community(org_id=city.community_a.pk)
    assert (page.reports_this_year, page.reports_closed) == (2, 1)
    assert page.year == timezone.localdate().year
