"""Real layers of region 06 (Montréal): map and report opened offline in Chromium."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from geodecoupage.maps import overlap_map, save_map
from geodecoupage.maps.offline import external_assets

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

KEYS = ("mrc", "cisss", "rls", "css", "mtl_arrondissements")


@pytest.fixture(scope="module")
def montreal(quebec_data: Path) -> Any:
    from geodecoupage.layers import read_layer
    from geodecoupage.metrics.region import select_region

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quality warnings are the loader's topic
        layers = {k: read_layer(k, data_dir=quebec_data) for k in KEYS}
    return select_region(layers, region="06")


def test_montreal_map_renders_offline(offline_page, montreal, tmp_path: Path) -> None:
    m = overlap_map(dict(montreal.layers), title="Montréal (06)")
    path = save_map(m, tmp_path / "mtl.html")
    size_mb = path.stat().st_size / 1e6
    assert size_mb < 10, f"region map is {size_mb:.1f} MB"
    assert external_assets(path.read_text(encoding="utf-8")) == []
    page = offline_page.page
    page.goto(path.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane path")
    n_units = sum(len(g) for g in montreal.layers.values())
    assert page.locator(".leaflet-overlay-pane path").count() == n_units
    labels = page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    assert [s.strip() for s in labels] == list(KEYS)
    assert offline_page.external == []


def test_montreal_report_with_atlas(offline_page, montreal, tmp_path: Path) -> None:
    from geodecoupage.overlay import atlas as atlas_mod
    from geodecoupage.reports import write_report

    layers = dict(montreal.layers)
    atlas = atlas_mod.build_atlas(layers)
    within = {k: tuple(v) for k, v in montreal.within.items()}
    path = write_report(
        tmp_path / "mtl.html", layers, atlas=atlas, within=within, region="06"
    )
    text = path.read_text(encoding="utf-8")
    assert 'id="matrice"' in text
    assert "Institution convoquée par le plus de tables" in text
    assert external_assets(text) == []
    page = offline_page.page
    page.goto(path.as_uri())
    page.wait_for_function("document.querySelectorAll('iframe.gd-map').length >= 1")
    frame = next(f for f in page.frames if f.url == "about:srcdoc")
    page.locator("iframe.gd-map").first.scroll_into_view_if_needed()
    frame.wait_for_selector(".leaflet-overlay-pane path", timeout=20_000)
    assert offline_page.external == []
