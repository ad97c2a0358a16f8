"""Properties of the atlas and its crosswalks on generated layers (hypothesis).

Layers are random labellings of one grid (:mod:`_prop_layers`), so they tile the
same square and every crosswalk has an independent reference (cell areas summed
per pair of labels), or seeded :func:`geodecoupage.datasets.synthetic_layers`
with curved borders and cut cells (slivers merged with the default thresholds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _prop_layers import (
    Grid,
    canonical_atoms,
    grids,
    population_cells,
    reference_crosswalk,
    shuffled,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import shapely

from geodecoupage.crs import area_m2
from geodecoupage.datasets import synthetic_layers
from geodecoupage.overlay import Atlas
from geodecoupage.overlay import build_atlas as _build_atlas

FAST = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SLOW = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
RTOL = 1e-6  # equal-area areas of pieces vs wholes: ~1e-8 (docs/methodologie.md)


def build_atlas(layers: Mapping[str, Any], **kwargs: Any) -> Atlas:
    """One kernel thread: tiny layers build 2-3x faster (same result)."""
    return _build_atlas(layers, workers=kwargs.pop("workers", 1), **kwargs)


def _sorted(s: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    return s.sort_index()


@FAST
@given(grids(("a",)))
def test_self_crosswalk_is_the_identity(grid: Grid) -> None:
    layer = grid.layer("a")
    atlas = build_atlas({"a": layer})
    xw = atlas.crosswalk("a", "a")
    src = xw.index.get_level_values("source_code")
    tgt = xw.index.get_level_values("target_code")
    assert list(src) == list(tgt)  # diagonal only
    assert sorted(src) == sorted(layer.index)
    np.testing.assert_allclose(xw["share_of_source"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(xw["share_of_target"], 1.0, rtol=1e-12)
    want = pd.Series(area_m2(layer.geometry), index=layer.index)
    np.testing.assert_allclose(
        xw["area_m2"].to_numpy(), want.loc[list(src)].to_numpy(), rtol=RTOL
    )


@FAST
@given(grids(("a", "b")))
def test_crosswalk_matches_the_cell_reference_and_shares_sum_to_one(
    grid: Grid,
) -> None:
    atlas = build_atlas(grid.layers())
    xw = atlas.crosswalk("a", "b")
    ref = reference_crosswalk(grid, "a", "b")
    assert list(_sorted(xw).index) == list(ref.index)
    np.testing.assert_allclose(
        _sorted(xw)["area_m2"].to_numpy(), ref.to_numpy(), rtol=RTOL
    )
    by_src = xw["share_of_source"].groupby(level=0).sum()
    by_tgt = xw["share_of_target"].groupby(level=1).sum()
    np.testing.assert_allclose(by_src, 1.0, atol=1e-9)
    np.testing.assert_allclose(by_tgt, 1.0, atol=1e-9)
    assert ((xw["share_of_source"] > 0) & (xw["share_of_source"] <= 1 + 1e-12)).all()


@FAST
@given(grids(("a", "b")), st.data())
def test_crosswalk_mirrors_the_reverse_crosswalk(
    grid: Grid, data: st.DataObject
) -> None:
    counts = data.draw(
        st.lists(
            st.integers(0, 5000), min_size=grid.nx * grid.ny, max_size=grid.nx * grid.ny
        )
    )
    atlas = build_atlas(grid.layers(), population=population_cells(grid, counts))
    ab = atlas.crosswalk("a", "b", weight="population")
    ba = atlas.crosswalk("b", "a", weight="population")
    mirrored = ba.swaplevel().sort_index()
    mirrored.index.names = ab.index.names
    ab = ab.sort_index()
    assert list(ab.index) == list(mirrored.index)
    for col in ("area_m2", "population"):
        np.testing.assert_allclose(ab[col], mirrored[col], rtol=1e-12)
    for mine, theirs in (
        ("share_of_source", "share_of_target"),
        ("pop_share_of_source", "pop_share_of_target"),
    ):
        np.testing.assert_allclose(
            ab[mine].to_numpy(), mirrored[theirs].to_numpy(), rtol=1e-12
        )  # NaN (unpopulated unit) on both sides compares equal


@FAST
@given(grids(("a", "b", "c")))
def test_area_is_conserved_through_atoms_units_and_crosswalks(grid: Grid) -> None:
    layers = grid.layers()
    atlas = build_atlas(layers)
    square = shapely.box(*shapely.union_all(grid.cells).bounds)
    total = float(area_m2([square])[0])
    assert atlas.atoms["area_m2"].sum() == pytest.approx(total, rel=RTOL)
    assert atlas.atoms[list(layers)].notna().all().all()  # they tile: no gap
    for key, layer in layers.items():
        totals = atlas.unit_totals(key)["area_m2"]
        want = pd.Series(area_m2(layer.geometry), index=layer.index)
        np.testing.assert_allclose(totals.sort_index(), want.sort_index(), rtol=RTOL)
        for other in layers:
            rows = atlas.crosswalk(key, other)["area_m2"].groupby(level=0).sum()
            np.testing.assert_allclose(rows.sort_index(), want.sort_index(), rtol=RTOL)


@FAST
@given(grids(("a", "b")), st.data())
def test_population_is_conserved_exactly_per_unit(
    grid: Grid, data: st.DataObject
) -> None:
    n = grid.nx * grid.ny
    counts = data.draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n))
    atlas = build_atlas(grid.layers(), population=population_cells(grid, counts))
    assert atlas.atoms["population"].sum() == pytest.approx(sum(counts), abs=1e-6)
    assert float(atlas.params["population_outside"]) == pytest.approx(0.0, abs=1e-6)
    for key in ("a", "b"):
        want = (
            pd.Series(np.asarray(counts, dtype=float), index=list(grid.labels[key]))
            .groupby(level=0)
            .sum()
        )
        got = atlas.unit_totals(key)["population"].sort_index()
        np.testing.assert_allclose(got, want.sort_index(), atol=1e-6)
        xw = atlas.crosswalk(key, "b" if key == "a" else "a", weight="population")
        rows = xw["population"].groupby(level=0).sum().sort_index()
        np.testing.assert_allclose(rows, want.sort_index(), atol=1e-6)


@FAST
@given(grids(("a", "b", "c")), st.permutations(("a", "b", "c")), st.integers(0, 99))
def test_atlas_does_not_depend_on_layer_or_row_order(
    grid: Grid, order: list[str], seed: int
) -> None:
    layers = grid.layers()
    first = build_atlas(layers)
    second = build_atlas(
        {k: shuffled(layers[k], seed + i) for i, k in enumerate(order)},
        workers=None,  # and the default thread count
    )
    keys = ["a", "b", "c"]
    x, y = canonical_atoms(first.atoms, keys), canonical_atoms(second.atoms, keys)
    pd.testing.assert_frame_equal(x[keys], y[keys])
    np.testing.assert_allclose(x["area_m2"], y["area_m2"], rtol=1e-9)
    assert second.layers == tuple(order)
    for a in keys:
        for b in keys:
            pd.testing.assert_frame_equal(
                first.crosswalk(a, b), second.crosswalk(a, b), rtol=1e-9
            )


synthetic = st.builds(
    lambda seed, inc: synthetic_layers(
        40,
        n_layers=2,
        incoherence=inc,
        cells_per_region=(5, 15),
        vertices_per_edge=2,
        roughness=0.4,
        outline=shapely.box(-250_000, 300_000, -230_000, 320_000),
        seed=seed,
    ),
    st.integers(0, 10_000),
    st.sampled_from([0.0, 0.3, 0.8]),
)


@SLOW
@given(synthetic)
def test_tiling_synthetic_layers_shares_sum_to_one_and_slivers_keep_area(
    layers: dict[str, object],
) -> None:
    merged = build_atlas(layers)  # default sliver thresholds
    exact = build_atlas(layers, min_area_m2=0.0, sliver_width_m=0.0)
    assert merged.atoms["area_m2"].sum() == pytest.approx(
        exact.atoms["area_m2"].sum(), rel=1e-9
    )
    for a in merged.layers:
        for b in merged.layers:
            xw = merged.crosswalk(a, b)
            np.testing.assert_allclose(
                xw["share_of_source"].groupby(level=0).sum(), 1.0, atol=1e-9
            )
            np.testing.assert_allclose(
                xw["share_of_target"].groupby(level=1).sum(), 1.0, atol=1e-9
            )
    # a merged sliver moves its own area to a neighbour's units, nothing more
    moved = float(merged.params["sliver_area_m2"])
    for key in merged.layers:
        after = merged.unit_totals(key)["area_m2"]
        before = exact.unit_totals(key)["area_m2"]
        diff = after.reindex(before.index, fill_value=0.0) - before
        assert float(diff.abs().sum()) <= 2 * moved * (1 + 1e-9) + 1e-3


@SLOW
@given(synthetic, st.permutations(("base", "layer1", "layer2")))
def test_synthetic_atlas_with_sliver_merging_does_not_depend_on_layer_order(
    layers: dict[str, object], order: list[str]
) -> None:
    keys = ["base", "layer1", "layer2"]
    first = build_atlas(layers)
    second = build_atlas({k: layers[k] for k in order})
    x, y = canonical_atoms(first.atoms, keys), canonical_atoms(second.atoms, keys)
    pd.testing.assert_frame_equal(x[keys], y[keys])
    np.testing.assert_allclose(x["area_m2"], y["area_m2"], rtol=1e-9)
