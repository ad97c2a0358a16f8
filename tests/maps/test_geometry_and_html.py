"""Display simplification, coordinate rounding, palettes and HTML tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely
import shapely.affinity

from geodecoupage.errors import InvalidParameterError
from geodecoupage.maps import html_summary, html_table, layer_colors, unit_label
from geodecoupage.maps._geometry import (
    auto_tolerance_m,
    coordinate_decimals,
    display_geometries,
    simplify_layer,
)
from geodecoupage.maps.styles import MISSING_COLOR, SEQUENTIAL, bin_edges, class_color


def _wiggly_pair() -> gpd.GeoSeries:
    """Two polygons sharing a zig-zag border (amplitude 20 m, period 100 m)."""
    xs = np.arange(0, 10_001, 50.0)
    ys = 5000 + np.where((xs // 50) % 2 == 0, 0.0, 20.0)
    border = list(zip(xs, ys, strict=True))
    south = shapely.Polygon([(0, 0), (10_000, 0), *border[::-1]])
    north = shapely.Polygon([*border, (10_000, 10_000), (0, 10_000)])
    moved = [
        shapely.affinity.translate(g, -300_000.0, 250_000.0) for g in (south, north)
    ]
    return gpd.GeoSeries(moved, crs="EPSG:32198", index=["s", "n"])


def test_coverage_simplification_keeps_neighbours_gap_free():
    geoms = _wiggly_pair()
    out, method = simplify_layer(geoms, 100.0)
    assert method.startswith("coverage")
    assert (
        shapely.get_num_coordinates(out.array).sum()
        < shapely.get_num_coordinates(geoms.array).sum() / 5
    )
    # no gap and no overlap between the two simplified polygons
    union = shapely.union_all(out.array)
    assert union.area == pytest.approx(out.area.sum(), rel=1e-9)
    assert union.area == pytest.approx(1e8, rel=1e-3)  # 10 km x 10 km
    assert out.index.tolist() == ["s", "n"]


def test_zero_tolerance_returns_the_input():
    geoms = _wiggly_pair()
    out, method = simplify_layer(geoms, 0.0)
    assert method == "none"
    assert out.geom_equals(geoms).all()


def test_display_geometries_are_lonlat_and_rounded():
    gdf = gpd.GeoDataFrame(
        {"nom": ["s", "n"]}, geometry=list(_wiggly_pair()), crs="EPSG:32198"
    )
    out, _ = display_geometries(gdf, tolerance_m=50.0)
    assert out.crs == "EPSG:4326"
    coords = shapely.get_coordinates(out.array)
    assert np.allclose(coords, np.round(coords, 4))
    minx, miny, maxx, maxy = out.total_bounds
    assert -80 < minx < maxx < -56
    assert 44 < miny < maxy < 63
    with pytest.raises(InvalidParameterError, match="simplify_m"):
        display_geometries(gdf, tolerance_m=math.nan)


@pytest.mark.parametrize(
    ("diag_km", "expected"),
    [(2_500, 200.0), (60, 5.0), (500, 50.0), (1e6, 500.0), (0.0, 5.0)],
)
def test_auto_tolerance(diag_km, expected):
    side = diag_km * 1000 / math.sqrt(2)
    assert auto_tolerance_m((0.0, 0.0, side, side)) == expected


@pytest.mark.parametrize(("tol", "dec"), [(200, 4), (50, 4), (10, 5), (1, 6), (0, 7)])
def test_coordinate_decimals_keep_error_below_a_quarter_of_the_tolerance(tol, dec):
    assert coordinate_decimals(tol) == dec
    if tol:
        assert 0.5 * 10**-dec * 111_320 <= tol / 4


def test_layer_colours_are_stable_and_distinct():
    keys = ["mrc", "rls", "css", "regions", "ma_couche", "autre"]
    colours = layer_colors(keys)
    assert len(set(colours.values())) == len(keys)
    assert layer_colors(["css"])["css"] == colours["css"]
    assert unit_label("mrc", "en") == "RCM"
    assert unit_label("inconnue") == "inconnue"


def test_bins_and_class_colours():
    edges = bin_edges([0.0, 0.5, 1.0, float("nan")], 4)
    assert edges == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert class_color(0.0, edges) == SEQUENTIAL[0]
    assert class_color(1.0, edges) == SEQUENTIAL[-1]
    assert class_color(float("nan"), edges) == MISSING_COLOR
    assert bin_edges([3.0, 3.0], 2) == [3.0, 3.5, 4.0]
    with pytest.raises(InvalidParameterError, match="between 1 and 7"):
        bin_edges([0.0], 9)
    with pytest.raises(InvalidParameterError, match="increasing"):
        bin_edges([0.0], [0.0, 0.5, 0.4])


def test_html_table_formats_by_language_and_escapes():
    df = pd.DataFrame(
        {
            "nom": ["<b>Laval</b>", "Lévis"],
            "population": [438_366, 149_683],
            "part": [0.61234, np.nan],
        },
        index=pd.Index(["65", "25213"], name="code"),
    )
    fr = html_table(df, caption="Villes")
    assert "&lt;b&gt;Laval&lt;/b&gt;" in fr
    assert "<b>Laval" not in fr
    assert "438\u202f366" in fr
    assert "0,612" in fr
    assert "<caption>Villes</caption>" in fr
    assert "<th>code</th>" in fr
    en = html_table(df, lang="en", index=False, columns={"part": "share"})
    assert "438,366" in en
    assert "0.612" in en
    assert "<th>share</th>" in en
    assert "<th>code</th>" not in en


def test_html_table_truncates_with_a_note():
    df = pd.DataFrame({"x": range(10)})
    out = html_table(df, max_rows=3)
    assert out.count("<tr>") == 1 + 3
    assert "7 ligne(s) de plus" in out
    assert "7 more row(s)" in html_table(df, max_rows=3, lang="en")


def test_html_summary():
    out = html_summary({"Couches": 3, "Seuil": 0.01, "Nom": "a<b"}, title="Atlas")
    assert "<dt>Couches</dt><dd>3</dd>" in out
    assert "a&lt;b" in out
    assert "Atlas" in out
