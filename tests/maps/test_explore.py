"""overlap_map: layers, tooltips, splits, choropleth, grouping, checks."""

from __future__ import annotations

import builtins
import re
import sys
from typing import Any

import pandas as pd
import pytest

import folium
import geopandas as gpd

from geodecoupage.errors import InvalidParameterError, MissingCRSError
from geodecoupage.maps import overlap_map, render_html, unit_splits
from geodecoupage.maps.explore import CROSSWALK_FIELD

NNBSP = "\u202f"


def _text(m: folium.Map) -> str:
    """Rendered HTML, JSON ``\\uXXXX`` escapes decoded (tojson escapes non-ASCII)."""
    html = render_html(m)
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda g: chr(int(g.group(1), 16)), html)


def _walk(el: Any) -> list[Any]:
    out = [el]
    for c in el._children.values():
        out += _walk(c)
    return out


def _feature_groups(m: folium.Map) -> dict[str, folium.FeatureGroup]:
    return {
        c.layer_name: c
        for c in m._children.values()
        if isinstance(c, folium.FeatureGroup)
    }


def _features(m: folium.Map, key: str) -> dict[str, dict[str, Any]]:
    fg = _feature_groups(m)[key]
    (gj,) = [c for c in _walk(fg) if isinstance(c, folium.GeoJson)]
    return {f["id"]: f for f in gj.data["features"]}


def _style(m: folium.Map, key: str, code: str) -> dict[str, Any]:
    fg = _feature_groups(m)[key]
    (gj,) = [c for c in _walk(fg) if isinstance(c, folium.GeoJson)]
    feat = next(f for f in gj.data["features"] if f["id"] == code)
    return gj.style_function(feat)


def test_one_feature_group_per_layer_named_by_key(toy_layers):
    m = overlap_map(toy_layers)
    assert list(_feature_groups(m)) == ["mrc", "css", "regions"]
    html = render_html(m)
    assert "L.control.layers" in html
    for key in toy_layers:
        assert f'"{key}"' in html


def test_layers_get_distinct_colours(toy_layers):
    m = overlap_map(toy_layers)
    colours = {
        _style(m, k, next(iter(toy_layers[k].index)))["color"] for k in toy_layers
    }
    assert len(colours) == 3


def test_tooltip_gives_the_crosswalk_of_a_split_unit(toy_layers, toy_atlas):
    m = overlap_map(toy_layers, atlas=toy_atlas)
    props = _features(m, "mrc")["B"]["properties"]
    text = props[CROSSWALK_FIELD]
    assert f"MRC B : 60{NNBSP}% dans CSS Yttrium, 40{NNBSP}% dans CSS Xénon" in text
    assert f"MRC B : 100{NNBSP}% dans Région R" in text
    assert props["code"] == "B"
    assert props["nom"] == "MRC Bêta"
    assert props["population"] == f"4{NNBSP}000" or props["population"] == "4000"


def test_tooltip_in_english(toy_layers, toy_atlas):
    m = overlap_map(toy_layers, atlas=toy_atlas, lang="en")
    text = _features(m, "css")["X"]["properties"][CROSSWALK_FIELD]
    assert "CSS X: 71% in MRC Alpha, 29% in MRC Bêta" in text
    region = _features(m, "regions")["R"]["properties"][CROSSWALK_FIELD]
    assert "R: contains 2 whole RCM units" in region
    html = _text(m)
    assert "Crosswalk" in html
    assert "Répartition" not in html


def test_population_weighted_crosswalk(toy_layers, toy_atlas):
    m = overlap_map(toy_layers, atlas=toy_atlas, weight="population")
    text = _features(m, "mrc")["B"]["properties"][CROSSWALK_FIELD]
    assert f"75{NNBSP}% dans CSS Xénon, 25{NNBSP}% dans CSS Yttrium" in text


def test_split_units_are_highlighted_and_nested_ones_are_not(toy_layers, toy_atlas):
    m = overlap_map(toy_layers, atlas=toy_atlas)
    split = {
        (k, c): _style(m, k, c)["weight"]
        for k in toy_layers
        for c in toy_layers[k].index
    }
    # B is cut by the X/Y border, X by the A/B border; A, Y, R nest.
    assert split[("mrc", "B")] > split[("mrc", "A")]
    assert split[("css", "X")] > split[("css", "Y")]
    assert split[("regions", "R")] == split[("mrc", "A")]


