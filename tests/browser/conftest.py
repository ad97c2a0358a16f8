"""Headless Chromium (Debian package) driven by Playwright, fully offline.

Never runs ``playwright install``: the browser is Debian's ``/usr/bin/chromium``.
Outside CI a missing browser skips these tests; in CI (``CI=true``) it fails them.
Every request other than ``file:`` and ``data:`` is aborted and recorded, so a
page that tries the network fails its test instead of reaching out.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Toy layers and atlas shared with tests/maps (loaded by path: tests/ is no package).
_spec = importlib.util.spec_from_file_location(
    "_maps_toys", Path(__file__).resolve().parents[1] / "maps" / "conftest.py"
)
if _spec is None or _spec.loader is None:  # pragma: no cover
    raise ImportError("tests/maps/conftest.py not found")
_toys = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _toys
_spec.loader.exec_module(_toys)
toy_layers = _toys.toy_layers
toy_atlas = _toys.toy_atlas


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(
            f"{reason} In CI the browser tests must run: install it in .ci/run."
        )
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium, launched once per session."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} not found (apt-get install -y chromium).")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Python package playwright not installed (test dependency group).")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


class OfflinePage:
    """A page plus the list of non-local requests it attempted (all aborted)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.requests: list[str] = []
        self.external: list[str] = []

    def _route(self, route: Any) -> None:
        url = route.request.url
        self.requests.append(url)
        if url.startswith(("file:", "data:", "about:")):
            route.continue_()
        else:
            self.external.append(url)
            route.abort()


@pytest.fixture
def offline_page(browser: Any) -> Iterator[OfflinePage]:
    """A fresh 1000x700 page whose network requests are recorded and aborted."""
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    page = context.new_page()
    op = OfflinePage(page)
    context.route("**/*", op._route)
    page.on("request", lambda r: op.requests.append(r.url))
    try:
        yield op
    finally:
        context.close()
