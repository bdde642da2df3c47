import datetime as dt

import pytest
from django.core import signing
from django.utils import timezone
from icalendar import Calendar

from huzhu.activities.ical import feed_token, shifts_calendar, volunteer_from_feed_token
from huzhu.activities.models import SignupStatus
from huzhu.activities.selectors import ical_signups
from huzhu.activities.services import ShiftInput, activity_set_status, shift_add, signup_create
from tests.activities.factories import SYSTEM, first_shift, make_activity, make_volunteer

pytestmark = pytest.mark.django_db

BASE_URL = "https://huzhu.example"


def _nine(days: int) -> dt.datetime:
    return timezone.localtime().replace(hour=9, minute=0, second=0, microsecond=0) + dt.timedelta(
        days=days
    )


@pytest.fixture
def signed_up(city):
    """One volunteer confirmed on A (with coordinates), pending on B, waitlisted on C."""
    volunteer = make_volunteer(city.grid_a, "王一")
    other = make_volunteer(city.grid_a, "王二")
    a = make_activity(
        city.community_a,
        title="助老送餐",
        start=_nine(1),
        latitude=36.6512,
        longitude=117.1201,
    )
    b = make_activity(
        city.community_a, title="垃圾分类宣传", start=_nine(2), shifts=0, publish=False
    )
    shift_add(
        actor=None,
        scope=SYSTEM,
        activity=b,
        data=ShiftInput(
            starts_at=_nine(2),
            ends_at=_nine(2) + dt.timedelta(hours=2),
            capacity=5,
            name="上午班",
            signup_mode="confirm",
        ),
    )
    activity_set_status(actor=None, scope=SYSTEM, activity=b, status="recruiting")
    c = make_activity(city.community_a, title="文明交通劝导", start=_nine(3), capacity=1)
    signup_create(actor=None, volunteer=other, shift_id=first_shift(c).pk)
    signups = [
        signup_create(actor=None, volunteer=volunteer, shift_id=first_shift(x).pk)
        for x in (a, b, c)
    ]
    assert [s.status for s in signups] == [
        SignupStatus.CONFIRMED,
        SignupStatus.PENDING,
        SignupStatus.WAITLISTED,
    ]
    return volunteer, other, (a, b, c), signups


def test_feed_lists_the_volunteers_shifts(signed_up, django_assert_num_queries):
    volunteer, _other, (a, b, c), signups = signed_up

    with django_assert_num_queries(1):
        raw = shifts_calendar(
            volunteer=volunteer, signups=ical_signups(volunteer=volunteer), base_url=BASE_URL
        )

    calendar = Calendar.from_ical(raw)
    assert str(calendar["PRODID"]) == "-//Huzhu//Volunteer shifts//ZH"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["X-WR-CALNAME"]) == "互助志愿服务"
    assert str(calendar["X-WR-TIMEZONE"]) == "Asia/Shanghai"
    events = list(calendar.walk("VEVENT"))
    shifts = [first_shift(x) for x in (a, b, c)]
    assert [str(e["UID"]) for e in events] == [f"signup-{s.pk}@huzhu" for s in signups]
    assert [(e.decoded("DTSTART"), e.decoded("DTEND")) for e in events] == [
        (s.starts_at, s.ends_at) for s in shifts
    ]
    assert [e.decoded("DTSTART").utcoffset() for e in events] == [dt.timedelta(0)] * 3
    assert [str(e["SUMMARY"]) for e in events] == [
        "助老送餐",
        "垃圾分类宣传 [待审核]",
        "文明交通劝导 [候补]",
    ]
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "TENTATIVE", "TENTATIVE"]
    assert [str(e["LOCATION"]) for e in events] == ["甲社区活动室"] * 3
    geo = events[0]["GEO"]
    assert (geo.latitude, geo.longitude) == (36.6512, 117.1201)
    assert "GEO" not in events[1] and "GEO" not in events[2]
    assert str(events[1]["DESCRIPTION"]) == (
        f"班次：上午班\n组织单位：甲社区\n报名状态：待审核\n活动详情：{BASE_URL}/activities/{b.pk}/"
    )
    assert str(events[0]["DESCRIPTION"]) == (
        f"组织单位：甲社区\n报名状态：已报名\n活动详情：{BASE_URL}/activities/{a.pk}/"
    )
    assert str(events[0]["URL"]) == f"{BASE_URL}/activities/{a.pk}/"
    alarms = [list(e.walk("VALARM")) for e in events]
    assert [len(found) for found in alarms] == [1, 1, 1]
    alarm = alarms[0][0]
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm.decoded("TRIGGER") == dt.timedelta(hours=-1)
    assert str(alarm["DESCRIPTION"]) == "活动提醒：助老送餐"
    # Nothing in the feed lets anyone check in.
    text = raw.decode()
    for shift in shifts:
        assert shift.checkin_code not in text
        assert shift.qr_secret not in text