def test_unit_splits_classifies_nesting_and_crossing(toy_atlas):
    us = unit_splits(toy_atlas, "mrc", "css")
    assert us.split.to_dict() == {"A": False, "B": True}
    back = unit_splits(toy_atlas, "css", "mrc")
    assert back.split.to_dict() == {"X": True, "Y": False}
    # containment is nesting, not a split
    up = unit_splits(toy_atlas, "regions", "mrc")
    assert up.split.to_dict() == {"R": False}
    assert "contient 2 unités « MRC » entières" in up.text["R"]


def test_threshold_hides_small_pieces(toy_atlas):
    # B∩X is 40 % of B: above a 30 % threshold it still splits B, not above 45 %.
    assert unit_splits(toy_atlas, "mrc", "css", threshold=0.3).split["B"]
    us = unit_splits(toy_atlas, "mrc", "css", threshold=0.45)
    assert not us.split["B"]
    assert "Xénon" not in us.text["B"]


def test_every_attribution_is_on_the_map(toy_layers):
    html = _text(overlap_map(toy_layers))
    for key in toy_layers:
        assert f"Source {key.upper()} (test), CC BY 4.0" in html
    assert "addAttribution" in html


def test_simplification_tolerance_is_stated(toy_layers):
    html = _text(overlap_map(toy_layers, simplify_m=50))
    assert "simplifiées à 50 m" in html
    html_en = _text(overlap_map(toy_layers, simplify_m=50, lang="en"))
    assert "simplified to 50 m" in html_en


def test_choropleth_colours_units_by_score_with_a_legend(toy_layers):
    scores = {"mrc": pd.DataFrame({"incoherence": [0.0, 0.8]}, index=["A", "B"])}
    m = overlap_map(toy_layers, scores=scores, color_by="incoherence", bins=4)
    a, b = _style(m, "mrc", "A"), _style(m, "mrc", "B")
    assert a["fillColor"] != b["fillColor"]
    assert b["fillOpacity"] >= 0.5
    props = _features(m, "mrc")["B"]["properties"]
    assert props["incoherence"] == "0,800"
    html = render_html(m)
    assert "gd-legend" in html
    assert "incoherence" in html
    # layers without the score keep their outline style
    assert _style(m, "css", "X")["fillOpacity"] < 0.5


def test_scores_as_one_frame_with_a_layer_column(toy_layers):
    scores = pd.DataFrame(
        {"layer": ["mrc", "css"], "risk": [1.0, 2.0]},
        index=pd.Index(["A", "X"], name="code"),
    )
    m = overlap_map(toy_layers, scores=scores, color_by="risk")
    assert _features(m, "css")["X"]["properties"]["risk"] == "2,000"
    assert _features(m, "css")["Y"]["properties"]["risk"] == "–"


def test_categorical_colouring(toy_layers):
    layers = dict(toy_layers)
    layers["mrc"] = layers["mrc"].assign(regions_code=["R", "S"])
    m = overlap_map(layers, color_by="regions_code")
    assert _style(m, "mrc", "A")["fillColor"] != _style(m, "mrc", "B")["fillColor"]


def test_unknown_color_by_lists_available_columns(toy_layers):
    with pytest.raises(
        InvalidParameterError, match=r"color_by='nope'.*Available columns: code, .*nom"
    ):
        overlap_map(toy_layers, color_by="nope")


def test_unknown_tooltip_column_lists_available_columns(toy_layers):
    with pytest.raises(
        InvalidParameterError,
        match=r"tooltip column\(s\) 'pop'.*Available columns:.*nom",
    ):
        overlap_map(toy_layers, tooltip=["code", "pop"])


