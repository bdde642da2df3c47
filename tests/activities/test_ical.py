import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from huzhu.activities.ical import (
    feed_key_reset,
    feed_token,
    shifts_calendar,
    volunteer_from_feed_token,
)
from huzhu.activities.models import SignupStatus
from huzhu.activities.selectors import ical_signups
from huzhu.activities.services import ShiftInput, activity_set_status, shift_add, signup_create
from huzhu.common.models import AuditEntry
from huzhu.volunteers.models import Volunteer
from tests.activities.clients import client_for
from tests.activities.factories import SYSTEM, User, first_shift, make_activity, make_volunteer

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


# --- resetting the feed address ------------------------------------------------------------------


def _feed(token: str) -> str:
    return reverse("activities:ical", kwargs={"feed_token": token})


def _user(volunteer: Volunteer) -> User:
    return User.objects.get(person__volunteer=volunteer)


def _key(volunteer: Volunteer) -> str:
    return Volunteer.objects.get(pk=volunteer.pk).feed_key


RESET = reverse("activities:ical_reset")


@pytest.fixture
def vol(city) -> Volunteer:
    """A volunteer with a login and one shift in the calendar."""
    volunteer = make_volunteer(city.grid_a, "王一", username="vol-ical")
    activity = make_activity(city.community_a, title="日历里的活动", start=_nine(1))
    signup_create(actor=None, volunteer=volunteer, shift_id=first_shift(activity).pk)
    return volunteer


def test_a_volunteer_without_a_key_keeps_the_address_made_before_keys(vol):
    """Tokens handed out before feed keys existed (the id alone, signed) stay valid."""
    before_keys = signing.Signer(salt="activities.ical").sign(str(vol.pk))

    assert _key(vol) == ""
    assert feed_token(vol) == before_keys
    assert volunteer_from_feed_token(before_keys) == vol
    response = Client().get(_feed(before_keys))
    assert response.status_code == 200
    assert "日历里的活动".encode() in response.content


def test_reset_revokes_the_old_address_and_issues_a_new_one(vol):
    old = feed_token(vol)
    client = client_for(_user(vol))

    response = client.post(RESET)

    assert response.status_code == 302
    assert response["Location"] == reverse("activities:my_shifts") + "#hz-calendar"
    key = _key(vol)
    assert len(key) == 16
    vol.refresh_from_db()
    new = feed_token(vol)
    assert new == signing.Signer(salt="activities.ical").sign(f"{vol.pk}.{key}")
    assert new != old
    anonymous = Client()
    assert anonymous.get(_feed(old)).status_code == 404
    fresh = anonymous.get(_feed(new))
    assert fresh.status_code == 200
    assert "日历里的活动".encode() in fresh.content
    assert volunteer_from_feed_token(old) is None
    assert volunteer_from_feed_token(new) == vol
    page = client.get(reverse("activities:my_shifts"))
    assert page.context["feed_url"] == "http://127.0.0.1:8000" + _feed(new)
    assert page.context["webcal_url"] == "webcal://127.0.0.1:8000" + _feed(new)
    assert [str(m) for m in get_messages(page.wsgi_request)] == [
        "日历订阅地址已重置，原地址已失效。请在手机日历中删除旧的订阅，再订阅下面的新地址。"
    ]


def test_a_second_reset_revokes_the_first_new_address(vol):
    client = client_for(_user(vol))
    client.post(RESET)
    vol.refresh_from_db()
    first = feed_token(vol)

    client.post(RESET)

    vol.refresh_from_db()
    second = feed_token(vol)
    assert second != first
    assert Client().get(_feed(first)).status_code == 404
    assert Client().get(_feed(second)).status_code == 200


def test_reset_is_audited_without_the_key(vol, city):
    client_for(_user(vol)).post(RESET)

    entry = AuditEntry.objects.get(verb="activity.ical_reset")
    key = _key(vol)
    assert (entry.actor, entry.actor_label) == (_user(vol), "vol-ical")
    assert entry.target_type == ContentType.objects.get_for_model(Volunteer)
    assert entry.target_id == str(vol.pk)
    assert (entry.org, entry.org_path) == (city.grid_a, city.grid_a.path)
    assert entry.data == {}
    assert key not in entry.target_label


