"""Self-contained HTML: Leaflet inlined from xstatic-leaflet, nothing external."""

from __future__ import annotations

import importlib
import re

import pytest

import folium
from folium import plugins

from geodecoupage.errors import InvalidParameterError, OutputExistsError
from geodecoupage.maps import offline, overlap_map
from geodecoupage.maps.offline import (
    external_assets,
    leaflet_assets,
    make_self_contained,
    render_html,
    save_map,
)

_SRC = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=[\"']?https?://", re.I)


def test_leaflet_assets_come_from_the_installed_package():
    assets = leaflet_assets()
    assert assets.package == "xstatic-leaflet"
    assert assets.version.startswith("1.9")
    assert "Leaflet" in assets.js[:300]
    assert ".leaflet-container" in assets.css
    # the layer-control icon is inlined, no relative image path is left
    assert "url(images/" not in assets.css
    assert "data:image/png;base64," in assets.css


def test_overlap_map_renders_with_no_external_script_or_stylesheet(
    toy_layers, toy_atlas
):
    html = render_html(overlap_map(toy_layers, atlas=toy_atlas))
    assert not _SRC.search(html)
    assert external_assets(html) == []
    assert "Leaflet 1.9" in html
    assert "inlined from the xstatic-leaflet package" in html
    # folium's icon-only defaults are gone
    for name in ("jquery", "bootstrap", "fontawesome", "awesome-markers"):
        assert name not in html.lower()


def test_default_folium_map_is_made_self_contained():
    m = folium.Map(tiles=None)
    folium.LayerControl().add_to(m)
    assert external_assets(m.get_root().render())  # CDN links by default
    html = render_html(m)
    assert external_assets(html) == []
    assert html.count("inlined from the xstatic-leaflet package") == 1


def test_render_twice_inlines_once(toy_layers):
    m = overlap_map(toy_layers)
    first = render_html(m)
    second = render_html(m)
    assert second.count("inlined from the xstatic-leaflet package") == 1
    assert len(first) == pytest.approx(len(second), rel=0.01)


def test_without_self_contained_the_cdn_is_linked(toy_layers):
    html = overlap_map(toy_layers, self_contained=False).get_root().render()
    assert any("leaflet" in u for u in external_assets(html))


def test_a_plugin_with_external_assets_is_refused_by_name():
    m = folium.Map(tiles=None)
    plugins.Fullscreen().add_to(m)
    with pytest.raises(
        InvalidParameterError, match=r"Fullscreen: https://.*self_contained=False"
    ):
        make_self_contained(m)


def test_external_assets_ignores_plain_links():
    html = (
        '<a href="https://leafletjs.com">Leaflet</a>'
        '<script src="https://cdn.example/x.js"></script>'
        "<link rel=stylesheet href=//cdn.example/y.css>"
        '<img src="data:image/png;base64,AAAA">'
    )
    assert external_assets(html) == ["https://cdn.example/x.js", "//cdn.example/y.css"]


def test_save_map_is_atomic_and_refuses_to_overwrite(toy_layers, tmp_path):
    m = overlap_map(toy_layers)
    out = save_map(m, tmp_path / "carte.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(OutputExistsError, match="already exists"):
        save_map(m, out)
    save_map(m, out, overwrite=True)
    assert [p.name for p in tmp_path.iterdir()] == ["carte.html"]


def test_missing_asset_package_gives_an_install_hint(monkeypatch):
    real = importlib.import_module

    def fake(name: str, *args: object) -> object:
        if name.startswith("xstatic"):
            raise ImportError(name)
        return real(name, *args)

    offline.leaflet_assets.cache_clear()
    monkeypatch.setattr(importlib, "import_module", fake)
    try:
        with pytest.raises(
            ImportError,
            match=r"xstatic-leaflet.*\"geodecoupage\[maps\]\".*self_contained=False",
        ):
            offline.leaflet_assets()
    finally:
        monkeypatch.undo()
        offline.leaflet_assets.cache_clear()


def test_same_map_renders_to_the_same_bytes(toy_layers, toy_atlas):
    a = render_html(overlap_map(toy_layers, atlas=toy_atlas))
    b = render_html(overlap_map(toy_layers, atlas=toy_atlas))
    assert a == b
    assert re.search(r"map_0{31}1\b", a)
