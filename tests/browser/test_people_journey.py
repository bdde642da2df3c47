"""The foundation's "done when" journey: a community worker finds a resident by pinyin
initials, edits the phone, and sees the change in the record's history."""

import pytest

from huzhu.people.models import Person
from tests.browser.conftest import login
from tests.factories import make_person


@pytest.mark.django_db(transaction=True)
def test_worker_finds_resident_by_initials_edits_phone_and_sees_history(page, city):
    make_person(city.grid_a, "张秀兰", phone="13812345678")
    make_person(city.grid_a, "李建国", phone="13900001111")
    make_person(city.grid_b, "张淑芬", phone="13700002222")  # community B: not visible
    login(page, "worker-a")

    page.click("nav >> text=居民")
    page.wait_for_url("**/people/")
    page.wait_for_load_state()  # HTMX and the search script are deferred
    page.fill("input[name=q]", "zxl")
    rows = page.locator("#person-results tbody tr")
    rows.first.wait_for()
    page.wait_for_function("document.querySelectorAll('#person-results tbody tr').length === 1")
    assert rows.count() == 1
    assert "张秀兰" in rows.first.inner_text()
    assert "138****5678" in rows.first.inner_text()

    page.click("#person-results >> text=张秀兰")
    page.click("text=修改")
    page.fill("input[name=phone]", "139 8765 4321")
    page.click("button:has-text('保存')")
    page.wait_for_url(f"**/people/{Person.objects.get(name='张秀兰').pk}/")
    page.wait_for_selector("text=139****4321")

    page.click("text=操作记录")
    page.wait_for_url("**/history/person/**")
    change_row = page.locator("tr", has_text="手机号").first
    assert change_row.locator("td").nth(0).inner_text() == "138****5678"
    assert change_row.locator("td").nth(1).inner_text() == "139****4321"
    assert "13987654321" not in page.content()
    person = Person.objects.get(name="张秀兰")
    assert person.phone == "13987654321"
    assert person.phone_masked == "139****4321"


@pytest.mark.django_db(transaction=True)
def test_full_id_number_typed_into_search_goes_by_post_lookup(page, city):
    person = make_person(city.grid_a, "王淑珍")
    login(page, "worker-a")
    page.goto(page.base_url + "/people/")
    page.wait_for_load_state()
    page.fill("input[name=q]", person.id_number)
    assert page.locator("#hz-search-hint").is_visible()
    page.press("input[name=q]", "Enter")
    page.wait_for_url(f"{page.base_url}/people/{person.pk}/")
    assert person.id_number not in page.url
    assert page.locator("h1").first.inner_text().split() == ["王淑珍", "在册"]
