"""The volunteer archive (档案): every section with exact content, who may see it, the PDF,
honours and evaluations, and query counts that do not grow with the rows shown."""

from __future__ import annotations

import base64
import datetime as dt
import re
import zlib
from html.parser import HTMLParser

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from huzhu.common.models import AuditEntry
from huzhu.orgs.roles import Role
from huzhu.orgs.scope import Scope
from huzhu.volunteers import archive_services as archive
from huzhu.volunteers.models import (
    Course,
    Evaluation,
    Honour,
    PoliticalStatus,
    Qualification,
    QualificationType,
    TeamRole,
    TrainingAttendance,
    TrainingSession,
    VolunteerStatus,
)
from huzhu.volunteers.services import (
    RegistrationInput,
    corps_ensure,
    team_create,
    team_member_add,
    team_member_remove,
    volunteer_register,
    volunteer_set_status,
)
from tests.activities.factories import SYSTEM as ACTIVITY_SYSTEM
from tests.activities.factories import category
from tests.factories import UserFactory, grant, make_id_number

SYSTEM = Scope(user_id=0, is_superuser=True)
BIRTH = dt.date(1970, 5, 1)


class Rows(HTMLParser):
    """Collect the cell texts of every element with ``data-testid`` equal to ``testid``."""

    def __init__(self, testid: str) -> None:
        super().__init__()
        self.testid = testid
        self.rows: list[list[str]] = []
        self._depth = 0  # >0 while inside a matching element
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if self._depth:
            self._depth += 1
            if tag in ("td", "th"):
                self._cell = []
        elif dict(attrs).get("data-testid") == self.testid:
            self._depth = 1
            self.rows.append([])
            if tag in ("td", "dd", "span", "div"):
                self._cell = []

    def handle_endtag(self, tag):
        if not self._depth:
            return
        if self._cell is not None and (tag in ("td", "th") or self._depth == 1):
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        self._depth -= 1

    def handle_data(self, data):
        if self._depth and self._cell is not None:
            self._cell.append(data)


def rows(html: str, testid: str) -> list[list[str]]:
    parser = Rows(testid)
    parser.feed(html)
    return parser.rows


def text(html: str, testid: str) -> str:
    found = rows(html, testid)
    assert len(found) == 1, f"{testid}: {found}"
    return found[0][0]