def test_feed_query_count_does_not_grow_with_shifts(signed_up, city, django_assert_num_queries):
    volunteer = signed_up[0]
    for n in range(4, 10):
        activity = make_activity(city.community_a, title=f"活动{n}", start=_nine(n))
        signup_create(actor=None, volunteer=volunteer, shift_id=first_shift(activity).pk)

    with django_assert_num_queries(1):
        raw = shifts_calendar(
            volunteer=volunteer, signups=ical_signups(volunteer=volunteer), base_url=BASE_URL
        )

    assert len(list(Calendar.from_ical(raw).walk("VEVENT"))) == 9


def test_feed_never_shows_another_volunteers_signup(signed_up):
    volunteer, other, _activities, _signups = signed_up
    theirs = list(ical_signups(volunteer=other))
    assert len(theirs) == 1

    raw = shifts_calendar(volunteer=volunteer, signups=theirs, base_url=BASE_URL)

    assert list(Calendar.from_ical(raw).walk("VEVENT")) == []


def test_the_same_event_keeps_its_uid_across_fetches(signed_up):
    volunteer = signed_up[0]

    def uids() -> list[str]:
        raw = shifts_calendar(
            volunteer=volunteer, signups=ical_signups(volunteer=volunteer), base_url=BASE_URL
        )
        return [str(e["UID"]) for e in Calendar.from_ical(raw).walk("VEVENT")]

    assert uids() == uids()


def test_feed_token_round_trips_and_is_stable(city):
    volunteer = make_volunteer(city.grid_a, "王一")
    other = make_volunteer(city.grid_a, "王二")

    token = feed_token(volunteer)

    assert token == feed_token(volunteer)
    assert token != feed_token(other)
    assert volunteer_from_feed_token(token) == volunteer
    assert volunteer_from_feed_token(feed_token(other)) == other


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature altered
        lambda t: "9" + t,  # another id under the same signature
        lambda t: t.split(":")[0],  # signature dropped
        lambda t: "",
        lambda t: "not-a-token",
    ],
)
def test_tampered_token_gives_nobody(city, tamper):
    volunteer = make_volunteer(city.grid_a, "王一")
    assert volunteer_from_feed_token(tamper(feed_token(volunteer))) is None


def test_token_signed_for_another_purpose_gives_nobody(city):
    volunteer = make_volunteer(city.grid_a, "王一")
    assert volunteer_from_feed_token(signing.Signer().sign(str(volunteer.pk))) is None
    assert volunteer_from_feed_token(signing.Signer(salt="x").sign(str(volunteer.pk))) is None
    assert volunteer_from_feed_token(signing.Signer(salt="activities.ical").sign("abc")) is None


def test_changing_the_secret_key_revokes_every_token(city, settings):
    volunteer = make_volunteer(city.grid_a, "王一")
    token = feed_token(volunteer)

    settings.SECRET_KEY = "another-secret-key-for-this-test-only-0123456789"

    assert volunteer_from_feed_token(token) is None
    assert volunteer_from_feed_token(feed_token(volunteer)) == volunteer


def test_token_of_a_deleted_volunteer_gives_nobody(city):
    volunteer = make_volunteer(city.grid_a, "王一")
    token = signing.Signer(salt="activities.ical").sign(str(volunteer.pk + 1000))
    assert volunteer_from_feed_token(token) is None
