"""The audit report opened from file:// in headless Chromium, with no network."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from geodecoupage.reports import write_report

pytestmark = pytest.mark.browser

NNBSP = "\u202f"


@pytest.fixture
def report_file(tmp_path: Path, toy_layers, toy_atlas) -> Path:
    return write_report(tmp_path / "rapport.html", toy_layers, atlas=toy_atlas)


def _map_frames(page: Any) -> list[Any]:
    """Scroll to each map, as a reader would, and wait until it has drawn."""
    page.wait_for_function("document.querySelectorAll('iframe.gd-map').length >= 2")
    frames = [f for f in page.frames if f.url == "about:srcdoc"]
    for i, f in enumerate(frames):
        page.locator("iframe.gd-map").nth(i).scroll_into_view_if_needed()
        f.wait_for_selector(".leaflet-overlay-pane path", timeout=10_000)
    return frames


def test_report_opens_offline_with_live_maps(offline_page, report_file):
    page = offline_page.page
    page.goto(report_file.as_uri())
    assert page.locator("h2", has_text="Résumé").count() == 1
    frames = _map_frames(page)
    assert len(frames) == 2
    assert frames[0].locator(".leaflet-overlay-pane path").count() == 5
    # the figures are inline images that decoded
    widths = page.eval_on_selector_all(
        "figure img", "els => els.map(e => e.naturalWidth)"
    )
    assert widths
    assert all(w > 100 for w in widths)
    assert offline_page.external == []
    assert all(
        u.startswith(("file:", "data:", "about:")) for u in offline_page.requests
    )


def test_report_map_tooltip_and_layer_control(offline_page, report_file, toy_layers):
    page = offline_page.page
    page.goto(report_file.as_uri())
    frame = _map_frames(page)[0]
    for layer in ("regions", "css"):
        label = frame.locator(".leaflet-control-layers-overlays label", has_text=layer)
        label.locator("input").click()
    assert frame.locator(".leaflet-overlay-pane path").count() == 2
    b = toy_layers["mrc"].to_crs("EPSG:4326").geometry["B"].representative_point()
    name = frame.evaluate("Object.keys(window).find(k => k.startsWith('map_'))")
    x, y = frame.evaluate(
        f"(() => {{ const p = window['{name}'].latLngToContainerPoint([{b.y}, {b.x}]);"
        " return [p.x, p.y]; })()"
    )
    page.locator("iframe.gd-map").first.scroll_into_view_if_needed()
    box = page.locator("iframe.gd-map").first.bounding_box()
    page.mouse.move(box["x"] + x + 1, box["y"] + y + 1)  # +1: iframe border
    tip = frame.locator(".leaflet-tooltip").first
    tip.wait_for(state="visible", timeout=5000)
    assert f"MRC B : 60{NNBSP}% dans CSS Yttrium" in tip.inner_text()
    assert offline_page.external == []
