"""An overlap map opened from file:// in headless Chromium, with no network."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import geopandas as gpd
import shapely

from geodecoupage.maps import overlap_map, save_map

pytestmark = pytest.mark.browser

NNBSP = "\u202f"


def _non_background_share(png: bytes) -> float:
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    background = np.array([0xFB, 0xFB, 0xF8])
    differs = np.abs(img - background).sum(axis=2) > 30
    return float(differs.mean())


def _map_name(page: Any) -> str:
    return page.evaluate("Object.keys(window).find(k => k.startsWith('map_'))")


def hover_lonlat(page: Any, lon: float, lat: float) -> str:
    """Move the mouse over (lon, lat) and return the tooltip's text."""
    name = _map_name(page)
    x, y = page.evaluate(
        f"(() => {{ const p = window['{name}'].latLngToContainerPoint([{lat}, {lon}]);"
        " return [p.x, p.y]; })()"
    )
    box = page.locator(f"#{name}").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    tip = page.locator(".leaflet-tooltip")
    tip.first.wait_for(state="visible", timeout=5000)
    return str(tip.first.inner_text())


def _toggle(page: Any, layer: str) -> None:
    label = page.locator(".leaflet-control-layers-overlays label", has_text=layer)
    label.locator("input").click()


def _n_paths(page: Any) -> int:
    return int(page.locator(".leaflet-overlay-pane path").count())


def _point_in(gdf: gpd.GeoDataFrame, code: str) -> tuple[float, float]:
    pt = gpd.GeoSeries([gdf.geometry[code].point_on_surface()], crs=gdf.crs)
    p = pt.to_crs("EPSG:4326").iloc[0]
    assert isinstance(p, shapely.Point)
    return p.x, p.y


@pytest.fixture
def toy_map_file(tmp_path: Path, toy_layers, toy_atlas) -> Path:
    m = overlap_map(toy_layers, atlas=toy_atlas, title="Test")
    return save_map(m, tmp_path / "carte.html")


def test_map_renders_polygons_offline(offline_page, toy_map_file):
    page = offline_page.page
    page.goto(toy_map_file.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane path")
    assert _n_paths(page) == 5  # 2 MRC + 2 CSS + 1 region
    share = _non_background_share(page.screenshot())
    assert share > 0.2, (
        f"only {share:.1%} of the screenshot differs from the background"
    )
    assert offline_page.external == []
    assert all(u.startswith(("file:", "data:")) for u in offline_page.requests)


def test_layer_control_toggles_a_layer(offline_page, toy_map_file):
    page = offline_page.page
    page.goto(toy_map_file.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane path")
    assert _n_paths(page) == 5
    _toggle(page, "regions")
    assert _n_paths(page) == 4
    _toggle(page, "css")
    assert _n_paths(page) == 2
    _toggle(page, "regions")
    assert _n_paths(page) == 3


def test_hovering_a_split_unit_shows_its_crosswalk(
    offline_page, toy_map_file, toy_layers
):
    page = offline_page.page
    page.goto(toy_map_file.as_uri())
    page.wait_for_selector(".leaflet-overlay-pane path")
    # bring MRC to the top: hide the layers drawn over it
    _toggle(page, "regions")
    _toggle(page, "css")
    lon, lat = _point_in(toy_layers["mrc"], "B")
    text = hover_lonlat(page, lon, lat)
    assert "MRC Bêta" in text
    assert f"MRC B : 60{NNBSP}% dans CSS Yttrium, 40{NNBSP}% dans CSS Xénon" in text
    assert offline_page.external == []


def test_request_recorder_catches_a_cdn_page(offline_page, tmp_path, toy_layers):
    """The no-network checks above can fail: a CDN-linked map is caught."""
    m = overlap_map(toy_layers, self_contained=False)
    path = save_map(m, tmp_path / "cdn.html", self_contained=False)
    offline_page.page.goto(path.as_uri())
    assert any("leaflet" in u for u in offline_page.external)