def test_the_page_offers_the_reset_as_a_confirmed_post(vol):
    body = client_for(_user(vol)).get(reverse("activities:my_shifts")).content.decode()

    assert f'action="{RESET}"' in body
    assert 'data-testid="feed-reset"' in body
    assert "data-hz-confirm=" in body
    assert "重置日历订阅地址" in body
    assert "activities/board.js" in body


def test_reset_is_a_post_only(vol):
    client = client_for(_user(vol))
    assert client.get(RESET).status_code == 405
    assert client.head(RESET).status_code == 405
    assert _key(vol) == ""


def test_a_volunteer_resets_only_their_own_address(vol, city):
    other = make_volunteer(city.grid_a, "王二", username="vol-other")
    mine = feed_token(vol)

    client_for(_user(other)).post(RESET)

    assert _key(vol) == ""
    assert _key(other) != ""
    assert Client().get(_feed(mine)).status_code == 200
    assert list(AuditEntry.objects.filter(verb="activity.ical_reset").values_list("target_id")) == [
        (str(other.pk),)
    ]


@pytest.mark.parametrize("who", ["worker_a", "worker_b", "superuser"])
def test_nobody_but_a_volunteer_can_reset(vol, city, who):
    """Workers (even of the volunteer's own community) are not volunteers: a 404, no change."""
    if who == "superuser":
        user = User.objects.create_superuser(username="root-ical", password="pw-for-tests")
    else:
        user = getattr(city, who)
    old = feed_token(vol)

    response = client_for(user).post(RESET)

    assert response.status_code == 404
    assert _key(vol) == ""
    assert Client().get(_feed(old)).status_code == 200
    assert not AuditEntry.objects.filter(verb="activity.ical_reset").exists()


def test_anonymous_cannot_reset(vol):
    old = feed_token(vol)

    response = Client().post(RESET)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=" + RESET
    assert _key(vol) == ""
    assert Client().get(_feed(old)).status_code == 200
    assert not AuditEntry.objects.filter(verb="activity.ical_reset").exists()


def test_reset_needs_the_csrf_token(vol):
    client = Client(enforce_csrf_checks=True)
    client.force_login(_user(vol))

    assert client.post(RESET).status_code == 403
    assert _key(vol) == ""


def test_the_service_refuses_anyone_but_the_volunteer(vol, city):
    other = make_volunteer(city.grid_a, "王二", username="vol-other")
    for actor in (_user(other), city.worker_a, None):
        with pytest.raises(PermissionDenied) as refused:
            feed_key_reset(actor=actor, volunteer=vol)
        assert str(refused.value) == "只有志愿者本人可以重置日历订阅地址。"
    assert _key(vol) == ""
    assert not AuditEntry.objects.filter(verb="activity.ical_reset").exists()


def test_the_service_returns_the_new_token(vol):
    old = feed_token(vol)

    token = feed_key_reset(actor=_user(vol), volunteer=vol)

    assert vol.feed_key == _key(vol) != ""
    assert token == feed_token(vol) != old
    assert volunteer_from_feed_token(token) == vol
    assert volunteer_from_feed_token(old) is None


def test_a_token_signed_with_another_key_gives_nobody(vol):
    feed_key_reset(actor=_user(vol), volunteer=vol)
    signer = signing.Signer(salt="activities.ical")

    assert volunteer_from_feed_token(signer.sign(f"{vol.pk}.{vol.feed_key}")) == vol
    assert volunteer_from_feed_token(signer.sign(f"{vol.pk}.other-key")) is None
    assert volunteer_from_feed_token(signer.sign(f"{vol.pk}")) is None
    assert volunteer_from_feed_token(signer.sign(f"{vol.pk}.")) is None
    assert volunteer_from_feed_token(signer.sign(f"x.{vol.feed_key}")) is None
