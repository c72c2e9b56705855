"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) for the browser tests.

The real-Asterisk fixtures are reused from tests/asterisk. Without Chromium the tests skip locally
and fail in CI (env CI set): a CI run that skipped the browser tier is a failed run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.asterisk.conftest import ami, asterisk_sandbox, bridge

__all__ = ["ami", "asterisk_sandbox", "bridge", "browser", "media_browser"]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if not path:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: the browser tests must run in CI (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=path, args=ARGS)
        try:
            yield b
        finally:
            await b.close()


# The softphone tests (tests/browser/softphone_pages.py): a fake microphone (a generated tone) and
# camera, granted without a prompt; audio may play without a gesture.
MEDIA_ARGS = [
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
async def media_browser() -> AsyncIterator[Any]:
    path = chromium_path()
    if not path:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing: the browser tests must run in CI (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        # The sandbox's certificate is from a local CA the browser does not know.
        b = await pw.chromium.launch(
            executable_path=path, args=[*ARGS, *MEDIA_ARGS, "--ignore-certificate-errors"]
        )
        try:
            yield b
        finally:
            await b.close()