def age_today(birth: dt.date) -> int:
    today = timezone.localdate()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def build(city, extra: int = 0):
    """A volunteer with one row in every section (``extra`` more rows each)."""
    worker, scope = city.worker_a, Scope.for_user(city.worker_a)
    today = timezone.localdate()
    volunteer = volunteer_register(
        actor=worker,
        scope=scope,
        org=city.grid_a,
        data=RegistrationInput(
            name="陈静",
            id_number=make_id_number(BIRTH, male=False),
            phone="13912345678",
            political_status=PoliticalStatus.CPC_MEMBER,
            skills=["医疗", "心理"],
            historical_minutes=24750,
        ),
    ).volunteer
    volunteer_set_status(
        actor=worker, scope=scope, volunteer=volunteer, status="suspended", reason="外出务工"
    )
    volunteer_set_status(actor=worker, scope=scope, volunteer=volunteer, status="registered")
    volunteer.refresh_from_db()

    corps = corps_ensure(actor=worker, scope=scope, community=city.community_a)
    for i in range(1 + extra):
        team = team_create(actor=worker, scope=scope, corps=corps, name=f"助老服务队{i or ''}")
        team_member_add(
            actor=worker,
            scope=scope,
            team=team,
            volunteer=volunteer,
            role=TeamRole.LEADER if i == 0 else TeamRole.MEMBER,
            joined_on=dt.date(2025, 3, 1),
        )
        old = team_create(actor=worker, scope=scope, corps=corps, name=f"环保服务队{i or ''}")
        membership = team_member_add(
            actor=worker, scope=scope, team=old, volunteer=volunteer, joined_on=dt.date(2024, 1, 5)
        )
        team_member_remove(
            actor=worker, scope=scope, membership=membership, left_on=dt.date(2024, 12, 31)
        )

    for i in range(1 + extra):
        course = Course.objects.create(org=city.community_a, name=f"应急救护{i or ''}", minutes=240)
        starts = timezone.make_aware(dt.datetime(2025, 6, 1 + i, 9))
        session = TrainingSession.objects.create(
            course=course, starts_at=starts, ends_at=starts + dt.timedelta(hours=4)
        )
        TrainingAttendance.objects.create(session=session, volunteer=volunteer, minutes=210)

    first_aid = QualificationType.objects.get(name="急救证")
    for i in range(1 + extra):
        Qualification.objects.create(
            volunteer=volunteer,
            kind=first_aid,
            certificate_no=f"JJ-{i}",
            issued_on=today - dt.timedelta(days=1000 + i),
            expires_on=today - dt.timedelta(days=1),  # expired
        )
        Qualification.objects.create(
            volunteer=volunteer,
            kind=first_aid,
            certificate_no=f"JK-{i}",
            issued_on=today - dt.timedelta(days=900 + i),
            expires_on=today + dt.timedelta(days=10),  # expires soon (reminder: 30 days)
        )
        Qualification.objects.create(
            volunteer=volunteer,
            kind=QualificationType.objects.get(name="执业医师"),
            certificate_no=f"YS-{i}",
            issued_on=today - dt.timedelta(days=800 + i),
        )

    for i in range(1 + extra):
        archive.honour_add(
            actor=worker,
            scope=scope,
            volunteer=volunteer,
            title=f"优秀志愿者{i or ''}",
            level="district",
            awarded_by="历下区文明办",
            awarded_on=dt.date(2025, 12, 5) - dt.timedelta(days=i),
        )
    for i in range(1 + extra):
        archive.evaluation_add(
            actor=worker,
            scope=scope,
            volunteer=volunteer,
            year=2025 - i,
            grade="excellent",
            comment="服务热心",
        )
    for _i in range(1 + extra):
        application = archive.star_apply(actor=worker, scope=scope, volunteer=volunteer, level=2)
        archive.star_withdraw(actor=worker, scope=scope, application=application, reason="补材料")
    return volunteer


def worker_client(city) -> Client:
    client = Client()
    client.force_login(city.worker_a)
    return client


@pytest.mark.django_db
def test_archive_page_shows_every_section(city):
    volunteer = build(city)
    response = worker_client(city).get(f"/volunteers/{volunteer.pk}/archive/")
    assert response.status_code == 200
    html = response.content.decode()
    person = volunteer.person

    # identity: masked numbers only
    assert text(html, "name") == "陈静"
    assert text(html, "id-number") == person.id_number_masked
    assert re.fullmatch(r"3701\*{10}\d{3}[0-9X]", person.id_number_masked)
    assert text(html, "phone") == "139****5678"
    assert "13912345678" not in html and person.id_number not in html
    assert text(html, "gender") == "女"
    assert text(html, "age") == f"{age_today(BIRTH)} 岁"
    assert text(html, "political-status") == "中共党员"
    assert text(html, "status") == "已注册"

    # registration history
    assert [r[1:] for r in rows(html, "registration-row")] == [
        ["已注册", "工作人员代录", "worker-a"],
        ["已注册 → 暂停", "外出务工", "worker-a"],
        ["暂停 → 已注册", "—", "worker-a"],
    ]

    # teams, current and past
    assert rows(html, "team-current") == [
        ["助老服务队 在队", "甲社区志愿者总队", "队长", "2025-03-01 起"]
    ]
    assert rows(html, "team-past") == [
        ["环保服务队 已退出", "甲社区志愿者总队", "队员", "2024-01-05 ~ 2024-12-31"]
    ]

    # training and qualifications with their badges
    assert rows(html, "training-row") == [["应急救护", "2025-06-01", "3.5", "合格"]]
    today = timezone.localdate()
    assert rows(html, "qualification-row") == [
        [
            "执业医师",
            "YS-0",
            (today - dt.timedelta(days=800)).isoformat(),
            "长期",
            "长期有效",
        ],
        [
            "急救证",
            "JK-0",
            (today - dt.timedelta(days=900)).isoformat(),
            (today + dt.timedelta(days=10)).isoformat(),
            "即将到期",
        ],
        [
            "急救证",
            "JJ-0",
            (today - dt.timedelta(days=1000)).isoformat(),
            (today - dt.timedelta(days=1)).isoformat(),
            "已过期",
        ],
    ]

    # hours: the imported historical hours are their own line
    assert rows(html, "hours-year") == []
    assert rows(html, "hours-historical") == [["导入的历史时长", "412.5"]]
    assert text(html, "hours-total") == "累计 412.5 小时"

    # honours, stars, evaluations
    assert rows(html, "honour-row") == [
        ["优秀志愿者", "区级", "历下区文明办", "2025-12-05", "删除"]
    ]
    assert rows(html, "star-history-row") == [
        ["二星级", today.isoformat(), "412.5 小时", "—", "已撤回", "补材料", ""]
    ]
    assert text(html, "star-level") == "未认定"
    assert text(html, "star-eligible") == "二星级"
    assert text(html, "star-next") == "已达到一星级标准（100 小时）"
    assert rows(html, "evaluation-row") == [["2025", "甲社区", "优秀", "服务热心", "撤销"]]

    # a worker gets the small forms; the page prints cleanly
    assert 'data-testid="honour-form"' in html
    assert 'data-testid="evaluation-form"' in html
    assert 'data-testid="star-apply-form"' in html
    assert "@media print" in html
    assert text(html, "print-header").startswith("打印人 worker-a ")


