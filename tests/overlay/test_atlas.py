"""Atlas invariants on hand-made layers (EPSG:32198, built in code).

The independent reference is ``geopandas.overlay(how="union")`` chained over the
same layers, with areas measured by :func:`geodecoupage.crs.area_m2`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import reduce

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geopandas as gpd
import shapely

from geodecoupage.crs import area_m2
from geodecoupage.errors import (
    InvalidParameterError,
    MissingCRSError,
    UnknownLayerError,
)
from geodecoupage.overlay import Atlas, build_atlas

X0, Y0 = -250_000.0, 300_000.0
KM = 1000.0
CRS = "EPSG:32198"
EXACT = {"min_area_m2": 0.0, "sliver_width_m": 0.0}  # no sliver merging


def kbox(x1: float, y1: float, x2: float, y2: float) -> shapely.Polygon:
    """A box given in km from a point of southern Québec."""
    return shapely.box(X0 + x1 * KM, Y0 + y1 * KM, X0 + x2 * KM, Y0 + y2 * KM)


def layer(
    geoms: Mapping[str, shapely.Geometry], crs: str | None = CRS
) -> gpd.GeoDataFrame:
    codes = list(geoms)
    return gpd.GeoDataFrame(
        {"nom": codes},
        geometry=list(geoms.values()),
        index=pd.Index(codes, name="code"),
        crs=crs,
    )


def grid(
    prefix: str,
    nx: int,
    ny: int,
    *,
    size: float = 1.0,
    dx: float = 0.0,
    dy: float = 0.0,
) -> gpd.GeoDataFrame:
    """nx × ny square cells of *size* km, shifted by (dx, dy) km."""
    return layer(
        {
            f"{prefix}{i}{j}": kbox(
                dx + i * size, dy + j * size, dx + (i + 1) * size, dy + (j + 1) * size
            )
            for i in range(nx)
            for j in range(ny)
        }
    )


def reference(layers: Mapping[str, gpd.GeoDataFrame]) -> pd.Series:
    """Equal-area area per code tuple from chained geopandas.overlay(union)."""
    frames = [
        gpd.GeoDataFrame(
            {k: g.index.astype(str)}, geometry=g.geometry.values, crs=g.crs
        )
        for k, g in layers.items()
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        out = reduce(
            lambda a, b: a.overlay(b, how="union", keep_geom_type=True), frames
        )
    out["area_m2"] = area_m2(out.geometry)
    keys = list(layers)
    out[keys] = out[keys].astype(object).where(out[keys].notna(), "-")
    s = out.groupby(keys)["area_m2"].sum()
    return s[s > 1e-6]


def atlas_areas(atlas: Atlas) -> pd.Series:
    keys = list(atlas.layers)
    a = atlas.atoms.copy()
    a[keys] = a[keys].astype(object).where(a[keys].notna(), "-")
    return a.groupby(keys)["area_m2"].sum()


def assert_same_areas(
    got: pd.Series, want: pd.Series, *, rtol: float, atol: float = 0.0
) -> None:
    got, want = got.sort_index(), want.sort_index()
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=rtol, atol=atol)


@pytest.fixture
def two() -> dict[str, gpd.GeoDataFrame]:
    """A 4×4 grid of 1 km cells and a 2×2 grid of 2 km cells shifted by 0.5 km."""
    return {"a": grid("a", 4, 4), "b": grid("b", 2, 2, size=2.0, dx=0.5)}


# -- reference agreement ---------------------------------------------------------------


def test_atoms_match_geopandas_overlay_on_shifted_grids(two):
    atlas = build_atlas(two, **EXACT)
    assert_same_areas(atlas_areas(atlas), reference(two), rtol=1e-9)


def test_atoms_match_geopandas_overlay_with_hole_multipolygon_and_partial_layer():
    donut = kbox(0, 0, 6, 6).difference(kbox(2, 2, 4, 4))
    islands = shapely.MultiPolygon([kbox(7, 0, 8, 1), kbox(7, 3, 8, 4)])
    a = layer({"d": donut, "i": islands, "h": kbox(2.5, 2.5, 3.5, 3.5)})
    b = layer({"w": kbox(-1, -1, 3, 7), "e": kbox(3, -1, 7.5, 7)})  # misses x > 7.5
    c = grid("c", 3, 3, size=2.5, dx=-0.5, dy=-0.5)
    layers = {"a": a, "b": b, "c": c}
    atlas = build_atlas(layers, **EXACT)
    assert_same_areas(atlas_areas(atlas), reference(layers), rtol=1e-9)
    assert atlas.atoms.is_valid.all()


def test_snapping_moves_areas_by_less_than_half_a_grid_cell_along_borders():
    a = grid("a", 3, 3, size=1.0, dx=0.0003337)
    b = grid("b", 2, 2, size=1.5, dx=0.2471, dy=0.1113)
    layers = {"a": a, "b": b}
    atlas = build_atlas(layers, snap_m=1.0, **EXACT)
    got, want = atlas_areas(atlas), reference(layers)
    assert list(got.sort_index().index) == list(want.sort_index().index)
    # each vertex moves by at most 0.5 m: area moves by less than 0.5 m x perimeter
    perim = 4 * 1500.0
    diff = (got.sort_index() - want.sort_index()).abs()
    assert (diff <= 0.5 * perim).all()
    assert abs(got.sum() - want.sum()) < 0.5 * 4 * 3000.0


# -- crosswalk invariants --------------------------------------------------------------


def test_self_crosswalk_is_identity(two):
    atlas = build_atlas(two, **EXACT)
    xw = atlas.crosswalk("a", "a")
    assert (xw.index.get_level_values(0) == xw.index.get_level_values(1)).all()
    np.testing.assert_allclose(xw["share_of_source"], 1.0)
    np.testing.assert_allclose(xw["share_of_target"], 1.0)
    assert len(xw) == 16


def test_shares_sum_to_one_when_layers_tile():
    layers = {"a": grid("a", 4, 4), "c": grid("c", 3, 3, size=4 / 3)}
    atlas = build_atlas(layers, **EXACT)
    xw = atlas.crosswalk("a", "c")
    np.testing.assert_allclose(
        xw["share_of_source"].groupby(level=0).sum(), 1.0, atol=1e-12
    )
    np.testing.assert_allclose(
        xw["share_of_target"].groupby(level=1).sum(), 1.0, atol=1e-12
    )
    assert atlas.coverage().loc["*", "gap_area_m2"] == 0.0


def test_crosswalk_mirrors_the_reverse_crosswalk(two):
    atlas = build_atlas(two, **EXACT)
    ab = atlas.crosswalk("a", "b", include_gaps=True)
    ba = atlas.crosswalk("b", "a", include_gaps=True)
    swapped = ba.swaplevel().sort_index()
    swapped.index.names = ["source_code", "target_code"]
    swapped = swapped.rename(
        columns={
            "share_of_source": "share_of_target",
            "share_of_target": "share_of_source",
        }
    )[ab.columns]
    pd.testing.assert_frame_equal(
        ab.sort_index(), swapped, check_exact=False, rtol=1e-12
    )


def test_gaps_are_left_out_of_shares_by_default_and_kept_on_request(two):
    atlas = build_atlas(two, **EXACT)
    xw = atlas.crosswalk("b", "a")
    assert not xw.index.to_frame().isna().any().any()
    np.testing.assert_allclose(xw["share_of_source"].groupby(level=0).sum(), 1.0)
    gaps = atlas.crosswalk("b", "a", include_gaps=True)
    missing = gaps.index.get_level_values("target_code").isna()
    assert missing.sum() == 2  # b10 and b11 stick out east of the a grid
    np.testing.assert_allclose(gaps["share_of_source"].groupby(level=0).sum(), 1.0)
    assert gaps.loc[missing, "share_of_source"].round(6).tolist() == [0.25, 0.25]


def test_codes_are_kept_as_published_strings():
    a = layer({"0101": kbox(0, 0, 1, 1), "0102": kbox(1, 0, 2, 1)})
    b = layer({"711000": kbox(0, 0, 2, 1)})
    atlas = build_atlas({"rls": a, "css": b})
    xw = atlas.crosswalk("rls", "css")
    assert list(xw.index) == [("0101", "711000"), ("0102", "711000")]
    assert atlas.atoms["rls"].tolist() == ["0101", "0102"]


# -- conservation ----------------------------------------------------------------------


def test_total_area_is_the_area_of_the_union(two):
    atlas = build_atlas(two)
    union = shapely.union_all(np.concatenate([g.geometry.values for g in two.values()]))
    expected = area_m2([union])[0]
    assert atlas.atoms["area_m2"].sum() == pytest.approx(expected, rel=1e-6)
    assert atlas.params["total_area_m2"] == pytest.approx(expected, rel=1e-6)


def test_atom_geometries_are_valid_and_carry_their_area(two):
    atlas = build_atlas(two, **EXACT)
    atoms = atlas.atoms
    assert atoms.crs == CRS
    assert atoms.is_valid.all()
    np.testing.assert_allclose(area_m2(atoms.geometry), atoms["area_m2"], rtol=1e-9)
    assert atoms["area_m2"].dtype == np.float64
    assert atoms["population"].isna().all()


def test_population_is_conserved_exactly_when_the_surface_is_inside(two):
    surface = gpd.GeoDataFrame(
        {"population": [1000.0, 300.0]},
        geometry=[kbox(0, 0, 2, 4), kbox(2, 0, 4, 2)],
        crs=CRS,
    )
    atlas = build_atlas(two, population=surface)
    assert atlas.atoms["population"].sum() == pytest.approx(1300.0, rel=1e-12)
    assert atlas.params["population_outside"] == pytest.approx(0.0, abs=1e-9)
    # uniform density: cell a00 holds its share of the first polygon's area
    tot = atlas.unit_totals("a")
    share = area_m2([kbox(0, 0, 1, 1)])[0] / area_m2([kbox(0, 0, 2, 4)])[0]
    assert tot.loc["a00", "population"] == pytest.approx(1000.0 * share, rel=1e-6)
    assert tot["population"].sum() == pytest.approx(1300.0, rel=1e-12)


def test_population_outside_every_layer_is_reported(two):
    # the third polygon is 3/4 outside the atlas (east of x = 4.5 km)
    surface = gpd.GeoDataFrame(
        {"population": [1000.0, 300.0, 80.0]},
        geometry=[kbox(0, 0, 2, 4), kbox(2, 0, 4, 2), kbox(4, 2, 6, 4)],
        crs=CRS,
    )
    atlas = build_atlas(two, population=surface, **EXACT)
    assert atlas.atoms["population"].sum() == pytest.approx(1320.0, rel=1e-6)
    assert atlas.params["population_total"] == pytest.approx(1380.0)
    assert atlas.params["population_outside"] == pytest.approx(60.0, rel=1e-5)
    assert atlas.params["population_in_atlas"] + atlas.params[
        "population_outside"
    ] == pytest.approx(1380.0, rel=1e-12)


def test_population_surface_does_not_split_atoms(two):
    surface = gpd.GeoDataFrame(
        {"population": [10.0, 20.0]},
        geometry=[kbox(0, 0, 0.3, 4), kbox(0.3, 0, 4, 4)],
        crs=CRS,
    )
    plain = build_atlas(two, **EXACT)
    with_pop = build_atlas(two, population=surface, **EXACT)
    assert len(with_pop.atoms) == len(plain.atoms)
    np.testing.assert_allclose(with_pop.atoms["area_m2"], plain.atoms["area_m2"])


def test_population_crosswalk_columns_and_shares(two):
    surface = gpd.GeoDataFrame(
        {"population": [100.0]}, geometry=[kbox(0, 0, 4, 4)], crs=CRS
    )
    atlas = build_atlas(two, population=surface)
    xw = atlas.crosswalk("a", "b", weight="population")
    assert list(xw.columns) == [
        "area_m2",
        "share_of_source",
        "share_of_target",
        "population",
        "pop_share_of_source",
        "pop_share_of_target",
    ]
    np.testing.assert_allclose(xw["pop_share_of_source"].groupby(level=0).sum(), 1.0)
    both = atlas.atoms[["a", "b"]].notna().all(axis=1)
    assert xw["population"].sum() == pytest.approx(
        atlas.atoms.loc[both, "population"].sum()
    )
    assert atlas.atoms["population"].sum() == pytest.approx(100.0, rel=1e-12)


def test_population_surface_object_with_polygons_attribute(two):
    class Surface:
        polygons = gpd.GeoDataFrame(
            {"population": [10.0]}, geometry=[kbox(0, 0, 1, 1)], crs=CRS
        )

    atlas = build_atlas(two, population=Surface())
    assert atlas.atoms["population"].sum() == pytest.approx(10.0)


# -- order, number of layers -----------------------------------------------------------


def _canonical(atlas: Atlas, keys: list[str]) -> pd.DataFrame:
    a = pd.DataFrame(atlas.atoms[[*keys, "area_m2", "n_parts"]])
    a[keys] = a[keys].astype(object).where(a[keys].notna(), "-")
    return a.sort_values(keys).reset_index(drop=True)


def test_layer_order_does_not_change_the_atlas():
    layers = {
        "a": grid("a", 4, 4),
        "b": grid("b", 2, 2, size=2.0, dx=0.5),
        "c": grid("c", 3, 2, size=1.7, dx=-0.3, dy=0.2),
    }
    first = build_atlas(layers)
    second = build_atlas({k: layers[k] for k in ("c", "a", "b")})
    keys = ["a", "b", "c"]
    x, y = _canonical(first, keys), _canonical(second, keys)
    pd.testing.assert_frame_equal(x[keys], y[keys])
    np.testing.assert_allclose(x["area_m2"], y["area_m2"], rtol=1e-9)
    assert second.layers == ("c", "a", "b")


def test_twelve_layers_conserve_area_and_match_the_reference_on_four():
    rng = np.random.default_rng(7)
    layers = {
        f"l{k}": grid(
            f"l{k}",
            3,
            3,
            size=1.0,
            dx=float(rng.integers(0, 900)) / 1000,
            dy=float(rng.integers(0, 900)) / 1000,
        )
        for k in range(12)
    }
    atlas = build_atlas(layers, **EXACT)
    union = shapely.union_all(
        np.concatenate([g.geometry.values for g in layers.values()])
    )
    # equal-area areas of pieces and of the whole differ by ~1e-8 (vertices added
    # along straight EPSG:32198 edges): see docs/methodologie.md
    assert atlas.atoms["area_m2"].sum() == pytest.approx(area_m2([union])[0], rel=1e-6)
    for key in layers:
        assert atlas.unit_totals(key)["area_m2"].sum() == pytest.approx(
            area_m2(layers[key].geometry).sum(), rel=1e-6
        )
    four = {k: layers[k] for k in list(layers)[:4]}
    assert_same_areas(
        atlas_areas(build_atlas(four, **EXACT)), reference(four), rtol=1e-9
    )


@settings(max_examples=15, deadline=None)
@given(
    dx=st.integers(0, 999),
    dy=st.integers(0, 999),
    size=st.integers(700, 2500),
    n=st.integers(1, 3),
)
def test_random_shifted_grids_match_the_reference(dx, dy, size, n):
    layers = {
        "a": grid("a", 3, 3),
        "b": grid("b", n, n, size=size / 1000, dx=dx / 1000, dy=dy / 1000),
    }
    atlas = build_atlas(layers, **EXACT)
    assert_same_areas(atlas_areas(atlas), reference(layers), rtol=1e-9, atol=1e-6)
    ab = atlas.crosswalk("a", "b")
    ba = atlas.crosswalk("b", "a")
    np.testing.assert_allclose(
        ab["area_m2"].sort_index().to_numpy(),
        ba["area_m2"].swaplevel().sort_index().to_numpy(),
    )


# -- slivers ---------------------------------------------------------------------------


def offset_pair(offset_m: float) -> dict[str, gpd.GeoDataFrame]:
    """Two layers with the same two units, the second border moved east."""
    a = layer({"w": kbox(0, 0, 5, 5), "e": kbox(5, 0, 10, 5)})
    mid = 5 + offset_m / KM
    b = layer({"W": kbox(0, 0, mid, 5), "E": kbox(mid, 0, 10, 5)})
    return {"a": a, "b": b}


def test_thin_slivers_are_merged_into_the_neighbour_with_the_longest_border():
    layers = offset_pair(3.0)  # a 3 m × 5 km strip: 15 000 m², 1.5e-3 of a unit... thin
    atlas = build_atlas(layers, sliver_share=0.01)
    assert atlas.params["n_slivers"] == 1
    assert atlas.slivers["reason"].tolist() == ["thin"]
    assert atlas.slivers["status"].tolist() == ["merged"]
    xw = atlas.crosswalk("a", "b")
    assert list(xw.index) == [("e", "E"), ("w", "W")]
    union = shapely.union_all(
        np.concatenate([g.geometry.values for g in layers.values()])
    )
    assert atlas.atoms["area_m2"].sum() == pytest.approx(area_m2([union])[0], rel=1e-12)
    # the strip belongs to unit w of a and E of b: it joins (w, W) or (e, E);
    # both share 5 km of border with it, and the total stays the same
    assert atlas.slivers["area_m2"].iloc[0] == pytest.approx(15_000, rel=1e-2)


def test_slivers_are_kept_when_the_tests_are_disabled():
    atlas = build_atlas(offset_pair(3.0), **EXACT)
    assert atlas.params["n_slivers"] == 0
    assert ("e", "W") in atlas.crosswalk("a", "b").index


def test_small_pieces_are_slivers_by_area():
    a = layer({"x": kbox(0, 0, 2, 2)})
    b = layer({"y": kbox(0, 0, 1.995, 2)})  # a 5 m × 2 km strip = 1 ha... of a only
    atlas = build_atlas({"a": a, "b": b}, min_area_m2=20_000, sliver_width_m=0)
    assert atlas.params["n_slivers"] == 1
    assert atlas.slivers["reason"].iloc[0] == "area"
    assert len(atlas.atoms) == 1
    assert atlas.atoms.iloc[0][["a", "b"]].tolist() == ["x", "y"]


def test_isolated_sliver_is_kept_and_reported():
    # the islet (0.25 ha) is a detached part of unit x, touching nothing
    x = shapely.union(kbox(0, 0, 2, 2), kbox(5, 5, 5.05, 5.05))
    a = layer({"x": x})
    b = layer({"y": kbox(0, 0, 2, 2)})
    atlas = build_atlas({"a": a, "b": b})
    assert atlas.params["n_slivers_isolated"] == 1
    assert atlas.params["n_units_kept_whole"] == 0
    row = atlas.slivers.iloc[0]
    assert row["status"] == "isolated"
    assert row["a"] == "x"
    assert row["b"] is None
    assert row["into_atom"] == -1
    assert len(atlas.atoms) == 2  # (x, y) and the islet (x, —)


def test_a_unit_smaller_than_min_area_is_kept_whole_not_a_sliver():
    a = layer({"x": kbox(0, 0, 2, 2), "islet": kbox(5, 5, 5.05, 5.05)})  # 0.25 ha
    b = layer({"y": kbox(0, 0, 2, 2)})
    atlas = build_atlas({"a": a, "b": b})
    assert atlas.params["n_slivers"] == 0
    assert atlas.params["n_units_kept_whole"] == 1
    assert "islet" in set(atlas.atoms["a"])


def test_large_but_thin_piece_that_is_a_big_share_of_its_unit_is_not_a_sliver():
    # unit "strip" is 10 m wide and 10 km long: thin, but 100 % of its unit
    a = layer({"strip": kbox(0, 0, 10, 0.01), "rest": kbox(0, 0.01, 10, 5)})
    b = layer({"all": kbox(0, 0, 10, 5)})
    atlas = build_atlas({"a": a, "b": b})
    assert "strip" in set(atlas.atoms["a"])
    assert atlas.params["n_slivers"] == 0


# -- land mask -------------------------------------------------------------------------


def test_land_mask_clips_every_atom(two):
    mask = gpd.GeoDataFrame(geometry=[kbox(0, 0, 3, 3)], crs=CRS)
    atlas = build_atlas(two, land_mask=mask, **EXACT)
    assert atlas.atoms["area_m2"].sum() == pytest.approx(
        area_m2(mask.geometry).sum(), rel=1e-6
    )
    assert atlas.atoms.geometry.union_all().difference(mask.union_all()).area < 1e-6
    assert atlas.params["land_mask"] is True


def test_land_mask_in_another_crs_is_reprojected(two):
    mask = gpd.GeoDataFrame(geometry=[kbox(0, 0, 3, 3)], crs=CRS).to_crs("EPSG:4326")
    atlas = build_atlas(two, land_mask=mask)
    assert atlas.atoms["area_m2"].sum() == pytest.approx(
        area_m2([kbox(0, 0, 3, 3)])[0], rel=1e-6
    )


# -- coverage, unit totals -------------------------------------------------------------


def test_coverage_reports_gaps_per_layer(two):
    atlas = build_atlas(two, **EXACT)
    cov = atlas.coverage()
    assert list(cov.index) == ["a", "b", "*"]
    total = atlas.atoms["area_m2"].sum()
    a_gap = atlas.atoms.loc[atlas.atoms["a"].isna(), "area_m2"].sum()
    assert cov.loc["a", "gap_area_m2"] == pytest.approx(a_gap)
    assert cov.loc["a", "area_m2"] + cov.loc["a", "gap_area_m2"] == pytest.approx(total)
    assert cov.loc["b", "covered_share"] == pytest.approx(16 / 18, rel=1e-3)
    assert cov.loc["*", "n_gap_atoms"] == 6


def test_unit_totals_sum_to_the_layer_area(two):
    atlas = build_atlas(two, **EXACT)
    tot = atlas.unit_totals("b")
    assert list(tot.columns) == ["area_m2", "population", "n_atoms", "gap_area_m2"]
    assert tot["area_m2"].sum() == pytest.approx(area_m2(two["b"].geometry).sum())
    assert tot.loc["b10", "gap_area_m2"] == pytest.approx(
        area_m2([kbox(4, 0, 4.5, 2)])[0], rel=1e-6
    )


def test_layer_with_code_column_and_duplicate_codes():
    a = gpd.GeoDataFrame(
        {"code": ["u", "u", "v"]},
        geometry=[kbox(0, 0, 1, 1), kbox(1, 0, 2, 1), kbox(2, 0, 3, 1)],
        crs=CRS,
    )
    b = layer({"all": kbox(0, 0, 3, 1)})
    atlas = build_atlas({"mine": a, "b": b})
    assert sorted(atlas.atoms["mine"]) == ["u", "v"]
    assert atlas.unit_totals("mine").loc["u", "n_atoms"] == 1


def test_overlapping_units_of_one_layer_are_counted_once():
    a = layer({"p": kbox(0, 0, 2, 1), "q": kbox(1, 0, 3, 1)})  # overlap 1 km²
    b = layer({"all": kbox(0, 0, 3, 1)})
    atlas = build_atlas({"a": a, "b": b})
    assert atlas.atoms["area_m2"].sum() == pytest.approx(area_m2([kbox(0, 0, 3, 1)])[0])
    assert atlas.params["self_overlap_area_m2"]["a"] == pytest.approx(1e6, rel=1e-6)
    assert sorted(atlas.atoms["a"]) == ["p", "q"]


def test_layer_in_lon_lat_is_reprojected(two):
    b = two["b"].to_crs("EPSG:4326")
    atlas = build_atlas({"a": two["a"], "b": b})
    assert atlas.atoms.crs == CRS
    assert (
        atlas.crosswalk("a", "b")["share_of_source"]
        .groupby(level=0)
        .sum()
        .round(6)
        .eq(1)
        .all()
    )


# -- errors ----------------------------------------------------------------------------


def test_unknown_layer_in_crosswalk_names_the_atlas_layers(two):
    atlas = build_atlas(two)
    with pytest.raises(
        UnknownLayerError, match=r"'rls' is not in this atlas; it holds a, b"
    ):
        atlas.crosswalk("a", "rls")
    with pytest.raises(UnknownLayerError, match="not in this atlas"):
        atlas.unit_totals("css")


def test_bad_weight_is_refused(two):
    atlas = build_atlas(two)
    with pytest.raises(
        InvalidParameterError, match="weight must be 'area' or 'population'"
    ):
        atlas.crosswalk("a", "b", weight="people")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"snap_m": 0}, "snap_m must be a finite number > 0"),
        ({"snap_m": float("nan")}, "snap_m must be a finite number > 0"),
        ({"min_area_m2": -1}, "min_area_m2 must be a finite number >= 0"),
        ({"sliver_width_m": "wide"}, "sliver_width_m must be a number"),
        ({"max_load": 3}, "max_load must be an integer >= 16"),
    ],
)
def test_bad_parameters_are_refused(two, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        build_atlas(two, **kwargs)


def test_empty_and_malformed_layer_mappings_are_refused(two):
    with pytest.raises(InvalidParameterError, match="non-empty mapping"):
        build_atlas({})
    with pytest.raises(InvalidParameterError, match="must be a GeoDataFrame"):
        build_atlas({"a": two["a"], "b": "rls.shp"})  # type: ignore[dict-item]
    with pytest.raises(InvalidParameterError, match="Invalid layer key 'area_m2'"):
        build_atlas({"a": two["a"], "area_m2": two["b"]})


def test_layer_without_crs_is_refused(two):
    with pytest.raises(MissingCRSError, match="b has no CRS"):
        build_atlas({"a": two["a"], "b": two["b"].set_crs(None, allow_override=True)})


def test_bad_population_and_mask_are_refused(two):
    with pytest.raises(InvalidParameterError, match="'population' column"):
        build_atlas(
            two, population=gpd.GeoDataFrame(geometry=[kbox(0, 0, 1, 1)], crs=CRS)
        )
    with pytest.raises(InvalidParameterError, match="bare shapely geometry"):
        build_atlas(two, land_mask=kbox(0, 0, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="GeoDataFrame or GeoSeries"):
        build_atlas(two, land_mask="land.shp")  # type: ignore[arg-type]


def test_single_layer_atlas_is_the_layer_itself(two):
    atlas = build_atlas({"a": two["a"]})
    assert len(atlas.atoms) == 16
    np.testing.assert_allclose(
        atlas.atoms.set_index("a")["area_m2"].sort_index(),
        area_m2(two["a"].geometry.sort_index()),
    )


def test_repr_and_params_record_the_choices(two):
    atlas = build_atlas(two, snap_m=0.5, min_area_m2=100.0)
    assert "Atlas(layers=('a', 'b')" in repr(atlas)
    for key in ("snap_m", "min_area_m2", "sliver_width_m", "sliver_share", "area_crs"):
        assert key in atlas.params
    assert atlas.params["snap_m"] == 0.5
