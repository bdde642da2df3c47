"""Take the README's screenshots from a running demo (`make demo` in another terminal).

.venv/bin/python docs/make_screenshots.py [--base-url http://127.0.0.1:8000] [--board-url URL]
    [--only NAME ...]

``--only timebank-mobile`` (repeatable; with or without ``.png``) retakes just the named shots.

The shift board is found through the UI (a running activity of worker-a's community, else a
closed one, and its most recent shift with check-ins), so no demo ids are hard-coded; pass
``--board-url`` (a path or a full URL) to pick another shift.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from functools import partial
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
# activities looked at per status when searching for a shift with check-ins
BOARD_CANDIDATES = 8


def login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "huzhu-demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def open_board(page: Page, base: str) -> None:
    """活动管理 → an activity → the 看板 of its most recent shift that has check-ins."""
    for status in ("running", "closed"):
        page.goto(f"{base}/activities/manage/?status={status}")
        links = page.locator("[data-testid=activities] tbody tr td:first-child a")
        hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
        for href in hrefs[:BOARD_CANDIDATES]:
            page.goto(base + href)
            best: tuple[str, int] | None = None  # (start time, row index)
            rows = page.locator("[data-testid=shifts] tbody tr[data-shift-id]")
            for i in range(rows.count()):
                cells = rows.nth(i).locator("td")
                present = cells.nth(4).inner_text().strip()
                if not present.isdigit() or int(present) == 0:
                    continue
                starts = re.sub(r"\s+", " ", cells.nth(0).inner_text().strip())
                if best is None or starts > best[0]:
                    best = (starts, i)
            if best is not None:
                rows.nth(best[1]).get_by_role("link").click()
                page.wait_for_url(re.compile(r"/activities/manage/shifts/\d+/$"))
                return
    raise SystemExit("no shift with check-ins found for worker-a; pass --board-url")


def open_matching(page: Page, base: str) -> None:
    """需求看板 (open needs) → the first need's matching screen."""
    page.goto(f"{base}/needs/manage/?status=open")
    link = page.locator("[data-testid=needs] tbody tr td a").first
    page.goto(base + (link.get_attribute("href") or "/needs/manage/"))


def open_ticket(page: Page, base: str) -> None:
    """服务台 → 工单 → the newest ticket being handled (one with a team and history)."""
    page.goto(f"{base}/desk/tickets/?status=in_progress")
    page.locator("[data-testid=tickets] tbody tr a").first.click()


def open_stats(page: Page, base: str) -> None:
    """The desk statistics, once the charts have finished drawing."""
    page.goto(f"{base}/desk/stats/")
    page.wait_for_timeout(1500)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--board-url", help="the shift board to show (default: found in the UI)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="take only this shot, e.g. timebank-mobile (repeatable; default: all)",
    )
    args = parser.parse_args()
    only = {name.removesuffix(".png") for name in args.only or ()}
    base = args.base_url.rstrip("/")
    board: str | Callable[[Page], None] = partial(open_board, base=base)
    if args.board_url:
        board = args.board_url.removeprefix(base)
    OUT.mkdir(exist_ok=True)
    known: set[str] = set()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)

        def shot(
            username: str | None,
            path: str | Callable[[Page], None],
            name: str,
            mobile: bool = False,
        ) -> None:
            known.add(name.removesuffix(".png"))
            if only and name.removesuffix(".png") not in only:
                return
            viewport = {"width": 390, "height": 780} if mobile else {"width": 1280, "height": 800}
            context = browser.new_context(
                locale="zh-CN", viewport=viewport, device_scale_factor=2 if mobile else 1
            )
            page = context.new_page()
            if username is not None:  # None: an anonymous visitor (public pages)
                login(page, base, username)
            if callable(path):
                path(page)
            else:
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
        shot("worker-a", board, "activities-board.png")
        shot("volunteer", "/activities/", "activities-mobile.png", mobile=True)
        shot("volunteer", "/activities/hours/", "activities-hours-mobile.png", mobile=True)
        shot("volunteer", "/timebank/", "timebank-mobile.png", mobile=True)
        shot("worker-a", "/timebank/counter/redemptions/", "timebank-counter.png")
        shot("worker-a", partial(open_matching, base=base), "needs-matching.png")
        shot("resident", "/needs/ask/", "needs-ask-mobile.png", mobile=True)
        shot("volunteer", "/needs/invitations/", "needs-invitations-mobile.png", mobile=True)
        shot("worker-a", partial(open_ticket, base=base), "desk-ticket.png")
        shot("resident", "/desk/report/", "desk-report-mobile.png", mobile=True)
        shot("supervisor", "/desk/overdue/", "desk-overdue.png")
        shot("supervisor", partial(open_stats, base=base), "desk-stats.png")
        shot(None, "/desk/public/reports/", "desk-public-board-mobile.png", mobile=True)
        browser.close()
    if unknown := only - known:
        raise SystemExit(f"no such shot: {', '.join(sorted(unknown))}")


if __name__ == "__main__":
    main()
