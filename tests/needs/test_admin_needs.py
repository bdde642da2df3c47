"""Back office of the needs exchange: categories are edited there (skills and keywords), needs
and offers are only looked at."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from huzhu.needs.models import NeedCategory, Offer
from tests.factories import City
from tests.needs.factories import give_credits, helper_volunteer, make_resident, post_need

pytestmark = pytest.mark.django_db


@pytest.fixture
def root() -> Client:
    admin = User.objects.create_superuser("root-admin", password="pw-for-tests-123")
    client = Client()
    client.force_login(admin)
    return client


@pytest.fixture
def city() -> City:
    return City()


def make_need(city: City, n: int = 1):
    resident = make_resident(city.grid_a, "王奶奶", username="grandma")
    give_credits(resident, 600)
    return [post_need(city.worker_a, resident) for _ in range(n)][-1]


def test_every_needs_admin_page_opens(root, city):
    need = make_need(city)
    helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))
    offer = Offer.objects.get()
    category = NeedCategory.objects.get(name="助餐")
    for url in [
        "/admin/needs/needcategory/",
        "/admin/needs/needcategory/add/",
        f"/admin/needs/needcategory/{category.pk}/change/",
        "/admin/needs/needcategory/?q=买菜",
        "/admin/needs/need/",
        "/admin/needs/need/?q=XQ",
        f"/admin/needs/need/{need.pk}/change/",
        "/admin/needs/offer/",
        f"/admin/needs/offer/{offer.pk}/change/",
    ]:
        assert root.get(url).status_code == 200, url
    page = root.get("/admin/needs/needcategory/").content.decode()
    assert "烹饪" in page and "助餐" in page


def test_needs_and_offers_are_read_only(root, city):
    need = make_need(city)
    assert root.get("/admin/needs/need/add/").status_code == 403
    assert root.post(f"/admin/needs/need/{need.pk}/change/", {}).status_code == 403
    assert root.post(f"/admin/needs/need/{need.pk}/delete/", {"post": "yes"}).status_code == 403
    assert root.get("/admin/needs/offer/add/").status_code == 403


def category_form(category: NeedCategory, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": category.name,
        "service_category": category.service_category_id,
        "skills": [s.pk for s in category.skills.all()],
        "keywords": category.keywords,
        "default_minutes": category.default_minutes,
        "sort_order": category.sort_order,
        "is_active": "on",
    }
    data.update(changes)
    return data


def test_keywords_and_skills_are_edited_here(root):
    category = NeedCategory.objects.get(name="助餐")
    url = f"/admin/needs/needcategory/{category.pk}/change/"
    response = root.post(
        url, category_form(category, keywords="做饭，买菜、 送饭\n做饭", skills=[]), follow=True
    )
    assert response.status_code == 200
    assert "needs.match_profiles" in response.content.decode()  # skills changed
    category.refresh_from_db()
    assert category.keywords == "做饭 买菜 送饭"
    assert list(category.skills.all()) == []


def test_default_minutes_must_be_within_a_day(root):
    category = NeedCategory.objects.get(name="助餐")
    url = f"/admin/needs/needcategory/{category.pk}/change/"
    response = root.post(url, category_form(category, default_minutes=0))
    assert response.status_code == 200
    assert "预计时长应在 1 分钟到 24 小时之间。" in response.content.decode()
    category.refresh_from_db()
    assert category.default_minutes == 60


@pytest.mark.parametrize(
    "url", ["/admin/needs/needcategory/", "/admin/needs/need/", "/admin/needs/offer/"]
)
def test_admin_lists_query_count_does_not_grow_with_rows(root, city, url):
    make_need(city)
    helper_volunteer(city.grid_a, "李近", "near", place=(36.661, 117.021))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert root.get(url).status_code == 200
        return len(queries)

    few = count()
    for i in range(3):
        helper_volunteer(city.grid_a, f"李{i}", f"v{i}", place=(36.661, 117.021))
    resident = make_resident(city.grid_a, "赵爷爷", username="grandpa")
    give_credits(resident, 600)
    post_need(city.worker_a, resident)
    post_need(city.worker_a, resident)
    assert count() == few
