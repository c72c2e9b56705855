"""Helpers for the browser tests: open the desktop as an agent does, watch for page errors and
Content-Security-Policy refusals (the pages declare a policy that allows nothing inline), and check a
page with axe-core.

The tests drive and observe the pages as a user does (DOM, roles, labels, text); nothing in the pages
exists for the tests (no ``window.*`` hooks).
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path
from typing import Any

AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
AXE_PATH = "/__test-support__/axe.min.js"  # answered by the test's route, never by the server
BLOCKING = ("critical", "serious")
WATCHES: weakref.WeakKeyDictionary[Any, PageWatch] = weakref.WeakKeyDictionary()


class PageWatch:
    """What went wrong in a page: uncaught errors and CSP refusals (Chromium logs them)."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.csp: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", self._console)

    def _console(self, msg: Any) -> None:
        if "Content Security Policy" in msg.text:
            self.csp.append(msg.text)
        # An API's 4xx/5xx answer (shown to the agent, translated) is logged by Chromium too: not a fault.
        elif msg.type == "error" and "Failed to load resource" not in msg.text:
            self.errors.append(msg.text)


async def new_page(browser: Any) -> tuple[Any, PageWatch]:
    """A fresh context and page. The axe-core file is served at a path of the page's own origin (by
    the test's route, never by the server), so the pages' strict policy admits it."""
    ctx = await browser.new_context(viewport={"width": 1440, "height": 960}, locale="vi-VN")
    page = await ctx.new_page()
    watch = PageWatch(page)

    await ctx.route(
        f"**{AXE_PATH}", lambda route: route.fulfill(path=str(AXE), content_type="text/javascript")
    )
    return page, watch


def watch_of(page: Any) -> PageWatch:
    return WATCHES[page]


async def log_in(browser: Any, base: str, agent: str, path: str = "/", *, lang: str = "") -> Any:
    """Log in through the login form as ``agent`` (password ``demo-<agent>``), open ``path`` and
    wait until the page's websocket is up (the header's link status)."""
    page, watch = await new_page(browser)
    WATCHES[page] = watch
    query = f"?lang={lang}" if lang else ""
    await page.goto(f"{base}/login{query}")
    await page.fill("input[name=agent]", agent)
    await page.fill("input[name=password]", f"demo-{agent}")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/")
    if path != "/" or lang:
        await page.goto(f"{base}{path}{query}")
    try:
        await page.wait_for_selector("#link.up", timeout=15000)
    except Exception as err:
        raise AssertionError(
            f"{page.url}: the websocket never came up; page errors {watch.errors}, CSP {watch.csp}"
        ) from err
    return page


async def axe_violations(page: Any, base: str) -> list[dict[str, Any]]:
    """axe-core's critical and serious violations on the page as it is now."""
    await page.add_script_tag(url=f"{base}{AXE_PATH}")
    result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v["impact"] in BLOCKING]


async def axe_all(page: Any, base: str) -> list[dict[str, Any]]:
    """Every violation, whatever its impact (for a look by hand)."""
    await page.add_script_tag(url=f"{base}{AXE_PATH}")
    return list((await page.evaluate("async () => await axe.run(document)"))["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    out = []
    for v in violations:
        targets = [n["target"] for n in v["nodes"]][:5]
        out.append(f"{v['impact']} {v['id']}: {v['help']} at {json.dumps(targets, ensure_ascii=False)}")
    return "\n".join(out)
