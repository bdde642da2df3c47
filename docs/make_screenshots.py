"""Take the README's screenshots from a running demo (`make demo` in another terminal).

.venv/bin/python docs/make_screenshots.py [--base-url http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = Path(__file__).resolve().parent / "img"


def login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "huzhu-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    base = parser.parse_args().base_url.rstrip("/")
    OUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)

        def shot(username: str, path: str, name: str, mobile: bool = False) -> None:
            viewport = {"width": 390, "height": 780} if mobile else {"width": 1280, "height": 800}
            context = browser.new_context(
                locale="zh-CN", viewport=viewport, device_scale_factor=2 if mobile else 1
            )
            page = context.new_page()
            login(page, base, username)
            page.goto(base + path)
            page.wait_for_load_state("networkidle")
            page.screenshot(path=OUT / name)
            context.close()

        shot("street-admin", "/", "dashboard.png")
        shot("worker-a", "/people/?q=w", "people.png")
        shot("city-admin", "/orgs/", "orgs.png")
        shot("resident", "/", "resident-mobile.png", mobile=True)
        shot("worker-a", "/volunteers/?sort=-hours", "volunteers.png")
        shot("volunteer", "/volunteers/mine/", "volunteer-mobile.png", mobile=True)
        browser.close()


if __name__ == "__main__":
    main()
