"""The outside notification channels: each gets the message after commit, a failing one is
logged and skipped, phone numbers never reach the log in full."""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction

from huzhu.common.channels import (
    ConsoleChannel,
    ConsoleSmsChannel,
    EmailChannel,
    SmsChannel,
    _channels,
    configured_channels,
    dispatch,
)
from huzhu.common.models import Notification
from huzhu.common.services import notify, notify_many
from tests.factories import make_person

pytestmark = pytest.mark.django_db

CONSOLE = "huzhu.common.channels.ConsoleChannel"
EMAIL = "huzhu.common.channels.EmailChannel"
SMS = "huzhu.common.channels.ConsoleSmsChannel"
WECHAT = "huzhu.common.channels.ConsoleWeChatChannel"
BROKEN = "tests.common.test_channels.BrokenSmsChannel"


class BrokenSmsChannel(SmsChannel):
    """A provider that is down."""

    name = "broken"
    calls = 0

    def send(self, note):
        type(self).calls += 1
        raise ConnectionError("gateway unreachable")


@pytest.fixture(autouse=True)
def fresh_channels(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.HUZHU_PUBLIC_URL = "https://huzhu.example"
    _channels.cache_clear()
    BrokenSmsChannel.calls = 0
    yield
    _channels.cache_clear()


@pytest.fixture
def notify_log(caplog):
    caplog.set_level(logging.INFO, logger="huzhu.notify")
    return caplog


def lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "huzhu.notify"]


def resident_user(city, username: str = "wang-yi", phone: str = "13912345678"):
    user = get_user_model().objects.create_user(username=username, password="pw-for-tests")
    person = make_person(city.grid_a, "王一", phone=phone)
    person.user = user
    person.save(update_fields=["user"])
    return user


def test_console_channel_logs_only_after_commit(
    city, settings, notify_log, django_capture_on_commit_callbacks
):
    settings.HUZHU_NOTIFY_CHANNELS = [CONSOLE]
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        note = notify(user=city.worker_a, kind="test", title="急救证即将到期")
        assert lines(notify_log) == []

    assert len(callbacks) == 1
    assert lines(notify_log) == [f"notify test → {city.worker_a.pk}: 急救证即将到期"]
    assert note.pk is not None


def test_nothing_is_sent_when_the_transaction_rolls_back(
    city, settings, notify_log, django_capture_on_commit_callbacks
):
    settings.HUZHU_NOTIFY_CHANNELS = [CONSOLE]

    class Abort(Exception):
        pass

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(Abort),
        transaction.atomic(),
    ):
        notify(user=city.worker_a, kind="test", title="不会发出")
        raise Abort

    assert callbacks == []
    assert lines(notify_log) == []
    assert not Notification.objects.filter(title="不会发出").exists()


