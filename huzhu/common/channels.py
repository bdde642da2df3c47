"""Outside channels for notifications (DESIGN.md §5).

The in-app inbox is always written (``common.services.notify``). After the transaction
commits, every channel named in ``HUZHU_NOTIFY_CHANNELS`` gets the message:

* ``ConsoleChannel`` — a log line (development, and an audit trail of what was sent);
* ``EmailChannel`` — Django's mail backend, to the user's e-mail address if they have one;
* ``SmsChannel`` / ``WeChatChannel`` — adapters: a deployment subclasses them and implements
  ``transmit`` for its provider (the SMS gateway or the WeChat template-message API). The
  ``Console…`` variants log what would be sent, for development and tests.

A channel that fails is logged and skipped; it never takes the others or the request down.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from huzhu.common.models import Notification

logger = logging.getLogger("huzhu.notify")


class Channel(Protocol):
    name: str

    def send(self, note: Notification) -> bool:
        """Deliver one message; True when it was handed over."""


class ConsoleChannel:
    name = "console"

    def send(self, note: Notification) -> bool:
        logger.info("notify %s → %s: %s", note.kind, note.user_id, note.title)
        return True

    def send_many(self, notes: list[Notification]) -> int:
        """A batch (a shift's confirmation) is one line per kind, not one per person."""
        by_kind: dict[str, int] = {}
        for note in notes:
            by_kind[note.kind] = by_kind.get(note.kind, 0) + 1
        for kind, count in by_kind.items():
            logger.info("notify %s → %d users", kind, count)
        return len(notes)


class EmailChannel:
    name = "email"

    def send(self, note: Notification) -> bool:
        address = getattr(note.user, "email", "")
        if not address:
            return False
        link = f"{settings.HUZHU_PUBLIC_URL}{note.url}" if note.url else ""
        body = "\n\n".join(part for part in (note.body, link) if part)
        send_mail(note.title, body, None, [address])
        return True


class _PhoneChannel:
    """Base of the adapters that reach a person's phone: looks up the number, masks it in
    logs, and leaves the provider call to ``transmit``."""

    name = "phone"

    def recipient(self, note: Notification) -> str:
        person = getattr(note.user, "person", None)
        return person.phone if person is not None else ""

    def send(self, note: Notification) -> bool:
        number = self.recipient(note)
        if not number:
            return False
        return self.transmit(number, note)

    def transmit(self, number: str, note: Notification) -> bool:
        raise NotImplementedError(
            f"{type(self).__name__}.transmit: configure a provider adapter for {self.name}"
        )


class SmsChannel(_PhoneChannel):
    """Subclass and implement ``transmit(number, note)`` with the SMS gateway's API."""

    name = "sms"


class WeChatChannel(_PhoneChannel):
    """Subclass and implement ``transmit`` with the WeChat template-message API (the
    subclass maps the user to their openid)."""

    name = "wechat"


class ConsoleSmsChannel(SmsChannel):
    def transmit(self, number: str, note: Notification) -> bool:
        logger.info("sms → %s****%s: %s", number[:3], number[-4:], note.title)
        return True


class ConsoleWeChatChannel(WeChatChannel):
    def transmit(self, number: str, note: Notification) -> bool:
        logger.info("wechat → user %s: %s", note.user_id, note.title)
        return True


@cache
def _channels(paths: tuple[str, ...]) -> tuple[Channel, ...]:
    """The channel objects for ``paths``; one that cannot be loaded is logged and left out
    (raising here would fail every commit that notifies anyone)."""
    channels = []
    for path in paths:
        try:
            channels.append(import_string(path)())
        except Exception:
            logger.exception("notify channel %s cannot be loaded; it is skipped", path)
    return tuple(channels)


def configured_channels() -> tuple[Channel, ...]:
    return _channels(tuple(settings.HUZHU_NOTIFY_CHANNELS))


def dispatch_many(notes: list[Notification]) -> dict[str, int]:
    """Send a batch: a channel with ``send_many`` takes it at once, others note by note.
    Returns how many each channel took."""
    delivered: dict[str, int] = {}
    for channel in configured_channels():
        try:
            send_many = getattr(channel, "send_many", None)
            if send_many is not None:
                delivered[channel.name] = send_many(notes)
            else:
                delivered[channel.name] = sum(1 for note in notes if channel.send(note))
        except Exception:  # a broken provider must not break the others
            logger.exception("notify channel %s failed for a batch of %d", channel.name, len(notes))
    return delivered


def dispatch(note: Notification) -> list[str]:
    """Send ``note`` through every configured channel; returns the names that took it."""
    delivered = []
    for channel in configured_channels():
        try:
            if channel.send(note):
                delivered.append(channel.name)
        except Exception:  # a broken provider must not break the others
            logger.exception("notify channel %s failed for notification %s", channel.name, note.pk)
    return delivered
