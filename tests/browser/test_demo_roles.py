"""`make demo` serves a page a person can log into as every demo role."""

import pytest

from huzhu.demo.seed import seed_demo
from tests.browser.conftest import login

EXPECTED_USERNAMES = {
    "city-admin",
    "street-admin",
    "worker-a",
    "worker-b",
    "leader",
    "volunteer",
    "resident",
    "party-worker",
    "supervisor",
}


@pytest.mark.django_db(transaction=True)
def test_every_demo_role_logs_in_and_sees_a_home(page):
    result = seed_demo(password="huzhu-demo", residents=120, progress=False)
    assert {account.username for account in result.accounts} == EXPECTED_USERNAMES
    for account in result.accounts:
        login(page, account.username, "huzhu-demo")
        heading = page.locator("main h1").first.inner_text()
        if account.username in ("volunteer", "resident"):
            assert heading.startswith("您好，")
            assert page.locator("nav >> text=我的信息").count() == 1
        else:
            assert heading == "工作台"
            assert page.locator("nav >> text=组织").count() == 1
        page.click("button:has-text('退出')")
        page.wait_for_url("**/accounts/login/")
