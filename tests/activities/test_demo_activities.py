"""The ``activities`` demo step: a year of activities, attendance, records and certificates
that obey the same rules as the services (capacity, waiting list, 24 hours a day, hours
rolled up), and what the demo logins need."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from huzhu.activities import demo_steps, selectors
from huzhu.activities.models import (
    MINUTES_PER_DAY,
    Activity,
    ActivityStatus,
    Attendance,
    Certificate,
    CertificateStatus,
    RecordSource,
    RecordStatus,
    ServiceRecord,
    Shift,
    Signup,
    SignupMode,
    SignupStatus,
)
from huzhu.activities.record_services import COUNTED, credited_minutes
from huzhu.activities.services import no_show_blocked_until
from huzhu.demo.seed import STEPS, seed_demo
from huzhu.orgs.models import Org, OrgKind
from huzhu.orgs.scope import Scope
from huzhu.volunteers.models import Volunteer

User = get_user_model()
PASSWORD = "demo-pass-123"
RESIDENTS = 300


@pytest.fixture
def demo(db):
    return seed_demo(password=PASSWORD, residents=RESIDENTS, progress=False)


def _demo_volunteer() -> Volunteer:
    return Volunteer.objects.select_related("person").get(person__user__username="volunteer")


def _table_counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count() for model in (Activity, Shift, Signup, ServiceRecord, Certificate)
    )


def test_the_step_runs_after_the_volunteers():
    names = [s.name for s in STEPS]
    assert names.index("activities") == names.index("volunteers") + 1


def test_a_year_of_service_in_every_community(demo):
    today = timezone.localdate()
    counts = demo.counts
    assert counts["activities"] == Activity.objects.count() > 0
    assert counts["shifts"] == Shift.objects.count()
    assert counts["signups"] == Signup.objects.count()
    # (the needs step adds the records of the needs it completes)
    assert counts["service_records"] == ServiceRecord.objects.exclude(source="need").count()
    # About RECORDS_PER_VOLUNTEER attendance records a year per registered volunteer.
    registered = Volunteer.objects.filter(status="registered").count()
    from_attendance = ServiceRecord.objects.filter(source=RecordSource.ATTENDANCE).count()
    assert 0.5 * registered * 24 <= from_attendance <= 1.5 * registered * 24
    for community in Org.objects.filter(kind=OrgKind.COMMUNITY):
        inside = Activity.objects.filter(org__path__startswith=community.path)
        assert inside.filter(recur_weekdays__gt=0).exists(), community.name
        assert inside.filter(status=ActivityStatus.RECRUITING, starts_on__gt=today).exists()
        assert inside.filter(status=ActivityStatus.PENDING).count() == 1
    kinds = set(Activity.objects.values_list("org__kind", flat=True))
    assert {OrgKind.CORPS, OrgKind.TEAM} <= kinds
    assert Activity.objects.values("category").distinct().count() >= 8
    activity_records = ServiceRecord.objects.exclude(source="need")
    assert activity_records.filter(served_on__lt=today).count() == activity_records.count()
    # Statuses that follow the calendar: past one-offs closed (the last week's running),
    # nothing recorded for the last three days, the last week's records waiting.
    assert Activity.objects.filter(status=ActivityStatus.CLOSED).exists()
    assert Activity.objects.filter(status=ActivityStatus.CANCELLED).exists()
    recent = ServiceRecord.objects.filter(
        source=RecordSource.ATTENDANCE,
        served_on__gte=today - dt.timedelta(days=demo_steps.UNRECORDED_DAYS),
    )
    assert not recent.exists()
    week = ServiceRecord.objects.filter(
        source=RecordSource.ATTENDANCE,
        served_on__gte=today - dt.timedelta(days=demo_steps.PENDING_DAYS),
    )
    assert week.exists()
    assert not week.exclude(status=RecordStatus.PENDING).exists()
    older = ServiceRecord.objects.filter(
        source=RecordSource.ATTENDANCE,
        served_on__lt=today - dt.timedelta(days=demo_steps.PENDING_DAYS),
    )
    assert not older.exclude(status=RecordStatus.CONFIRMED).exists()
    declared = Counter(
        ServiceRecord.objects.filter(source=RecordSource.DECLARED).values_list("status", flat=True)
    )
    assert declared[RecordStatus.PENDING] > 0 and declared[RecordStatus.CONFIRMED] > 0
    # 服务对象人次 over the year: the city's figure, scaled to its residents (DOMAIN.md §4).
    total = Activity.objects.aggregate(n=Sum("beneficiary_count"))["n"]
    assert total == counts["beneficiaries"] == round(4000 * RESIDENTS / 3000)


def test_no_day_exceeds_24_hours(demo):
    assert not ServiceRecord.objects.filter(
        Q(minutes__lt=1) | Q(minutes__gt=MINUTES_PER_DAY)
    ).exists()
    busiest = (
        ServiceRecord.objects.filter(status__in=COUNTED)
        .values("volunteer_id", "served_on")
        .annotate(total=Sum("minutes"))
        .order_by("-total")
        .first()
    )
    assert 0 < busiest["total"] <= MINUTES_PER_DAY


def test_recorded_minutes_are_historical_plus_confirmed(demo):
    confirmed = (
        ServiceRecord.objects.filter(volunteer=OuterRef("pk"), status=RecordStatus.CONFIRMED)
        .values("volunteer")
        .annotate(total=Sum("minutes"))
        .values("total")
    )
    rows = Volunteer.objects.annotate(
        service=Coalesce(Subquery(confirmed, output_field=IntegerField()), 0)
    ).values_list("recorded_minutes", "historical_minutes", "service")
    assert rows
    assert [r for r in rows if r[0] != r[1] + r[2]] == []
    assert (
        sum(r[2] for r in rows)
        == ServiceRecord.objects.filter(status=RecordStatus.CONFIRMED).aggregate(n=Sum("minutes"))[
            "n"
        ]
    )
    # (the step counted the volunteers its activities gave hours; needs add their own)
    with_hours = (
        ServiceRecord.objects.filter(status=RecordStatus.CONFIRMED)
        .exclude(source=RecordSource.NEED)
        .values("volunteer_id")
        .distinct()
        .count()
    )
    assert demo.counts["volunteers_with_hours"] == with_hours


def test_shift_places_and_waiting_lists(demo):
    shifts = Shift.objects.annotate(
        confirmed=Count("signups", filter=Q(signups__status=SignupStatus.CONFIRMED)),
        waiting=Count("signups", filter=Q(signups__status=SignupStatus.WAITLISTED)),
        active=Count(
            "signups",
            filter=Q(signups__status__in=(SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)),
        ),
    ).values_list("confirmed_count", "confirmed", "capacity", "waiting", "is_cancelled")
    assert [s for s in shifts if s[0] != s[1] or s[0] > s[2]] == []
    # A waiting list only where every place is taken (the service's rule).
    assert [s for s in shifts if s[3] and s[0] != s[2]] == []
    assert any(s[3] for s in shifts)
    assert all(s[0] == 0 for s in shifts if s[4])  # cancelled shifts hold nobody
    assert Signup.objects.filter(status=SignupStatus.WITHDRAWN).exists()
    # Sign-ups waiting for the organiser's review only on coming shifts that ask for it.
    pending = Signup.objects.filter(status=SignupStatus.PENDING)
    assert pending.exists()
    assert not pending.exclude(shift__signup_mode=SignupMode.CONFIRM).exists()
    assert not pending.filter(shift__starts_at__lt=timezone.now()).exists()
    assert not Signup.objects.filter(queued_at__gte=timezone.now()).exists()
    # One sign-up per volunteer per day, so no two overlap.
    per_day = (
        Signup.objects.exclude(status__in=(SignupStatus.WITHDRAWN, SignupStatus.CANCELLED))
        .values("volunteer_id", "shift__starts_at__date")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    assert not per_day.exists()


def test_attendance_and_records_agree(demo):
    today = timezone.localdate()
    past = Signup.objects.filter(
        status=SignupStatus.CONFIRMED, shift__starts_at__date__lt=today, shift__is_cancelled=False
    )
    attendance = Counter(past.values_list("attendance", flat=True))
    assert set(attendance) == {Attendance.PRESENT, Attendance.NO_SHOW}
    share = attendance[Attendance.PRESENT] / sum(attendance.values())
    assert 0.8 <= share <= 0.95
    assert not Signup.objects.filter(
        status=SignupStatus.CONFIRMED, shift__starts_at__date__gte=today
    ).exclude(attendance=Attendance.NONE)
    records = ServiceRecord.objects.filter(source=RecordSource.ATTENDANCE).select_related(
        "signup", "shift__activity"
    )
    assert records.exists()
    for record in records:
        signup, shift = record.signup, record.shift
        assert signup.attendance == Attendance.PRESENT and signup.shift_id == shift.pk
        assert record.volunteer_id == signup.volunteer_id
        assert record.minutes == credited_minutes(shift, shift.activity, signup)
        assert record.org_id == shift.activity.org_id
        assert record.served_on == timezone.localtime(shift.starts_at).date()
        assert shift.records_created_at is not None
    assert not ServiceRecord.objects.filter(signup__attendance=Attendance.NO_SHOW).exists()
    # Nobody is barred from signing up by the no-show rule.
    for volunteer in Volunteer.objects.filter(signups__attendance=Attendance.NO_SHOW).distinct():
        assert no_show_blocked_until(volunteer, today) is None


def test_the_demo_logins_have_something_to_do(demo):
    volunteer = _demo_volunteer()
    upcoming = list(selectors.my_signups(volunteer=volunteer))
    assert upcoming
    statuses = Counter(s.status for s in upcoming)
    assert statuses[SignupStatus.CONFIRMED] >= 2 and statuses[SignupStatus.WAITLISTED] == 1
    assert all(s.shift.starts_at > timezone.now() for s in upcoming)
    hours = selectors.my_hours(volunteer=volunteer)
    assert hours.total_minutes > 0 and hours.pending_minutes > 0
    assert volunteer.recorded_minutes == volunteer.historical_minutes + hours.total_minutes
    certificate = selectors.my_certificates(volunteer=volunteer).get()
    assert certificate.status == CertificateStatus.ISSUED
    found = selectors.certificate_verify(
        number=certificate.number, code=certificate.snapshot["verify_code"]
    )
    assert found is not None
    assert found.name_masked == certificate.snapshot["name_masked"]
    assert found.record_count == certificate.record_count > 0
    assert certificate.total_minutes == sum(r["minutes"] for r in certificate.snapshot["records"])
    assert certificate.issued_by.username == "worker-a"
    assert selectors.activities_open(volunteer=volunteer).exists()

    worker = Scope.for_user(User.objects.get(username="worker-a"))
    assert selectors.records_pending(scope=worker).exists()
    assert selectors.certificates_to_issue(scope=worker).exists()
    leader = Scope.for_user(User.objects.get(username="leader"))
    assert selectors.activity_list(scope=leader, status=ActivityStatus.RECRUITING).exists()


def test_certificates_verify(demo):
    issued = Certificate.objects.filter(status=CertificateStatus.ISSUED)
    assert issued.count() == demo.counts["certificates.issued"]
    for certificate in issued:
        assert selectors.certificate_verify(
            number=certificate.number, code=certificate.snapshot["verify_code"]
        )
        assert certificate.org.kind in (OrgKind.CORPS, OrgKind.TEAM, OrgKind.COMMUNITY)
    waiting = Certificate.objects.filter(status=CertificateStatus.APPLIED)
    assert waiting.count() == demo.counts["certificates"] - demo.counts["certificates.issued"] > 0


def test_if_empty_changes_nothing_and_reset_reseeds_the_same(db):
    out = io.StringIO()
    call_command(
        "seed_demo",
        "--if-empty",
        "--residents",
        str(RESIDENTS),
        "--password",
        PASSWORD,
        "--no-progress",
        stdout=out,
    )
    assert "服务记录" in out.getvalue()
    before = _table_counts()
    assert all(before)
    minutes = ServiceRecord.objects.aggregate(n=Sum("minutes"))["n"]
    call_command("seed_demo", "--if-empty", "--password", PASSWORD, stdout=io.StringIO())
    assert _table_counts() == before
    call_command(
        "seed_demo",
        "--reset",
        "--residents",
        str(RESIDENTS),
        "--password",
        PASSWORD,
        "--no-progress",
        stdout=io.StringIO(),
    )
    assert _table_counts() == before  # same seed, same year of service
    assert ServiceRecord.objects.aggregate(n=Sum("minutes"))["n"] == minutes
    assert Org.objects.filter(kind=OrgKind.CITY).count() == 1


def test_apportion_adds_up():
    assert demo_steps._apportion(10, {1: 1.0, 2: 1.0, 3: 1.0}) == {1: 4, 2: 3, 3: 3}
    assert sum(demo_steps._apportion(4000, {i: i * 0.7 for i in range(1, 90)}).values()) == 4000
    assert demo_steps._apportion(5, {}) == {}
