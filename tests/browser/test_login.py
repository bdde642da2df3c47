import pytest

from tests.browser.conftest import login


@pytest.mark.django_db(transaction=True)
def test_login_page_declares_utf8_and_signs_in(page, city):
    page.goto(page.base_url + "/accounts/login/")
    assert page.locator("meta[charset]").get_attribute("charset").lower() == "utf-8"
    assert page.locator("h1").inner_text() == "登录互助平台"
    login(page, "worker-a")
    assert page.get_by_test_id("current-user").inner_text().strip() == "worker-a"


@pytest.mark.django_db(transaction=True)
def test_wrong_password_stays_on_login_with_message(page, city):
    page.goto(page.base_url + "/accounts/login/")
    page.fill("#id_username", "worker-a")
    page.fill("#id_password", "wrong")
    page.click("button[type=submit]")
    assert "/accounts/login/" in page.url
    assert page.locator(".alert-danger").count() == 1
