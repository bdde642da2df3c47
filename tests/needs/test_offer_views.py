"""我的服务: a volunteer publishes, edits and pauses offers (categories, the weekly grid, a
place); others' offers are missing; matching reads what was saved."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from huzhu.needs.models import MatchFit, MatchProfile, Offer
from huzhu.needs.services import OfferInput, offer_save
from huzhu.volunteers.availability import to_mask
from tests.activities.clients import client_for
from tests.activities.factories import make_login_volunteer
from tests.factories import City
from tests.needs.factories import make_resident, need_category

pytestmark = pytest.mark.django_db

MINE = reverse("needs:my_offers")
NEW = reverse("needs:offer_new")


@pytest.fixture
def city():
    return City()


@pytest.fixture
def vol(city):
    return make_login_volunteer(city.grid_a, "李建国", "li")


@pytest.fixture
def client(vol):
    return client_for(vol.person.user)


def edit_url(offer: Offer) -> str:
    return reverse("needs:offer_edit", args=[offer.pk])


def publish(volunteer, title: str = "帮忙买菜", categories=("跑腿代办",), **fields) -> Offer:
    return offer_save(
        actor=volunteer.person.user,
        volunteer=volunteer,
        data=OfferInput(
            title=title, category_ids=[need_category(c).pk for c in categories], **fields
        ),
    )


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)._queued_messages]


def field_errors(response, name: str) -> list[str]:
    return re.findall(rf'data-field-error="{name}">([^<]*)<', response.content.decode())


def offer_data(**overrides) -> dict:
    data = {
        "title": "周末帮忙买菜取药",
        "categories": [need_category("跑腿代办").pk, need_category("助餐").pk],
        "description": "我有车",
        "availability": ["sat_am", "sat_pm", "sun_am"],
        "address": "甲社区及周边",
        "latitude": "36.661",
        "longitude": "117.021",
        "is_active": "on",
    }
    data.update(overrides)
    return data


def test_anonymous_visitors_are_sent_to_sign_in(city, vol):
    offer = publish(vol)
    for url in (MINE, NEW, edit_url(offer)):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_my_offers_lists_active_first(city, vol, client):
    paused = publish(vol, "以前的服务", is_active=False)
    active = publish(vol, "帮忙买菜", availability=to_mask(["sat_am", "sat_pm", "sat_eve"]))
    response = client.get(MINE)
    assert response.status_code == 200
    assert [o.pk for o in response.context["offers"]] == [active.pk, paused.pk]
    html = response.content.decode()
    assert re.findall(r'data-testid="offer-state">([^<]+)<', html) == ["提供中", "已暂停"]
    assert "周六全天" in html
    assert f'href="{edit_url(active)}"' in html
    assert f'href="{NEW}"' in html


def test_publishing_an_offer(city, vol, client):
    response = client.get(NEW)
    assert response.status_code == 200
    assert response.context["form"]["is_active"].value() is True
    assert len(response.context["grid"]) == 7
    response = client.post(NEW, offer_data())
    assert response.status_code == 302
    assert response["Location"] == MINE
    assert flash(response) == ["服务信息已保存，会用于为您推荐合适的求助。"]
    offer = Offer.objects.get()
    assert (offer.volunteer, offer.org, offer.title, offer.description, offer.address) == (
        vol,
        vol.org,
        "周末帮忙买菜取药",
        "我有车",
        "甲社区及周边",
    )
    assert offer.availability == to_mask(["sat_am", "sat_pm", "sun_am"])
    assert (offer.latitude, offer.longitude, offer.is_active) == (36.661, 117.021, True)
    assert sorted(c.name for c in offer.categories.all()) == ["助餐", "跑腿代办"]
    # Matching reads it at once.
    fits = dict(MatchProfile.objects.filter(volunteer=vol).values_list("category__name", "fit"))
    assert fits["跑腿代办"] == MatchFit.OFFER
    assert fits["助餐"] == MatchFit.OFFER


def test_an_offer_needs_a_title_and_a_category(city, vol, client):
    response = client.post(NEW, offer_data(title="", categories=[]))
    assert response.status_code == 400
    assert field_errors(response, "title") == ["请填写标题。"]
    assert field_errors(response, "categories") == ["请至少选择一项可提供的服务。"]
    assert Offer.objects.count() == 0


def test_a_place_needs_both_coordinates(city, vol, client):
    response = client.post(NEW, offer_data(longitude=""))
    assert response.status_code == 400
    assert field_errors(response, "latitude") == ["经纬度须同时填写。"]
    assert Offer.objects.count() == 0


def test_editing_and_pausing_an_offer(city, vol, client):
    offer = publish(vol, availability=to_mask(["mon_am"]))
    response = client.get(edit_url(offer))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["title"].value() == "帮忙买菜"
    assert form.selected_slots() == ["mon_am"]
    assert 'value="mon_am" id="hz-availability-mon_am" checked' in response.content.decode()
    data = offer_data(title="工作日晚上可以帮忙", availability=["mon_eve", "tue_eve"])
    del data["is_active"]
    response = client.post(edit_url(offer), data)
    assert response["Location"] == MINE
    offer.refresh_from_db()
    assert (offer.title, offer.is_active) == ("工作日晚上可以帮忙", False)
    assert offer.availability == to_mask(["mon_eve", "tue_eve"])
    assert Offer.objects.count() == 1


def test_someone_elses_offer_is_missing(city, vol):
    offer = publish(vol)
    other = make_login_volunteer(city.grid_a, "赵志强", "zhao")
    resident = make_resident(city.grid_a, "王秀英", username="grandma")
    for user in (other.person.user, resident.user, city.worker_a, city.worker_b):
        user_client = client_for(user)
        assert user_client.get(edit_url(offer)).status_code == 404
        assert user_client.post(edit_url(offer), offer_data(title="改掉")).status_code == 404
    offer.refresh_from_db()
    assert offer.title == "帮忙买菜"


def test_a_non_volunteer_is_shown_how_to_register(city):
    resident = make_resident(city.grid_a, "王秀英", username="grandma")
    client = client_for(resident.user)
    for url in (MINE, NEW):
        response = client.get(url)
        assert response.status_code == 200
        assert 'data-testid="not-volunteer"' in response.content.decode()
    assert client.post(NEW, offer_data()).status_code == 404
    assert Offer.objects.count() == 0


def test_my_offers_query_count_does_not_grow(city, vol, client, django_assert_num_queries):
    publish(vol, "服务0")
    with CaptureQueriesContext(connection) as queries:
        assert client.get(MINE).status_code == 200
    few = len(queries)
    for n in range(1, 5):
        publish(vol, f"服务{n}", categories=("跑腿代办", "助餐"))
    with django_assert_num_queries(few):
        response = client.get(MINE)
    assert len(response.context["offers"]) == 5
