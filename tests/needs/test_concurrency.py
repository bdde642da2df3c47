"""Volunteers accepting the same need at the same moment (PostgreSQL only): each thread has
its own database connection and a barrier releases them together. Exactly one wins; the
others are told, in Chinese, that the need is taken; the need is matched once, with one
event, and the winner's load goes up once. SQLite lets one writer in at a time, so these
tests are skipped there."""

from __future__ import annotations

import threading
from importlib import import_module
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError

from huzhu.needs import services
from huzhu.needs.models import (
    Invitation,
    InvitationStatus,
    MatchProfile,
    Need,
    NeedEvent,
    NeedStatus,
    Urgency,
)
from tests.factories import City
from tests.needs.factories import (
    access_for,
    give_credits,
    helper_volunteer,
    make_resident,
    post_need,
    set_place,
)

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def city() -> City:
    # a transactional test starts from an empty database: put the need categories back
    import_module("huzhu.needs.migrations.0002_need_categories").add_categories(apps, None)
    city = City()
    set_place(city.community_a, 36.660, 117.020)
    return city


def _race(invitations: list[Invitation]) -> dict[str, Any]:
    """Every invited volunteer accepts at once, each in a thread of its own."""
    barrier = threading.Barrier(len(invitations))
    tally: dict[str, Any] = {"won": [], "refused": [], "errors": [], "lock": threading.Lock()}

    def accept(invitation: Invitation) -> None:
        from django.db import connection

        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            services.invitation_accept(
                actor=invitation.volunteer.person.user, invitation=invitation
            )
            outcome, value = "won", invitation.volunteer_id
        except ValidationError as refusal:
            outcome, value = "refused", refusal.message_dict
        except Exception as exc:  # anything else is a failure of the test
            outcome, value = "errors", f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with tally["lock"]:
            tally[outcome].append(value)

    threads = [threading.Thread(target=accept, args=(i,)) for i in invitations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return tally


def _invitations(need: Need) -> list[Invitation]:
    return list(
        Invitation.objects.filter(need=need)
        .select_related("volunteer__person__user")
        .order_by("pk")
    )


def _check_one_winner(need: Need, tally: dict[str, Any], volunteers: list[Any]) -> None:
    assert tally["errors"] == []
    assert len(tally["won"]) == 1
    taken = {"need": [f"需求{need.number}已由其他志愿者承接或已关闭。"]}
    assert tally["refused"] == [taken] * (len(volunteers) - 1)
    (winner,) = tally["won"]
    need = Need.objects.get(pk=need.pk)
    assert (need.status, need.volunteer_id) == (NeedStatus.MATCHED, winner)
    assert NeedEvent.objects.filter(need=need, verb="match").count() == 1
    assert need.messages.filter(role="system").count() == 1
    statuses = sorted(need.invitations.values_list("status", flat=True))
    closed = [InvitationStatus.CLOSED] * (len(volunteers) - 1)
    assert statuses == sorted([InvitationStatus.ACCEPTED, *closed])
    loads = dict(MatchProfile.objects.values_list("volunteer_id", "load"))
    assert loads == {v.pk: (1 if v.pk == winner else 0) for v in volunteers}


def test_two_volunteers_accepting_at_once_one_wins(city):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 600)
    volunteers = [
        helper_volunteer(city.grid_a, "李甲", "first", place=(36.661, 117.021)),
        helper_volunteer(city.grid_a, "李乙", "second", place=(36.662, 117.022)),
    ]
    for round_ in range(3):  # a few races, so the threads really meet at the lock
        need = post_need(city.worker_a, resident, description=f"帮我买菜（第{round_}次）")
        services.need_invite(
            actor=city.worker_a,
            access=access_for(city.worker_a, need),
            volunteer_ids=[v.pk for v in volunteers],
        )
        tally = _race(_invitations(need))
        _check_one_winner(need, tally, volunteers)
        winner = Need.objects.get(pk=need.pk).volunteer_id
        services.need_cancel(
            actor=city.worker_a, access=access_for(city.worker_a, need), reason="下一轮"
        )
        assert MatchProfile.objects.get(volunteer_id=winner).load == 0


def test_ten_volunteers_answer_a_broadcast_and_one_takes_it(city):
    resident = make_resident(city.grid_a, "王奶奶")
    give_credits(resident, 600)
    volunteers = [
        helper_volunteer(city.grid_a, f"李{n}号", f"v{n}", place=(36.661 + n / 1000, 117.021))
        for n in range(10)
    ]
    need = post_need(city.worker_a, resident, urgency=Urgency.URGENT)
    created = services.need_broadcast(
        actor=city.worker_a, access=access_for(city.worker_a, need), top=10
    )
    assert sorted(i.volunteer_id for i in created) == sorted(v.pk for v in volunteers)
    tally = _race(_invitations(need))
    _check_one_winner(need, tally, volunteers)
