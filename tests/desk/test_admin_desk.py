"""Back office of the desk: the catalogue, patrol teams and contacts are edited there;
tickets, notices, suggestions and keys are only looked at, and a contact phone never shows
in full."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from huzhu.desk.models import Channel, MatterType, PatrolTeam, PublicContact, Ticket
from tests.desk.factories import matter, patrol_team, report

pytestmark = pytest.mark.django_db


@pytest.fixture
def root() -> Client:
    admin = User.objects.create_superuser("root-admin", password="pw-for-tests-123")
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def ticket(city) -> Ticket:
    patrol_team(city.community_a, city.grid_a)
    PublicContact.objects.create(org=city.grid_a, name="张网格", phone="0531-86001234")
    return report(
        city.worker_a,
        city.grid_a,
        channel=Channel.PHONE,
        contact_name="刘先生",
        contact_phone="13800138000",
    )


def test_every_desk_admin_page_opens(root, ticket):
    flyposting = matter("civic-flyposting")
    for url in [
        "/admin/desk/mattertype/",
        "/admin/desk/mattertype/add/",
        f"/admin/desk/mattertype/{flyposting.pk}/change/",
        "/admin/desk/patrolteam/",
        f"/admin/desk/patrolteam/{PatrolTeam.objects.get().pk}/change/",
        "/admin/desk/publiccontact/",
        "/admin/desk/ticket/",
        "/admin/desk/ticket/?q=GD",
        f"/admin/desk/ticket/{ticket.pk}/change/",
        "/admin/desk/notice/",
        "/admin/desk/suggestion/",
        "/admin/desk/appkey/",
    ]:
        assert root.get(url).status_code == 200, url
    page = root.get("/admin/desk/mattertype/").content.decode()
    assert "乱贴小广告" in page and "civic-flyposting" in page


def test_tickets_are_read_only_and_the_phone_stays_masked(root, ticket):
    page = root.get(f"/admin/desk/ticket/{ticket.pk}/change/").content.decode()
    assert "138****8000" in page
    assert "13800138000" not in page and ticket.contact_phone_encrypted not in page
    assert ticket.token not in page
    assert root.get("/admin/desk/ticket/add/").status_code == 403
    assert root.post(f"/admin/desk/ticket/{ticket.pk}/delete/").status_code == 403
    assert Ticket.objects.count() == 1


def test_a_matter_type_in_use_cannot_be_deleted(root, ticket):
    used = ticket.matter_type
    assert (
        root.post(f"/admin/desk/mattertype/{used.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    unused = matter("civic-fireworks")
    response = root.post(f"/admin/desk/mattertype/{unused.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not MatterType.objects.filter(pk=unused.pk).exists()
    assert MatterType.objects.filter(pk=used.pk).exists()