@pytest.mark.django_db
def test_star_summary_of_a_granted_volunteer(city):
    volunteer = build(city)
    scope = Scope.for_user(city.worker_a)
    application = archive.star_apply(actor=city.worker_a, scope=scope, volunteer=volunteer, level=1)
    archive.star_start_publicity(
        actor=city.worker_a, scope=scope, application=application, today=dt.date(2026, 9, 28)
    )
    archive.star_grant(
        actor=city.worker_a, scope=scope, application=application, today=dt.date(2026, 10, 11)
    )
    html = worker_client(city).get(f"/volunteers/{volunteer.pk}/archive/").content.decode()
    assert text(html, "star-level") == "★ 一星级"
    assert text(html, "star-next") == "已达到二星级标准（300 小时）"
    assert rows(html, "star-history-row")[0] == [
        "一星级",
        timezone.localdate().isoformat(),
        "412.5 小时",
        "2026-09-28 ~ 2026-10-10",
        "已认定",
        "—",
        "",
    ]


@pytest.mark.django_db
def test_archive_is_missing_out_of_scope_and_visible_to_the_volunteer(city):
    volunteer = build(city)
    urls = [
        f"/volunteers/{volunteer.pk}/archive/",
        f"/volunteers/{volunteer.pk}/archive.pdf",
        f"/volunteers/{volunteer.pk}/stars/",
    ]
    worker_b = Client()
    worker_b.force_login(city.worker_b)
    anonymous = Client()
    for url in urls:
        assert worker_b.get(url).status_code == 404
        response = anonymous.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    honour = Honour.objects.filter(volunteer=volunteer).first()
    evaluation = Evaluation.objects.filter(volunteer=volunteer).first()
    for url in (
        f"/volunteers/{volunteer.pk}/honours/",
        f"/volunteers/{volunteer.pk}/evaluations/",
        f"/volunteers/{volunteer.pk}/stars/bar/",
        f"/volunteers/honours/{honour.pk}/remove/",
        f"/volunteers/evaluations/{evaluation.pk}/remove/",
    ):
        assert worker_b.post(url, {"reason": "x", "title": "x"}).status_code == 404
    assert Honour.objects.filter(volunteer=volunteer).count() == 1
    assert Evaluation.objects.filter(volunteer=volunteer).count() == 1

    # The volunteer sees their own archive, without the workers' forms.
    user = UserFactory(username="chenjing")
    volunteer.person.user = user
    volunteer.person.save(update_fields=["user"])
    own = Client()
    own.force_login(user)
    response = own.get(urls[0])
    assert response.status_code == 200
    html = response.content.decode()
    assert text(html, "name") == "陈静"
    assert 'data-testid="honour-form"' not in html
    assert 'data-testid="evaluation-form"' not in html
    assert 'data-testid="star-apply-form"' in html  # 412.5 hours: may apply for two stars
    assert own.get(urls[1]).status_code == 200
    assert own.post(f"/volunteers/{volunteer.pk}/honours/", {"title": "x"}).status_code == 403

    # Someone else's archive is missing for the volunteer.
    other = volunteer_register(
        actor=None,
        scope=SYSTEM,
        org=city.grid_a,
        data=RegistrationInput(name="周强", id_number=make_id_number(dt.date(1985, 1, 1))),
    ).volunteer
    assert own.get(f"/volunteers/{other.pk}/archive/").status_code == 404

    # A team leader sees the members of their team, read-only.
    leader = UserFactory(username="team-leader")
    team = volunteer.memberships.filter(left_on__isnull=True).first().team
    grant(leader, team, Role.TEAM_LEADER)
    lead = Client()
    lead.force_login(leader)
    html = lead.get(urls[0]).content.decode()
    assert text(html, "name") == "陈静" and 'data-testid="honour-form"' not in html
    assert lead.post(f"/volunteers/{volunteer.pk}/stars/bar/", {"reason": "x"}).status_code == 403


