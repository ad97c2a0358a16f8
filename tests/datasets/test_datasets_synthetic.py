"""Tests of the seeded synthetic layer generator."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import pyproj
import shapely

from geodecoupage.crs import QUEBEC_BOUNDS_LONLAT
from geodecoupage.datasets.synthetic import (
    ATTRIBUTION,
    DEFAULT_OUTLINE_BOUNDS,
    _Field,
    synthetic_layers,
)
from geodecoupage.errors import InvalidParameterError

OUTLINE_AREA = (DEFAULT_OUTLINE_BOUNDS[2] - DEFAULT_OUTLINE_BOUNDS[0]) * (
    DEFAULT_OUTLINE_BOUNDS[3] - DEFAULT_OUTLINE_BOUNDS[1]
)


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return synthetic_layers(1500, n_layers=3, incoherence=0.2, seed=7)


def _pieces(small: gpd.GeoDataFrame, big: gpd.GeoDataFrame) -> pd.DataFrame:
    """Independent overlay: area of every (small, big) intersection > 0."""
    a = np.asarray(small.geometry.array)
    b = np.asarray(big.geometry.array)
    i, j = shapely.STRtree(b).query(a, predicate="intersects")
    area = shapely.area(shapely.intersection(a[i], b[j]))
    out = pd.DataFrame(
        {
            "small": small.index[i],
            "big": big.index[j],
            "area": area,
            "share": area / shapely.area(a[i]),
        }
    )
    return out[out["area"] > 0]


def _overlap_area(gdf: gpd.GeoDataFrame) -> float:
    g = np.asarray(gdf.geometry.array)
    i, j = shapely.STRtree(g).query(g, predicate="intersects")
    keep = i < j
    return float(shapely.area(shapely.intersection(g[i[keep]], g[j[keep]])).sum())


def test_same_seed_gives_identical_layers() -> None:
    one = synthetic_layers(300, n_layers=2, seed=3)
    two = synthetic_layers(300, n_layers=2, seed=3)
    other = synthetic_layers(300, n_layers=2, seed=4)
    assert list(one) == list(two) == ["base", "layer1", "layer2"]
    for key in one:
        pd.testing.assert_frame_equal(
            one[key].drop(columns="geometry"), two[key].drop(columns="geometry")
        )
        assert (
            shapely.to_wkb(one[key].geometry.array)
            == shapely.to_wkb(two[key].geometry.array)
        ).all()
    assert not np.array_equal(
        shapely.get_coordinates(one["base"].geometry.array)[:50],
        shapely.get_coordinates(other["base"].geometry.array)[:50],
    )


def test_counts_are_exact_on_the_default_square(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    assert {k: len(v) for k, v in layers.items()} == {
        "base": 1500,
        "layer1": 150,
        "layer2": 38,  # round(1500 / 40)
        "layer3": 9,  # round(1500 / 160)
    }


@pytest.mark.parametrize("key", ["base", "layer1", "layer2", "layer3"])
def test_every_layer_tiles_the_outline(
    layers: dict[str, gpd.GeoDataFrame], key: str
) -> None:
    gdf = layers[key]
    assert gdf.is_valid.all()
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    total = float(shapely.area(gdf.geometry.array).sum())
    assert total == pytest.approx(OUTLINE_AREA, rel=1e-9)
    assert _overlap_area(gdf) <= 1e-9 * OUTLINE_AREA
    assert bool(shapely.coverage_is_valid(np.asarray(gdf.geometry.array)))
    union = shapely.union_all(np.asarray(gdf.geometry.array))
    assert union.equals(shapely.box(*DEFAULT_OUTLINE_BOUNDS))


def test_layers_follow_the_canonical_schema(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    for key, gdf in layers.items():
        assert gdf.crs == "EPSG:32198"
        assert gdf.index.name == "code"
        assert gdf.index.is_unique
        assert all(isinstance(c, str) for c in gdf.index)
        assert (gdf["layer"] == key).all()
        assert gdf["nom"].map(type).eq(str).all()
        assert gdf.attrs["layer"] == key
        assert gdf.attrs["attribution"] == ATTRIBUTION
        assert gdf.attrs["params"]["seed"] == 7
        if key != "base":
            assert all(c.startswith(key[-1]) for c in gdf.index)
    base = layers["base"]
    for k in (1, 2, 3):
        assert base[f"layer{k}_code"].isin(layers[f"layer{k}"].index).all()


def test_default_square_lies_in_southern_quebec() -> None:
    to_lonlat = pyproj.Transformer.from_crs("EPSG:32198", "EPSG:4326", always_xy=True)
    x0, y0, x1, y1 = DEFAULT_OUTLINE_BOUNDS
    lon, lat = to_lonlat.transform([x0, x0, x1, x1], [y0, y1, y0, y1])
    west, south, east, north = QUEBEC_BOUNDS_LONLAT
    assert all(west < v < east for v in lon)
    assert all(south < v < north for v in lat)
    assert min(lat) > 45.3  # north of the 45th parallel border with the US
    assert max(lat) < 47.6  # south of the St. Lawrence estuary's north shore


@pytest.mark.parametrize("key", ["layer1", "layer2"])
def test_zero_incoherence_nests_every_layer_in_the_base_cells(key: str) -> None:
    layers = synthetic_layers(800, n_layers=2, incoherence=0.0, seed=11)
    base = layers["base"]
    pieces = _pieces(base, layers[key])
    # the only pieces are whole cells in their recorded parent
    big = pieces[pieces["share"] > 1e-9]
    assert len(big) == len(base)
    parent = big.set_index("small")["big"].sort_index()
    assert parent.index.tolist() == sorted(base.index)
    assert parent.tolist() == base[f"{key}_code"].sort_index().tolist()
    assert big["share"].to_numpy() == pytest.approx(1.0, abs=1e-9)
    # and each region is exactly the union of its cells
    dissolved = base.dissolve(by=f"{key}_code")
    for code in layers[key].index[:10]:
        assert dissolved.geometry[code].equals(layers[key].geometry[code])


def _split_share(layers: dict[str, gpd.GeoDataFrame], key: str) -> float:
    pieces = _pieces(layers["base"], layers[key])
    pieces = pieces[pieces["share"] > 1e-6]
    n_parts = pieces.groupby("small").size()
    return float((n_parts > 1).mean())


def test_split_share_grows_with_incoherence() -> None:
    shares = []
    for p in (0.0, 0.1, 0.4, 1.0):
        layers = synthetic_layers(800, n_layers=1, incoherence=p, seed=5)
        shares.append(_split_share(layers, "layer1"))
    assert shares[0] == 0.0
    assert all(a < b for a, b in itertools.pairwise(shares))
    # close to p x (share of border cells): about 0.8 at 10 cells per region
    assert 0.1 * 0.5 < shares[1] < 0.1 * 1.0
    assert shares[-1] > 0.4


def test_parent_code_is_the_region_holding_the_larger_part(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    base = layers["base"]
    pieces = _pieces(base, layers["layer1"])
    dominant = pieces.sort_values("area").groupby("small")["big"].last()
    assert dominant.sort_index().tolist() == base["layer1_code"].sort_index().tolist()
    totals = pieces.groupby("small")["share"].sum().to_numpy()
    assert totals == pytest.approx(np.ones(len(base)), abs=1e-9)


def test_vertices_per_edge_multiplies_the_vertex_count() -> None:
    one = synthetic_layers(200, n_layers=0, vertices_per_edge=1, seed=2)["base"]
    five = synthetic_layers(200, n_layers=0, vertices_per_edge=5, seed=2)["base"]
    n1 = shapely.get_num_coordinates(one.geometry.array) - 1  # closing vertex
    n5 = shapely.get_num_coordinates(five.geometry.array) - 1
    assert (n5 == 5 * n1).all()


def test_roughness_bends_edges_without_breaking_the_tiling() -> None:
    flat = synthetic_layers(300, n_layers=1, roughness=0.0, seed=9)
    bent = synthetic_layers(300, n_layers=1, roughness=0.9, seed=9)
    a = shapely.get_coordinates(flat["base"].geometry.array)
    b = shapely.get_coordinates(bent["base"].geometry.array)
    assert a.shape == b.shape
    assert np.abs(a - b).max() > 10.0
    for layers in (flat, bent):
        for gdf in layers.values():
            assert gdf.is_valid.all()
            assert float(gdf.area.sum()) == pytest.approx(OUTLINE_AREA, rel=1e-9)
            assert _overlap_area(gdf) <= 1e-9 * OUTLINE_AREA


@pytest.mark.parametrize("roughness", [0.3, 0.9])
def test_displacement_field_is_a_contraction(roughness: float) -> None:
    cell = 2000.0
    field = _Field(
        np.random.default_rng(0), DEFAULT_OUTLINE_BOUNDS, cell, cell / 12, roughness
    )
    assert field.lipschitz <= 0.95
    rng = np.random.default_rng(1)
    x0, y0, x1, y1 = DEFAULT_OUTLINE_BOUNDS
    p = rng.uniform((x0, y0), (x1, y1), size=(20_000, 2))
    p[:5000, 0] = x0 + rng.uniform(0, 3 * cell, 5000)  # the taper band too
    q = p + rng.normal(scale=cell / 50, size=p.shape)
    shift = (field(q) - q) - (field(p) - p)
    ratio = np.hypot(*shift.T) / np.hypot(*(q - p).T)
    assert ratio.max() <= field.lipschitz
    assert ratio.max() > 0.3 * roughness  # the bound is not vacuous
    # and the border of the rectangle does not move
    edge = np.column_stack([np.full(100, x0), np.linspace(y0, y1, 100)])
    assert np.array_equal(field(edge), edge)


def test_custom_outline_is_partitioned() -> None:
    lonlat = shapely.Point(-71.9, 45.4).buffer(0.3, quad_segs=8)  # near Sherbrooke
    outline = gpd.GeoSeries([lonlat], crs="EPSG:4326")
    layers = synthetic_layers(400, n_layers=2, outline=outline, seed=1)
    target = outline.to_crs("EPSG:32198").iloc[0]
    for gdf in layers.values():
        assert gdf.is_valid.all()
        assert float(gdf.area.sum()) == pytest.approx(target.area, rel=1e-6)
        assert _overlap_area(gdf) <= 1e-6 * target.area
        assert gdf.within(target.buffer(1e-3)).all()
    assert 390 <= len(layers["base"]) <= 400


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_base": 1}, "n_base must be an integer >= 2"),
        ({"n_base": 100, "incoherence": 1.5}, r"incoherence must be in \[0, 1\]"),
        ({"n_base": 100, "vertices_per_edge": 0}, "vertices_per_edge must be"),
        ({"n_base": 100, "roughness": 1.0}, r"roughness must be in \[0, 0.9\]"),
        ({"n_base": 100, "cells_per_region": [5.0]}, "has 1 values for n_layers=3"),
        ({"n_base": 100, "outline": "square"}, "outline must be a shapely"),
        (
            {"n_base": 100, "outline": shapely.LineString([(0, 0), (1, 1)])},
            "valid, non-empty Polygon",
        ),
    ],
)
def test_bad_parameters_are_refused_with_a_clear_message(
    kwargs: dict[str, object], match: str
) -> None:
    n = kwargs.pop("n_base")
    with pytest.raises(InvalidParameterError, match=match):
        synthetic_layers(n, **kwargs)  # type: ignore[arg-type]