def test_explicit_tooltip_fields(toy_layers, toy_atlas):
    m = overlap_map(toy_layers, atlas=toy_atlas, tooltip=["nom"])
    assert set(_features(m, "mrc")["A"]["properties"]) == {"nom"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"threshold": 0.7}, "threshold must be between 0 and 0.5"),
        ({"simplify_m": -1}, "simplify_m must be a finite number >= 0"),
        ({"lang": "de"}, "Unknown language 'de'"),
        ({"weight": "volume"}, "weight must be 'area' or 'population'"),
        ({"scores": {"rls": pd.DataFrame()}}, "not on the map"),
        ({"grouping": 3}, "grouping must be a GeoDataFrame"),
    ],
)
def test_bad_parameters_raise_clear_errors(toy_layers, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        overlap_map(toy_layers, **kwargs)


def test_bad_layers_argument(toy_layers):
    with pytest.raises(InvalidParameterError, match="non-empty mapping"):
        overlap_map({})
    with pytest.raises(InvalidParameterError, match="must be a GeoDataFrame"):
        overlap_map({"mrc": toy_layers["mrc"].drop(columns="geometry")})


def test_layer_without_crs_is_refused(toy_layers):
    raw = gpd.GeoDataFrame(
        toy_layers["mrc"].drop(columns="geometry"),
        geometry=list(toy_layers["mrc"].geometry),
    )
    with pytest.raises(MissingCRSError, match="has no CRS"):
        overlap_map({"mrc": raw})


def test_input_layers_are_not_modified(toy_layers, toy_atlas):
    before = {k: g.copy() for k, g in toy_layers.items()}
    overlap_map(toy_layers, atlas=toy_atlas)
    for k, g in toy_layers.items():
        pd.testing.assert_frame_equal(g, before[k])
        assert g.crs == before[k].crs


def test_grouping_is_a_toggleable_layer(toy_layers):
    groups = gpd.GeoDataFrame(
        {"nom": ["Ouest", "Est"], "n_units": [1, 1]},
        geometry=list(toy_layers["mrc"].geometry),
        crs="EPSG:32198",
        index=pd.Index(["g1", "g2"], name="group"),
    )

    class Proposal:
        def __init__(self, g: gpd.GeoDataFrame) -> None:
            self.groups = g

    for grouping, name, lang in (
        (groups, "regroupement", "fr"),
        (Proposal(groups), "grouping", "en"),
    ):
        m = overlap_map(toy_layers, grouping=grouping, lang=lang)
        assert name in _feature_groups(m)
        feats = _features(m, name)
        assert set(feats) == {"g1", "g2"}
        assert feats["g1"]["properties"]["nom"] == "Ouest"


def test_adds_to_an_existing_map_with_one_layer_control(toy_layers):
    m = folium.Map(tiles=None)
    folium.LayerControl().add_to(m)
    out = overlap_map({"mrc": toy_layers["mrc"]}, m=m)
    assert out is m
    out = overlap_map({"css": toy_layers["css"]}, m=m)
    controls = [c for c in m._children.values() if isinstance(c, folium.LayerControl)]
    assert len(controls) == 1
    assert {"mrc", "css"} <= set(_feature_groups(m))


def test_no_tile_layer_unless_asked(toy_layers):
    m = overlap_map(toy_layers)
    assert not [c for c in _walk(m) if isinstance(c, folium.TileLayer)]
    m = overlap_map(toy_layers, tiles="OpenStreetMap", self_contained=False)
    assert [c for c in _walk(m) if isinstance(c, folium.TileLayer)]


def test_missing_folium_gives_an_install_hint(toy_layers, monkeypatch):
    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "folium" or name.startswith("folium."):
            raise ImportError("No module named 'folium'")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "folium", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(
        ImportError,
        match=r"optional package 'folium'.*pip install \"geodecoupage\[maps\]\"",
    ):
        overlap_map(toy_layers)


def test_initial_view_can_be_given(toy_layers):
    m = overlap_map(toy_layers, bounds=(-73.6, 46.1, -73.5, 46.2))
    html = render_html(m)
    assert "[[46.1, -73.6], [46.2, -73.5]]" in html


def test_explore_atlas_rebuilds_layers_from_atoms(toy_atlas):
    from geodecoupage.maps import explore_atlas

    m = explore_atlas(toy_atlas)
    assert list(_feature_groups(m)) == ["mrc", "css", "regions"]
    text = _features(m, "mrc")["B"]["properties"][CROSSWALK_FIELD]
    assert f"MRC B : 60{NNBSP}% dans CSS Y" in text


def test_explore_grouping_alone_and_without_geometry(toy_layers):
    from geodecoupage.maps import explore_grouping

    groups = toy_layers["mrc"].rename_axis("group")
    m = explore_grouping(groups)
    assert list(_feature_groups(m)) == ["regroupement"]
    empty = gpd.GeoDataFrame({"n_units": [1]}, geometry=[None], crs="EPSG:32198")
    with pytest.raises(InvalidParameterError, match="has no geometry"):
        explore_grouping(empty)