@pytest.mark.django_db
def test_archive_pdf_is_a_pdf_and_audited(city):
    volunteer = build(city, extra=12)
    response = worker_client(city).get(f"/volunteers/{volunteer.pk}/archive.pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="archive-{volunteer.number}.pdf"'
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    content = response.content
    assert content.startswith(b"%PDF")
    assert b"STSong-Light" in content  # the built-in CID font, no font file
    assert content.count(b"/Type /Page\n") + content.count(b"/Type /Page ") >= 2
    entry = AuditEntry.objects.get(verb="volunteer.archive_print")
    assert (entry.actor, entry.target_id, entry.data) == (
        city.worker_a,
        str(volunteer.pk),
        {"number": volunteer.number, "format": "pdf"},
    )
    assert entry.org == city.grid_a


@pytest.mark.django_db
def test_honours_and_evaluations_through_the_page(city):
    volunteer = build(city)
    client = worker_client(city)
    url = f"/volunteers/{volunteer.pk}/honours/"
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    response = client.post(
        url, {"title": "最美志愿者", "level": "city", "awarded_by": "济南市", "awarded_on": future}
    )
    assert response.status_code == 200
    assert "授予日期不能晚于今天" in response.content.decode()
    response = client.post(
        url,
        {
            "title": "最美志愿者",
            "level": "city",
            "awarded_by": "济南市",
            "awarded_on": "2026-03-05",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/volunteers/{volunteer.pk}/archive/#honours"
    honour = Honour.objects.get(title="最美志愿者")
    assert (honour.level, honour.awarded_by, honour.awarded_on) == (
        "city",
        "济南市",
        dt.date(2026, 3, 5),
    )

    url = f"/volunteers/{volunteer.pk}/evaluations/"
    data = {"year": "2025", "grade": "good", "org": str(city.community_a.pk), "comment": ""}
    response = client.post(url, data)
    assert response.status_code == 200
    assert "甲社区已作出2025年度评价，每个组织每年只评价一次" in response.content.decode()
    response = client.post(url, {**data, "org": str(city.grid_a.pk)})
    assert response.status_code == 302
    assert Evaluation.objects.get(org=city.grid_a).grade == "good"
    response = client.post(url, {**data, "org": str(city.community_b.pk), "year": "2024"})
    assert "选择一个有效的选项" in response.content.decode()

    evaluation = Evaluation.objects.get(org=city.grid_a)
    assert client.post(f"/volunteers/evaluations/{evaluation.pk}/remove/").status_code == 302
    assert client.post(f"/volunteers/honours/{honour.pk}/remove/").status_code == 302
    assert not Evaluation.objects.filter(pk=evaluation.pk).exists()
    assert not Honour.objects.filter(pk=honour.pk).exists()
    verbs = list(
        AuditEntry.objects.filter(verb__in=["honour.remove", "evaluation.remove"]).values_list(
            "verb", "data"
        )
    )
    assert sorted(verbs) == [
        ("evaluation.remove", {"year": 2025, "grade": "good", "org": "甲社区第一网格"}),
        (
            "honour.remove",
            {
                "title": "最美志愿者",
                "level": "city",
                "awarded_by": "济南市",
                "awarded_on": "2026-03-05",
            },
        ),
    ]


@pytest.mark.django_db
def test_evaluation_rules(city):
    volunteer = build(city)
    scope = Scope.for_user(city.worker_a)
    with pytest.raises(ValidationError) as caught:
        archive.evaluation_add(
            actor=city.worker_a,
            scope=scope,
            volunteer=volunteer,
            year=2025,
            grade="great",
            org=city.community_b,
            today=dt.date(2026, 11, 29),
        )
    assert caught.value.message_dict == {
        "org": ["请选择志愿者所在的社区或服务队"],
        "grade": ["请选择评价等级"],
    }
    with pytest.raises(ValidationError) as caught:
        archive.evaluation_add(
            actor=city.worker_a,
            scope=scope,
            volunteer=volunteer,
            year=2027,
            grade="pass",
            today=dt.date(2026, 11, 29),
        )
    assert caught.value.message_dict == {"year": ["年度应在2000年至2026年之间"]}
    team = volunteer.memberships.filter(left_on__isnull=True).first().team
    by_team = archive.evaluation_add(
        actor=city.worker_a, scope=scope, volunteer=volunteer, year=2025, grade="pass", org=team
    )
    assert (by_team.org, by_team.evaluator) == (team, city.worker_a)
    with pytest.raises(PermissionDenied):
        archive.evaluation_add(
            actor=city.worker_b,
            scope=Scope.for_user(city.worker_b),
            volunteer=volunteer,
            year=2024,
            grade="pass",
        )


@pytest.mark.django_db
def test_archive_query_count_does_not_grow_with_rows(city):
    client = worker_client(city)

    def count(volunteer, url) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    small = build(city)
    url_small = f"/volunteers/{small.pk}/archive/"
    pdf_small = f"/volunteers/{small.pk}/archive.pdf"
    stars_small = f"/volunteers/{small.pk}/stars/"
    counts_small = (count(small, url_small), count(small, pdf_small), count(small, stars_small))

    # A second volunteer of the same community with five rows in every section.
    small.person.name = "陈静一"
    small.person.save(update_fields=["name"])
    big = build(city, extra=4)
    assert big.memberships.count() == 10
    counts_big = (
        count(big, f"/volunteers/{big.pk}/archive/"),
        count(big, f"/volunteers/{big.pk}/archive.pdf"),
        count(big, f"/volunteers/{big.pk}/stars/"),
    )
    assert counts_big == counts_small


@pytest.mark.django_db
def test_hours_rollup_keeps_historical_hours_apart(city):
    from huzhu.volunteers.archive_selectors import hours_rollup

    volunteer = build(city)
    rollup = hours_rollup(volunteer=volunteer)
    assert (rollup.by_year, rollup.by_category) == ([], [])
    assert (rollup.historical_minutes, rollup.total_minutes, rollup.total_hours) == (
        24750,
        24750,
        "412.5",
    )
    # The recorded total is recomputed from its parts (historical + service records).
    type(volunteer).objects.filter(pk=volunteer.pk).update(recorded_minutes=1)
    assert archive.volunteer_minutes_refresh(volunteer_ids=[volunteer.pk]) == 1
    volunteer.refresh_from_db()
    assert volunteer.recorded_minutes == 24750
    assert volunteer.status == VolunteerStatus.REGISTERED


# --- the service records themselves -------------------------------------------------------

_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_PDF_TEXT = re.compile(rb"\(((?:[^\\()]|\\.)*)\)\s*Tj", re.S)
_PDF_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
_PDF_SIMPLE = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def pdf_pages(pdf: bytes) -> list[str]:
    """The text drawn on each page, in drawing order, without spaces. reportlab writes each
    page as an ASCII85 + Flate stream; text in the CID font is UTF-16BE string literals."""

    def unescape(literal: bytes) -> bytes:
        def one(match: re.Match) -> bytes:
            code = match.group(1)
            return bytes([int(code, 8)]) if code[:1].isdigit() else _PDF_SIMPLE.get(code, code)

        return _PDF_ESCAPE.sub(one, literal)

    pages = []
    for match in _PDF_STREAM.finditer(pdf):
        stream = zlib.decompress(base64.a85decode(match.group(1).strip(), adobe=True))
        texts = (unescape(t).decode("utf_16_be") for t in _PDF_TEXT.findall(stream))
        pages.append("".join(texts).replace(" ", ""))
    return pages


def enter_record(
    volunteer,
    org,
    served_on: dt.date,
    content: str,
    minutes: int = 90,
    confirm: bool = True,
    rating: int | None = None,
):
    from huzhu.activities.record_services import RecordInput, record_enter

    return record_enter(
        actor=None,
        scope=ACTIVITY_SYSTEM,
        volunteer=volunteer,
        org=org,
        data=RecordInput(
            served_on=served_on,
            minutes=minutes,
            content=content,
            place="甲社区活动室",
            category=category(),
            rating=rating,
        ),
        confirm=confirm,
    )


def enter_many(volunteer, org, count: int) -> None:
    """``count`` confirmed records, "入户探访00" served today, "入户探访01" yesterday …"""
    today = timezone.localdate()
    for i in range(count):
        enter_record(volunteer, org, today - dt.timedelta(days=i), f"入户探访{i:02d}")


@pytest.mark.django_db
def test_archive_lists_confirmed_service_records_newest_first(city):
    from huzhu.activities.record_services import record_reject

    volunteer = build(city)
    today = timezone.localdate()
    day = lambda n: today - dt.timedelta(days=n)  # noqa: E731
    enter_record(volunteer, city.community_a, day(3), "探访独居老人", minutes=120, rating=5)
    enter_record(volunteer, city.grid_a, day(1), "楼道清理", minutes=45)
    enter_record(volunteer, city.community_a, day(1), "垃圾分类宣传", minutes=30, rating=3)
    enter_record(volunteer, city.community_a, day(0), "待确认的服务", confirm=False)
    rejected = enter_record(volunteer, city.community_a, day(2), "被退回的服务", confirm=False)
    record_reject(actor=None, scope=ACTIVITY_SYSTEM, record=rejected, reason="重复登记")

    html = worker_client(city).get(f"/volunteers/{volunteer.pk}/archive/").content.decode()
    assert rows(html, "record-row") == [
        [day(1).isoformat(), "垃圾分类宣传", "甲社区活动室", "社区服务", "0.5", "甲社区", "合格"],
        [day(1).isoformat(), "楼道清理", "甲社区活动室", "社区服务", "0.8", "甲社区第一网格", "—"],
        [day(3).isoformat(), "探访独居老人", "甲社区活动室", "社区服务", "2", "甲社区", "优秀"],
    ]
    assert "待确认的服务" not in html and "被退回的服务" not in html
    assert rows(html, "records-note") == []
    assert rows(html, "records-empty") == []
    # The section comes right after the hours; a worker gets no link to the volunteer's pages.
    assert html.index('id="hours"') < html.index('id="records"') < html.index('id="training"')
    assert 'data-testid="records-my-hours"' not in html

    archive_data = selectors_archive(city, volunteer)
    assert [r.content for r in archive_data.service_records] == [
        "垃圾分类宣传",
        "楼道清理",
        "探访独居老人",
    ]
    assert (archive_data.service_record_count, archive_data.service_records_truncated) == (3, False)


def selectors_archive(city, volunteer):
    from huzhu.volunteers.archive_selectors import volunteer_archive

    return volunteer_archive(scope=Scope.for_user(city.worker_a), volunteer_id=volunteer.pk)


@pytest.mark.django_db
def test_archive_shows_the_latest_50_records_and_counts_them_all(city):
    volunteer = build(city)
    enter_many(volunteer, city.community_a, 60)
    enter_record(volunteer, city.community_a, timezone.localdate(), "待确认", confirm=False)
    html = worker_client(city).get(f"/volunteers/{volunteer.pk}/archive/").content.decode()
    shown = rows(html, "record-row")
    today = timezone.localdate()
    assert [r[1] for r in shown] == [f"入户探访{i:02d}" for i in range(50)]
    assert shown[0] == [
        today.isoformat(),
        "入户探访00",
        "甲社区活动室",
        "社区服务",
        "1.5",
        "甲社区",
        "—",
    ]
    assert shown[-1][0] == (today - dt.timedelta(days=49)).isoformat()
    assert text(html, "records-note") == "仅显示最近 50 条，共 60 条"

    archive_data = selectors_archive(city, volunteer)
    assert (len(archive_data.service_records), archive_data.service_record_count) == (50, 60)
    assert archive_data.service_records_truncated is True


@pytest.mark.django_db
def test_archive_records_empty_state_and_the_volunteers_own_link(city):
    volunteer = build(city)
    enter_record(volunteer, city.community_a, timezone.localdate(), "待确认的服务", confirm=False)
    html = worker_client(city).get(f"/volunteers/{volunteer.pk}/archive/").content.decode()
    assert rows(html, "record-row") == []
    assert text(html, "records-empty") == "暂无已确认的服务记录。"
    assert rows(html, "records-note") == []

    user = UserFactory(username="chenjing")
    volunteer.person.user = user
    volunteer.person.save(update_fields=["user"])
    own = Client()
    own.force_login(user)
    html = own.get(f"/volunteers/{volunteer.pk}/archive/").content.decode()
    assert text(html, "records-empty") == "暂无已确认的服务记录。"
    link = re.search(r'<a [^>]*href="([^"]+)"[^>]*data-testid="records-my-hours">([^<]*)<', html)
    assert link is not None
    assert (link.group(1), link.group(2).strip()) == ("/activities/hours/", "我的时长与全部记录")


@pytest.mark.django_db
def test_archive_pdf_lists_the_records_across_pages(city):
    volunteer = build(city)
    enter_many(volunteer, city.community_a, 60)
    enter_record(volunteer, city.community_a, timezone.localdate(), "待确认的服务", confirm=False)
    response = worker_client(city).get(f"/volunteers/{volunteer.pk}/archive.pdf")
    assert response.status_code == 200
    pages = pdf_pages(response.content)
    whole = "".join(pages)
    today = timezone.localdate()

    # The section sits between the hours and the honours, the rows newest first.
    assert whole.index("六、服务时长") < whole.index("七、服务记录") < whole.index("八、荣誉")
    assert f"{today.isoformat()}入户探访00甲社区活动室1.5甲社区" in whole
    positions = [whole.index(f"入户探访{i:02d}") for i in range(50)]
    assert positions == sorted(positions)
    assert "入户探访50" not in whole and "待确认的服务" not in whole
    assert whole.count("仅显示最近50条，共60条") == 1

    # Fifty rows do not fit on one page: the table splits and repeats its header.
    header = "服务日期服务内容服务地点时长（小时）记录单位"
    with_rows = [page for page in pages if "入户探访" in page]
    assert len(with_rows) >= 2
    for page in with_rows:
        assert page.index(header) < page.index("入户探访")


@pytest.mark.django_db
def test_archive_pdf_without_records_says_so(city):
    volunteer = build(city)
    response = worker_client(city).get(f"/volunteers/{volunteer.pk}/archive.pdf")
    whole = "".join(pdf_pages(response.content))
    assert "七、服务记录暂无已确认的服务记录。八、荣誉" in whole


@pytest.mark.django_db
def test_archive_query_count_is_the_same_with_0_and_60_records(city):
    volunteer = build(city)
    client = worker_client(city)
    urls = (f"/volunteers/{volunteer.pk}/archive/", f"/volunteers/{volunteer.pk}/archive.pdf")
    client.get(urls[0])  # warm up per-process caches

    def counts() -> tuple[int, int]:
        found = []
        for url in urls:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            found.append(len(ctx.captured_queries))
        return found[0], found[1]

    without = counts()
    enter_many(volunteer, city.community_a, 60)
    with_records = counts()
    assert with_records == without