def test_email_channel_mails_the_user_after_commit(
    city, settings, django_capture_on_commit_callbacks
):
    settings.HUZHU_NOTIFY_CHANNELS = [EMAIL]
    city.worker_a.email = "worker-a@example.com"
    city.worker_a.save(update_fields=["email"])

    with django_capture_on_commit_callbacks(execute=True):
        notify(
            user=city.worker_a,
            kind="test",
            title="急救证即将到期",
            body="您的急救证将于2026年12月31日到期。",
            url="/volunteers/me/",
        )
        assert mail.outbox == []

    [message] = mail.outbox
    assert message.subject == "急救证即将到期"
    assert (
        message.body == "您的急救证将于2026年12月31日到期。\n\nhttps://huzhu.example/volunteers/me/"
    )
    assert message.to == ["worker-a@example.com"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL


def test_email_channel_without_a_link_sends_the_body_only(city, settings):
    settings.HUZHU_NOTIFY_CHANNELS = [EMAIL]
    city.worker_a.email = "worker-a@example.com"
    city.worker_a.save(update_fields=["email"])
    note = Notification.objects.create(user=city.worker_a, kind="test", title="标题", body="正文")

    assert dispatch(note) == ["email"]

    assert [m.body for m in mail.outbox] == ["正文"]


def test_email_channel_skips_users_without_an_address(city, settings):
    settings.HUZHU_NOTIFY_CHANNELS = [EMAIL]
    assert city.worker_b.email == ""
    note = Notification.objects.create(user=city.worker_b, kind="test", title="急救证即将到期")

    assert dispatch(note) == []

    assert mail.outbox == []


def test_console_sms_masks_the_number(city, settings, notify_log):
    settings.HUZHU_NOTIFY_CHANNELS = [SMS]
    user = resident_user(city)
    note = Notification.objects.create(user=user, kind="test", title="班次提醒")

    assert dispatch(note) == ["sms"]

    assert lines(notify_log) == ["sms → 139****5678: 班次提醒"]
    assert "13912345678" not in notify_log.text


def test_phone_channels_skip_users_without_a_phone(city, settings, notify_log):
    settings.HUZHU_NOTIFY_CHANNELS = [SMS, WECHAT]
    no_phone = resident_user(city, username="no-phone", phone="")
    no_person = city.worker_a

    for user in (no_phone, no_person):
        note = Notification.objects.create(user=user, kind="test", title="班次提醒")
        assert dispatch(note) == []

    assert lines(notify_log) == []


def test_console_wechat_names_the_user_only(city, settings, notify_log):
    settings.HUZHU_NOTIFY_CHANNELS = [WECHAT]
    user = resident_user(city)
    note = Notification.objects.create(user=user, kind="test", title="班次提醒")

    assert dispatch(note) == ["wechat"]

    assert lines(notify_log) == [f"wechat → user {user.pk}: 班次提醒"]


def test_a_failing_channel_is_logged_and_the_next_still_sends(
    city, settings, notify_log, django_capture_on_commit_callbacks
):
    settings.HUZHU_NOTIFY_CHANNELS = [BROKEN, "huzhu.common.channels.SmsChannel", CONSOLE]
    user = resident_user(city)

    with django_capture_on_commit_callbacks(execute=True):
        note = notify(user=user, kind="test", title="班次提醒")

    assert BrokenSmsChannel.calls == 1
    failures = [r for r in notify_log.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in failures] == [
        f"notify channel broken failed for notification {note.pk}",
        f"notify channel sms failed for notification {note.pk}",
    ]
    assert [type(r.exc_info[1]) for r in failures] == [ConnectionError, NotImplementedError]
    assert lines(notify_log)[-1] == f"notify test → {user.pk}: 班次提醒"
    assert dispatch(note) == ["console"]


def test_a_channel_that_cannot_be_loaded_is_skipped(
    city, settings, notify_log, django_capture_on_commit_callbacks
):
    settings.HUZHU_NOTIFY_CHANNELS = ["huzhu.common.channels.NoSuchChannel", CONSOLE]

    with django_capture_on_commit_callbacks(execute=True):
        notify(user=city.worker_a, kind="test", title="急救证即将到期")

    assert [type(c) for c in configured_channels()] == [ConsoleChannel]
    assert lines(notify_log) == [
        "notify channel huzhu.common.channels.NoSuchChannel cannot be loaded; it is skipped",
        f"notify test → {city.worker_a.pk}: 急救证即将到期",
    ]


def test_configured_channels_follow_the_setting(settings):
    settings.HUZHU_NOTIFY_CHANNELS = [CONSOLE, EMAIL]
    first = configured_channels()
    assert [type(c) for c in first] == [ConsoleChannel, EmailChannel]
    assert configured_channels() is first  # built once per list of paths

    settings.HUZHU_NOTIFY_CHANNELS = [SMS]
    assert [type(c) for c in configured_channels()] == [ConsoleSmsChannel]

    settings.HUZHU_NOTIFY_CHANNELS = [CONSOLE, EMAIL]
    assert configured_channels() is first

    settings.HUZHU_NOTIFY_CHANNELS = []
    assert configured_channels() == ()


def test_notify_many_stores_one_row_per_user_and_skips_missing_users(
    city, settings, notify_log, django_capture_on_commit_callbacks, django_assert_num_queries
):
    settings.HUZHU_NOTIFY_CHANNELS = [CONSOLE]
    messages = [
        {"user": city.worker_a, "kind": "test", "title": "给甲", "body": "正文", "url": "/a/"},
        {"user_id": city.worker_b.pk, "kind": "test", "title": "给乙"},
        {"user": None, "kind": "test", "title": "无人"},
        {"user_id": None, "kind": "test", "title": "也无人"},
    ]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with django_assert_num_queries(1):
            stored = notify_many(messages)
        assert lines(notify_log) == []

    assert stored == 2
    assert len(callbacks) == 1  # the batch goes to the channels at once
    rows = Notification.objects.order_by("title")
    assert [(n.user_id, n.kind, n.title, n.body, n.url, n.dedupe_key) for n in rows] == [
        (city.worker_b.pk, "test", "给乙", "", "", ""),
        (city.worker_a.pk, "test", "给甲", "正文", "/a/", ""),
    ]
    assert lines(notify_log) == ["notify test → 2 users"]  # the console logs a batch once


def test_notify_many_with_nobody_stores_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert notify_many([{"user": None, "kind": "test", "title": "无人"}]) == 0
    assert Notification.objects.count() == 0


def test_notify_without_a_user_sends_nothing(settings, notify_log):
    settings.HUZHU_NOTIFY_CHANNELS = [CONSOLE]
    assert notify(user=None, kind="test", title="无人") is None
    assert Notification.objects.count() == 0
    assert lines(notify_log) == []
