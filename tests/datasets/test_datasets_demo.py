"""Tests of the generated demo territory and of get_path."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import pyogrio
import pyproj
import shapely

from geodecoupage import datasets
from geodecoupage.crs import QUEBEC_BOUNDS_LONLAT, area_m2
from geodecoupage.datasets import (
    ATTRIBUTION,
    DEMO_EXPECTED,
    DEMO_KEYS,
    demo_layers,
    demo_population,
    get_path,
)
from geodecoupage.datasets import demo as demo_module
from geodecoupage.errors import InvalidParameterError
from geodecoupage.layers.validate import validate_layer

TOL = 6e-5  # expected shares are rounded to 4 decimals

PARENTS = {
    "regions": [],
    "mrc": ["regions_code"],
    "municipalites": ["mrc_code", "regions_code"],
    "rls": [],
    "css": [],
}


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return demo_layers()


def _pieces(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> pd.DataFrame:
    """Independent overlay: equal-area area of every a x b intersection."""
    ga = np.asarray(a.geometry.array)
    gb = np.asarray(b.geometry.array)
    i, j = np.meshgrid(np.arange(len(ga)), np.arange(len(gb)), indexing="ij")
    inter = shapely.intersection(ga[i.ravel()], gb[j.ravel()])
    out = pd.DataFrame(
        {
            "a": a.index[i.ravel()],
            "b": b.index[j.ravel()],
            "area": area_m2(inter),
        }
    )
    out = out[out["area"] > 1.0]  # > 1 m²: no floating-point dust
    out["share"] = out["area"] / out.groupby("a")["area"].transform("sum")
    return out


def _split(pieces: pd.DataFrame) -> dict[str, dict[str, float]]:
    multi = pieces[pieces.groupby("a")["b"].transform("count") > 1]
    return {
        str(a): dict(zip(g["b"], g["share"], strict=True))
        for a, g in multi.groupby("a")
    }


def _assert_shares(
    got: dict[str, dict[str, float]], want: object, *, tol: float = TOL
) -> None:
    assert isinstance(want, dict | type(DEMO_EXPECTED.counts))
    assert sorted(got) == sorted(want)  # type: ignore[arg-type]
    for unit, shares in got.items():
        expected = want[unit]  # type: ignore[index]
        assert sorted(shares) == sorted(expected), unit
        for code, share in shares.items():
            assert share == pytest.approx(expected[code], abs=tol), (unit, code)


def test_demo_has_the_documented_layers_and_counts(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    assert tuple(layers) == DEMO_KEYS
    assert {k: len(v) for k, v in layers.items()} == dict(DEMO_EXPECTED.counts)


@pytest.mark.parametrize("key", DEMO_KEYS)
def test_demo_layers_follow_the_canonical_schema(
    layers: dict[str, gpd.GeoDataFrame], key: str
) -> None:
    gdf = layers[key]
    assert gdf.crs == "EPSG:32198"
    assert gdf.index.name == "code"
    assert gdf.index.is_unique
    assert all(isinstance(c, str) for c in gdf.index)
    assert list(gdf.columns) == ["nom", "layer", *PARENTS[key], "geometry"]
    assert (gdf["layer"] == key).all()
    assert gdf.attrs["layer"] == key
    assert gdf.attrs["attribution"] == ATTRIBUTION
    assert {"vintage", "title_fr", "title_en", "source_path", "sha256"} <= set(
        gdf.attrs
    )
    assert set(gdf.geom_type) == {"Polygon"}
    # the project's own validator, tiling checks included, finds nothing
    assert validate_layer(gdf, name=key, tiles=True) == []


@pytest.mark.parametrize("key", DEMO_KEYS)
def test_every_demo_layer_tiles_the_same_rectangle(
    layers: dict[str, gpd.GeoDataFrame], key: str
) -> None:
    x0, y0 = -336_000.0, 166_000.0
    rectangle = shapely.box(x0, y0, x0 + 96_000.0, y0 + 72_000.0)
    geoms = np.asarray(layers[key].geometry.array)
    assert bool(shapely.coverage_is_valid(geoms))
    assert shapely.union_all(geoms).equals(rectangle)
    assert float(shapely.area(geoms).sum()) == pytest.approx(rectangle.area, rel=1e-12)


def test_demo_lies_in_southern_quebec(layers: dict[str, gpd.GeoDataFrame]) -> None:
    to_lonlat = pyproj.Transformer.from_crs("EPSG:32198", "EPSG:4326", always_xy=True)
    x0, y0, x1, y1 = layers["regions"].total_bounds
    lon, lat = to_lonlat.transform([x0, x0, x1, x1], [y0, y1, y0, y1])
    west, south, east, north = QUEBEC_BOUNDS_LONLAT
    assert all(west < v < east for v in lon)
    assert all(south < v < north for v in lat)
    assert min(lat) > 45.3  # north of the border with the United States
    assert max(lat) < 46.2  # between Drummondville and Sherbrooke
    assert all(-73.0 < v < -71.4 for v in lon)


def test_municipalities_nest_in_mrc_and_mrc_in_regions(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    munis, mrc = layers["municipalites"], layers["mrc"]
    pieces = _pieces(munis, mrc)
    assert _split(pieces) == {}
    parent = pieces.set_index("a")["b"].sort_index()
    assert parent.tolist() == munis["mrc_code"].sort_index().tolist()
    pieces = _pieces(mrc, layers["regions"])
    assert _split(pieces) == {}
    assert (
        pieces.set_index("a")["b"].sort_index().tolist()
        == mrc["regions_code"].sort_index().tolist()
    )
    assert munis["regions_code"].tolist() == (
        mrc["regions_code"].reindex(munis["mrc_code"]).tolist()
    )


@pytest.mark.parametrize("key", ["rls", "css"])
def test_municipality_splits_are_the_documented_ones(
    layers: dict[str, gpd.GeoDataFrame], key: str
) -> None:
    got = _split(_pieces(layers["municipalites"], layers[key]))
    _assert_shares(got, DEMO_EXPECTED.municipality_splits[key])


@pytest.mark.parametrize("key", ["rls", "css"])
def test_mrc_splits_nesting_and_straddles_are_the_documented_ones(
    layers: dict[str, gpd.GeoDataFrame], key: str
) -> None:
    pieces = _pieces(layers["mrc"], layers[key])
    _assert_shares(_split(pieces), DEMO_EXPECTED.mrc_splits[key])
    single = pieces[pieces.groupby("a")["b"].transform("count") == 1]
    assert dict(zip(single["a"], single["b"], strict=True)) == dict(
        DEMO_EXPECTED.mrc_nested[key]
    )
    touching = pieces.groupby("b")["a"].apply(lambda s: tuple(sorted(s)))
    assert touching[touching.map(len) > 1].to_dict() == dict(
        DEMO_EXPECTED.straddling[key]
    )


@pytest.mark.parametrize("key", ["rls", "css"])
def test_mrc_population_splits_follow_uniform_density(
    layers: dict[str, gpd.GeoDataFrame], key: str
) -> None:
    pop = demo_population()
    pieces = _pieces(pop, layers[key])
    pieces["population"] = (
        pieces["share"] * pop["population"].reindex(pieces["a"]).to_numpy()
    )
    pieces["mrc"] = layers["municipalites"]["mrc_code"].reindex(pieces["a"]).to_numpy()
    by_mrc = pieces.groupby(["mrc", "b"])["population"].sum()
    shares = by_mrc / by_mrc.groupby(level=0).transform("sum")
    got: dict[str, dict[str, float]] = {}
    for (mrc, unit), share in shares.items():
        got.setdefault(str(mrc), {})[str(unit)] = float(share)
    got = {m: s for m, s in got.items() if len(s) > 1}
    _assert_shares(got, DEMO_EXPECTED.mrc_population_splits[key])


def test_the_sliver_is_below_one_percent_and_the_other_cuts_are_not() -> None:
    shares = [
        min(s.values())
        for layer in DEMO_EXPECTED.municipality_splits.values()
        for s in layer.values()
    ]
    assert sum(s < 0.01 for s in shares) == 1
    assert min(shares) > 0.001


def test_population_surface_matches_the_municipalities(
    layers: dict[str, gpd.GeoDataFrame],
) -> None:
    pop = demo_population()
    munis = layers["municipalites"]
    assert pop.index.equals(munis.index)
    assert pop.crs == "EPSG:32198"
    assert pop["population"].dtype == "float64"
    values = pop["population"].to_numpy()
    assert (values == np.round(values)).all()
    assert (values > 0).all()
    assert int(values.sum()) == DEMO_EXPECTED.total_population
    assert pop.geometry.geom_equals_exact(munis.geometry, tolerance=0).all()
    assert pop.attrs["attribution"] == ATTRIBUTION


def test_demo_is_deterministic_and_returns_new_objects() -> None:
    one, two = demo_layers(), demo_layers()
    for key in DEMO_KEYS:
        assert one[key] is not two[key]
        pd.testing.assert_frame_equal(
            one[key].drop(columns="geometry"), two[key].drop(columns="geometry")
        )
        assert one[key].geometry.geom_equals_exact(two[key].geometry, 0).all()
    one["mrc"].loc["991", "nom"] = "changed"
    one["mrc"].attrs["layer"] = "changed"
    fresh = demo_layers()["mrc"]
    assert fresh.loc["991", "nom"] == "MRC des Aulnes"
    assert fresh.attrs["layer"] == "mrc"


def test_demo_expected_is_read_only() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEMO_EXPECTED.total_population = 0  # type: ignore[misc]
    with pytest.raises(TypeError):
        DEMO_EXPECTED.mrc_splits["rls"]["992"]["9101"] = 1.0  # type: ignore[index]


def _percent(share: float) -> str:
    return f"{share * 100:.2f} %"


def test_module_docstring_tables_match_demo_expected() -> None:
    doc = re.sub(r"\s+", " ", demo_module.__doc__ or "")
    for table in (DEMO_EXPECTED.municipality_splits, DEMO_EXPECTED.mrc_splits):
        for layer, units in table.items():
            for unit, shares in units.items():
                row = ", ".join(f"{c}: {_percent(s)}" for c, s in shares.items())
                assert f"{layer} {unit}" in doc
                assert row in doc, (layer, unit, row)


def test_get_path_writes_a_geopackage_once(tmp_path: Path) -> None:
    path = get_path("demo", directory=tmp_path)
    assert path.parent == tmp_path
    assert path.suffix == ".gpkg"
    assert sorted(pyogrio.list_layers(path)[:, 0]) == sorted([*DEMO_KEYS, "population"])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left
    mtime = path.stat().st_mtime_ns
    assert get_path("demo", directory=tmp_path) == path
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    layers = demo_layers()
    for key in DEMO_KEYS:
        read = gpd.read_file(path, layer=key).set_index("code")
        assert read.crs == "EPSG:32198"
        assert read.index.tolist() == layers[key].index.tolist()
        assert read["nom"].tolist() == layers[key]["nom"].tolist()
        assert read.geometry.geom_equals_exact(
            layers[key].geometry.reindex(read.index), tolerance=1e-6
        ).all()
    info = pyogrio.read_info(path, layer="mrc")
    assert info["layer_metadata"]["attribution"] == ATTRIBUTION
    pop = gpd.read_file(path, layer="population")
    assert pop["population"].sum() == DEMO_EXPECTED.total_population


def test_get_path_defaults_to_the_user_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "cache_dir", lambda: tmp_path / "cache")
    path = get_path()
    assert path.parent == tmp_path / "cache"
    assert path.is_file()


def test_get_path_refuses_an_unknown_dataset(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"Unknown dataset 'mrc'.*demo"):
        get_path("mrc", directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_get_path_file_reads_as_a_territory(tmp_path: Path) -> None:
    from geodecoupage.layers.territory import read_territory

    path = get_path("demo", directory=tmp_path)
    mrc = read_territory(path, code_col="code", name_col="nom", layer="mrc", key="mrc")
    assert sorted(mrc.index) == sorted(demo_layers()["mrc"].index)
    assert mrc.loc["993", "nom"] == "MRC de la Rivière-Claire"
