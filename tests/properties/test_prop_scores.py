"""Properties of the scores and groupings computed from generated atlases (hypothesis).

Every score goes through the atlas built from code-generated layers
(:mod:`_prop_layers`), so these are end-to-end checks of
:func:`geodecoupage.metrics.audit` and :func:`geodecoupage.grouping.reassign`; the
table-level versions live in ``tests/metrics`` and ``tests/grouping``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _prop_layers import (
    Grid,
    grids,
    nested_grids,
    population_cells,
    relabel,
    shuffled,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geodecoupage.grouping import reassign
from geodecoupage.metrics import AuditResult, audit, pair_scores
from geodecoupage.overlay import Atlas
from geodecoupage.overlay import build_atlas as _build_atlas

FAST = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
SLOW = settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
THRESHOLDS = (0.05,)  # the audit itself runs at 0.01


def build_atlas(layers: Mapping[str, Any], **kwargs: Any) -> Atlas:
    """One kernel thread: tiny layers build 2-3x faster (same result)."""
    return _build_atlas(layers, workers=1, **kwargs)


def counts_for(grid: Grid) -> st.SearchStrategy[list[int]]:
    n = grid.nx * grid.ny
    return st.lists(st.integers(0, 3000), min_size=n, max_size=n)


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    cols = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) or frame[c].dtype == "boolean"
    ]
    out = frame[cols].astype("float64")
    names = list(out.index.names)
    flat = out.reset_index()
    flat[names] = flat[names].astype(object)
    return flat.set_index(names).sort_index()


# -- identity and bounds ------------------------------------------------------------


@FAST
@given(grids(("a",)), st.data())
def test_a_layer_against_its_copy_has_vi_zero_and_nmi_one(
    grid: Grid, data: st.DataObject
) -> None:
    layer = grid.layer("a")
    counts = data.draw(counts_for(grid))
    atlas = build_atlas(
        {"a": layer, "copy": layer.copy()}, population=population_cells(grid, counts)
    )
    row = pair_scores(atlas, "a", "copy")
    for suffix in ("area",) + (("pop",) if sum(counts) > 0 else ()):
        assert row[f"vi_{suffix}"] == 0.0
        assert row[f"nmi_{suffix}"] == 1.0
        assert row[f"v_measure_{suffix}"] == 1.0
        assert row[f"h_b_given_a_{suffix}"] == 0.0
        assert row[f"h_a_given_b_{suffix}"] == 0.0
    assert row["n_split"] == 0
    assert row["nesting_index_count"] == 1.0
    assert row["nesting_index_area"] == 1.0
    assert row["rn_area"] == pytest.approx(1.0, abs=1e-12)
    assert row["coverage_a"] == pytest.approx(1.0, abs=1e-12)
    if row["internal_boundary_km"] > 0:
        assert row["boundary_coincidence"] == pytest.approx(1.0, abs=1e-12)


@FAST
@given(grids(("a", "b")), st.data())
def test_scores_stay_in_their_bounds_and_vi_nmi_are_symmetric(
    grid: Grid, data: st.DataObject
) -> None:
    counts = data.draw(counts_for(grid))
    atlas = build_atlas(grid.layers(), population=population_cells(grid, counts))
    ab = pair_scores(atlas, "a", "b")
    ba = pair_scores(atlas, "b", "a")
    n_atoms = int(atlas.atoms[["a", "b"]].notna().all(axis=1).sum())
    for row in (ab, ba):
        for suffix in ("area", "pop"):
            if math.isnan(row[f"nmi_{suffix}"]):
                assert suffix == "pop"
                assert sum(counts) == 0
                continue
            assert 0.0 <= row[f"nmi_{suffix}"] <= 1.0
            assert 0.0 <= row[f"v_measure_{suffix}"] <= 1.0
            assert 0.0 <= row[f"vi_normalized_{suffix}"] <= 1.0
            assert 0.0 <= row[f"vi_{suffix}"] <= math.log(n_atoms) + 1e-12
            assert row[f"h_b_given_a_{suffix}"] >= 0.0
            assert row[f"h_a_given_b_{suffix}"] >= 0.0
        for key in ("nesting_index_count", "nesting_index_area", "rn_alt_area"):
            assert 0.0 <= row[key] <= 1.0
        assert 0.0 < row["rn_area"] <= 1.0 + 1e-12
        assert row["mean_n_eff_area"] >= 1.0 - 1e-12
        assert row["n_units"] >= row["n_nested"] >= 0
        assert row["n_pieces"] >= row["n_units"]
        bc = row["boundary_coincidence"]
        assert math.isnan(bc) or 0.0 <= bc <= 1.0
    for suffix in ("area", "pop"):
        for key in ("vi", "nmi", "v_measure"):
            x, y = ab[f"{key}_{suffix}"], ba[f"{key}_{suffix}"]
            assert (math.isnan(x) and math.isnan(y)) or x == pytest.approx(
                y, rel=1e-9, abs=1e-12
            )
        assert ab[f"h_b_given_a_{suffix}"] == pytest.approx(
            ba[f"h_a_given_b_{suffix}"], rel=1e-9, abs=1e-12, nan_ok=True
        )


# -- invariance of every score -----------------------------------------------------


def _audit(atlas: Atlas) -> AuditResult:
    return audit(atlas, tables="a", thresholds=THRESHOLDS)


def _assert_same_audit(
    x: AuditResult, y: AuditResult, maps: Mapping[str, Mapping[str, str]]
) -> None:
    """*y* is *x* with codes renamed by *maps* (layer -> old code -> new code)."""
    num = ["layer_a", "layer_b"]
    px = x.pairs.set_index(num).sort_index()
    py = y.pairs.set_index(num).sort_index()
    pd.testing.assert_frame_equal(px, py, rtol=1e-9, atol=1e-12)

    inc = x.incoherence.copy()
    inc["code"] = [maps[k][c] for k, c in zip(inc["layer"], inc["code"], strict=True)]
    key = ["layer", "reference", "code"]
    ix = _numeric(inc.set_index(key).sort_index())
    iy = _numeric(y.incoherence.set_index(key).sort_index())
    pd.testing.assert_frame_equal(ix, iy, rtol=1e-9, atol=1e-9)

    assert x.risk is not None
    assert y.risk is not None
    tx = x.risk.tables.copy()
    tx.index = pd.Index([maps["a"][c] for c in tx.index], name=tx.index.name)
    cols = [c for c in tx.columns if c != "rank"]  # ties break by code
    pd.testing.assert_frame_equal(
        _numeric(tx[cols]).sort_index(),
        _numeric(y.risk.tables[cols]).sort_index(),
        rtol=1e-9,
        atol=1e-9,
    )
    inst = x.risk.institutions.copy()
    inst.index = pd.MultiIndex.from_tuples(
        [(k, maps[k][c]) for k, c in inst.index], names=inst.index.names
    )
    cols = [c for c in inst.columns if c not in ("rank", "dominant_table")]
    pd.testing.assert_frame_equal(
        _numeric(inst[cols]).sort_index(),
        _numeric(y.risk.institutions[cols]).sort_index(),
        rtol=1e-9,
        atol=1e-9,
    )

    # the heaviest table is the first by score, ties broken by code: only a
    # unique maximum must map to the same table
    scores = x.risk.tables["score"]
    if len(scores) and (scores >= scores.max() - 1e-9).sum() == 1:
        assert maps["a"][str(scores.idxmax())] == str(y.risk.tables.index[0])
    skey = ["threshold", "measure", "subject"]
    pd.testing.assert_frame_equal(
        x.sensitivity.drop(columns="code").set_index(skey).sort_index(),
        y.sensitivity.drop(columns="code").set_index(skey).sort_index(),
        rtol=1e-9,
        atol=1e-9,
    )


@SLOW
@given(grids(("a", "b")), st.data())
def test_every_score_is_invariant_under_relabelling(
    grid: Grid, data: st.DataObject
) -> None:
    counts = data.draw(counts_for(grid))
    layers = grid.layers()
    maps: dict[str, dict[str, str]] = {}
    for key, layer in layers.items():
        codes = list(layer.index)
        new = data.draw(
            st.permutations([f"Z{len(codes) - i:04d}" for i in range(len(codes))])
        )
        maps[key] = dict(zip(codes, new, strict=True))
    pop = population_cells(grid, counts)
    first = _audit(build_atlas(layers, population=pop))
    renamed = {k: relabel(v, maps[k]) for k, v in layers.items()}
    second = _audit(build_atlas(renamed, population=pop))
    _assert_same_audit(first, second, maps)


@SLOW
@given(grids(("a", "b")), st.data(), st.integers(0, 999))
def test_every_score_is_invariant_under_row_order(
    grid: Grid, data: st.DataObject, seed: int
) -> None:
    counts = data.draw(counts_for(grid))
    layers = grid.layers()
    pop = population_cells(grid, counts)
    first = _audit(build_atlas(layers, population=pop))
    rows = {k: shuffled(v, seed + i) for i, (k, v) in enumerate(layers.items())}
    second = _audit(build_atlas(rows, population=shuffled(pop, seed)))
    identity = {k: {c: c for c in v.index} for k, v in layers.items()}
    _assert_same_audit(first, second, identity)


# -- nesting -------------------------------------------------------------------------


@FAST
@given(nested_grids())
def test_a_refinement_nests_in_its_coarsening_one_way(grid: Grid) -> None:
    atlas = build_atlas(grid.layers())
    up = pair_scores(atlas, "fine", "coarse")
    down = pair_scores(atlas, "coarse", "fine")
    assert up["nesting_index_count"] == 1.0
    assert up["nesting_index_area"] == 1.0
    assert up["n_split"] == 0
    assert up["h_b_given_a_area"] == 0.0
    assert up["rn_area"] == pytest.approx(1.0, abs=1e-12)
    xw = atlas.crosswalk("fine", "coarse")
    np.testing.assert_allclose(xw["share_of_source"], 1.0, rtol=1e-12)
    assert down["h_a_given_b_area"] == 0.0
    same = len(grid.layer("fine")) == len(grid.layer("coarse"))
    if same:  # a coarsening with as many units is the same partition
        assert down["nesting_index_count"] == 1.0
    else:  # some coarse unit holds two fine ones and is split by them
        assert down["nesting_index_count"] < 1.0
        assert down["h_b_given_a_area"] > 0.0


# -- groupings -----------------------------------------------------------------------


@SLOW
@given(
    grids(("muni", "css", "rls"), max_units=5),
    st.data(),
    st.sampled_from([0.0, 0.01, 0.2]),
    st.one_of(st.none(), st.integers(0, 4)),
)
def test_reassignment_on_an_atlas_never_increases_incoherence(
    grid: Grid, data: st.DataObject, threshold: float, n: int | None
) -> None:
    counts = data.draw(counts_for(grid))
    atlas = build_atlas(grid.layers(), population=population_cells(grid, counts))
    sc = reassign(
        atlas,
        base="muni",
        layers=["css", "rls"],
        n=n,
        threshold=threshold,
        region_layer=None,
        same_region=False,
    )
    scores = sc.scores.set_index(["source", "target", "metric"])
    for target in ("css", "rls"):
        for metric in ("n_split", "n_pieces", "pop_outside_dominant"):
            before, after = scores.loc[("muni", target, metric), ["before", "after"]]
            if math.isnan(before):  # nobody lives there
                continue
            assert after <= before + 1e-9 * max(1.0, abs(before)), (target, metric)
    applied = sc.applied
    removed = int(applied["incoherence_removed"].sum()) if len(applied) else 0
    split_before = sum(
        scores.loc[("muni", t, "n_pieces"), "before"] for t in ("css", "rls")
    )
    split_after = sum(
        scores.loc[("muni", t, "n_pieces"), "after"] for t in ("css", "rls")
    )
    if threshold == 0.0:  # every piece counts: the count drops by exactly that
        assert split_after == split_before - removed
    after_atoms = sc.atoms_after
    assert after_atoms["area_m2"].sum() == pytest.approx(atlas.atoms["area_m2"].sum())
    assert after_atoms["population"].sum() == pytest.approx(
        atlas.atoms["population"].sum()
    )
