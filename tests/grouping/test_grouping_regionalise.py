"""Regionalisation: known optimum, contiguity and floor on every output, errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shapely

from geodecoupage.errors import InfeasibleGroupingError, InvalidParameterError
from geodecoupage.grouping import (
    GroupingProposal,
    contiguity_graph,
    regionalise,
    regionalise_tables,
    straddle_objective,
)
from geodecoupage.grouping._graph import component_labels


def grid_tables(nx: int, ny: int, labels: dict[str, list[str]], pop: np.ndarray):
    """Plain tables for an nx × ny rook grid (codes ``u<i>_<j>``)."""
    codes = [f"u{i:02d}_{j:02d}" for j in range(ny) for i in range(nx)]
    edges = []
    for j in range(ny):
        for i in range(nx):
            if i + 1 < nx:
                edges.append((codes[j * nx + i], codes[j * nx + i + 1]))
            if j + 1 < ny:
                edges.append((codes[j * nx + i], codes[(j + 1) * nx + i]))
    pieces = pd.DataFrame(
        [
            {
                "base": c,
                "layer": key,
                "unit": lab[k],
                "area_m2": 1e6,
                "population": float(pop[k]),
            }
            for key, lab in labels.items()
            for k, c in enumerate(codes)
        ]
    )
    return (
        pd.Series(pop, index=codes, dtype=float),
        pieces,
        pd.DataFrame(edges, columns=["a", "b"]),
    )


def blocks(nx: int, ny: int, bx: int, by: int, prefix: str) -> list[str]:
    return [f"{prefix}{i // bx}{j // by}" for j in range(ny) for i in range(nx)]


def same_partition(a: pd.Series, b: pd.Series) -> bool:
    b = b.reindex(a.index)
    pairs = pd.DataFrame({"a": a.to_numpy(), "b": b.to_numpy()}).drop_duplicates()
    return bool(pairs["a"].is_unique and pairs["b"].is_unique)


def assert_contiguous_and_floor(
    labels: pd.Series, pop: pd.Series, edges: pd.DataFrame, floor: float
) -> None:
    totals = pop.reindex(labels.index).groupby(labels).sum()
    assert (totals >= floor - 1e-9).all(), totals[totals < floor]
    codes = list(labels.index)
    pos = {c: k for k, c in enumerate(codes)}
    same = (
        labels.reindex(edges["a"]).to_numpy() == labels.reindex(edges["b"]).to_numpy()
    )
    comp = component_labels(
        len(codes),
        edges["a"].map(pos).to_numpy(),
        edges["b"].map(pos).to_numpy(),
        keep=same,
    )
    # each group is exactly one connected component of its own edges
    per_group = pd.Series(comp, index=codes).groupby(labels).nunique()
    assert (per_group == 1).all(), per_group[per_group > 1]


def test_known_optimum_is_found_up_to_relabelling() -> None:
    # 6 × 6 units of 1 person; two layers made of the same four 3 × 3 blocks:
    # the only 4-group partition with groups of >= 9 and no straddle is the blocks
    labels = {"css": blocks(6, 6, 3, 3, "c"), "rls": blocks(6, 6, 3, 3, "r")}
    pop, pieces, edges = grid_tables(6, 6, labels, np.ones(36))
    sol = regionalise_tables(pop, pieces, edges, floor=9, n_groups=4, seed=1)
    assert sol.straddles == 0
    assert sol.objective == 0
    truth = pd.Series(labels["css"], index=pop.index)
    assert same_partition(sol.labels, truth)


def test_free_number_of_groups_splits_inside_units() -> None:
    # two 4 × 2 blocks; floor 2: zero straddles and as many groups as possible
    labels = {"css": blocks(8, 2, 4, 2, "c")}
    pop, pieces, edges = grid_tables(8, 2, labels, np.ones(16))
    sol = regionalise_tables(pop, pieces, edges, floor=2)
    assert sol.straddles == 0
    assert len(sol.groups) == 8
    assert_contiguous_and_floor(sol.labels, pop, edges, 2)


def test_mixed_layers_optimum_on_a_strip() -> None:
    # strip of 6: css splits 3|3, rls splits 2|4 -> with floor 2 the best is
    # [0 1] [2] ... floor forbids singletons: [0 1] [2 ... ] costs 1 straddle
    labels = {"css": list("aaabbb"), "rls": list("xxyyyy")}
    pop, pieces, edges = grid_tables(6, 1, labels, np.ones(6))
    sol = regionalise_tables(pop, pieces, edges, floor=2, n_groups=3)
    # groups [0,1] [2,3] [4,5]: straddles 0 + 1 (css a|b at 2-3) + 0
    assert sol.straddles == 1
    brute = min(
        straddle_objective(pd.Series(lab, index=pop.index), pieces, pop)[1]
        for lab in (
            ["A", "A", "B", "B", "C", "C"],
            ["A", "A", "B", "B", "B", "C"],
            ["A", "A", "A", "B", "C", "C"],
        )
        if pd.Series(lab).value_counts().min() >= 2
    )
    assert sol.straddles == brute


@settings(max_examples=25, deadline=None)
@given(
    st.integers(3, 6),
    st.integers(2, 5),
    st.integers(0, 10_000),
    st.sampled_from([1.0, 3.0, 8.0]),
    st.sampled_from([None, 2, 3]),
    st.sampled_from([0.0, 0.5]),
)
def test_every_output_is_contiguous_and_above_the_floor(
    nx: int, ny: int, seed: int, floor: float, n_groups: int | None, balance: float
) -> None:
    rng = np.random.default_rng(seed)
    labels = {
        "css": [f"c{x}" for x in rng.integers(0, 3, nx * ny)],
        "rls": blocks(nx, ny, 2, 2, "r"),
    }
    pop, pieces, edges = grid_tables(nx, ny, labels, rng.integers(0, 4, nx * ny))
    try:
        sol = regionalise_tables(
            pop,
            pieces,
            edges,
            floor=floor,
            n_groups=n_groups,
            balance=balance,
            seed=seed,
        )
    except InfeasibleGroupingError:
        total = pop.sum()
        assert total < floor or (n_groups is not None and n_groups * floor > total - 3)
        return
    assert_contiguous_and_floor(sol.labels, pop, edges, floor)
    if n_groups is not None:
        assert len(sol.groups) == n_groups
    assert sol.labels.index.equals(pd.Index(sorted(pop.index), name="code"))


def test_same_seed_same_partition() -> None:
    rng = np.random.default_rng(5)
    labels = {"css": [f"c{x}" for x in rng.integers(0, 4, 48)]}
    pop, pieces, edges = grid_tables(8, 6, labels, rng.integers(1, 50, 48))
    a = regionalise_tables(pop, pieces, edges, floor=100, seed=7)
    b = regionalise_tables(pop, pieces, edges, floor=100, seed=7)
    assert a.labels.equals(b.labels)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"floor": 1000}, r"population 6, below the floor 1,000"),
        ({"floor": 1, "n_groups": 7}, r"n_groups=7 is more than the 6 base units"),
        ({"floor": 2, "n_groups": 4}, r"hold at most 3 such groups"),
    ],
)
def test_infeasible_settings_name_their_numbers(kwargs, pattern) -> None:
    pop, pieces, edges = grid_tables(6, 1, {"css": list("aaabbb")}, np.ones(6))
    with pytest.raises(InfeasibleGroupingError, match=pattern):
        regionalise_tables(pop, pieces, edges, **kwargs)


def test_islands_kept_apart_need_their_own_groups() -> None:
    pop, pieces, _ = grid_tables(4, 1, {"css": list("aabb")}, np.ones(4) * 5)
    edges = pd.DataFrame({"a": ["u00_00", "u02_00"], "b": ["u01_00", "u03_00"]})
    with pytest.raises(
        InfeasibleGroupingError, match=r"fewer than the 2 contiguity components"
    ):
        regionalise_tables(pop, pieces, edges, floor=1, n_groups=1)
    with pytest.raises(
        InfeasibleGroupingError, match=r"2 of the 2 contiguity components"
    ):
        regionalise_tables(pop, pieces, edges, floor=11)
    sol = regionalise_tables(pop, pieces, edges, floor=10, n_groups=2)
    assert sol.straddles == 0


def test_bad_parameters() -> None:
    pop, pieces, edges = grid_tables(2, 1, {"css": list("ab")}, np.ones(2))
    with pytest.raises(InvalidParameterError, match="floor must be"):
        regionalise_tables(pop, pieces, edges, floor=-1)
    with pytest.raises(InvalidParameterError, match="method must be"):
        regionalise_tables(pop, pieces, edges, floor=1, method="kmeans")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="n_groups must be"):
        regionalise_tables(pop, pieces, edges, floor=1, n_groups=0)


def test_contiguity_graph_joins_islands_to_nearest() -> None:
    import geopandas as gpd

    geoms = gpd.GeoSeries(
        [
            shapely.box(0, 0, 1000, 1000),
            shapely.box(1000, 0, 2000, 1000),
            shapely.box(4000, 0, 5000, 1000),
        ],
        index=["a", "b", "c"],
        crs="EPSG:32198",
    )
    g = contiguity_graph(geoms)
    assert g[["a", "b", "kind"]].values.tolist() == [
        ["a", "b", "border"],
        ["b", "c", "nearest"],
    ]
    assert g["length_m"].tolist() == pytest.approx([1000.0, 2000.0])
    kept = contiguity_graph(geoms, islands="keep")
    assert (kept["kind"] == "border").all()
    with pytest.raises(InvalidParameterError, match="islands must be"):
        contiguity_graph(geoms, islands="drop")  # type: ignore[arg-type]


def test_regionalise_on_an_atlas(territory) -> None:
    labels = {"css": blocks(6, 4, 3, 2, "c"), "rls": blocks(6, 4, 3, 4, "r")}
    atlas = territory(6, 4, labels, np.full(24, 10.0))
    prop = regionalise(atlas, base="muni", layers=["css", "rls"], floor=60, seed=0)
    assert isinstance(prop, GroupingProposal)
    assert prop.kind == "regions"
    assert prop.objective == 0
    assert prop.n_groups == 4
    assert prop.groups["meets_floor"].all()
    assert prop.groups.geometry.area.sum() == pytest.approx(24e6)
    codes = [f"b{i:02d}_{j:02d}" for j in range(4) for i in range(6)]  # grid order
    truth = pd.Series(labels["css"], index=codes)
    assert same_partition(prop.labels, truth)
    assert "Régionalisation optimisée" in prop.summary()
    sub = regionalise(
        atlas,
        base="muni",
        layers=["css"],
        floor=30,
        units=["b00_00", "b01_00", "b02_00"],
    )
    assert sub.n_groups == 1
    with pytest.raises(InvalidParameterError, match="not muni codes"):
        regionalise(atlas, base="muni", floor=1, units=["zz"])


@pytest.mark.skipif(
    importlib.util.find_spec("spopt") is None, reason="spopt not installed"
)
def test_local_solver_beats_spopt_maxp_on_its_objective() -> None:
    rng = np.random.default_rng(11)
    labels = {"css": blocks(5, 4, 3, 2, "c"), "rls": blocks(5, 4, 2, 4, "r")}
    pop, pieces, edges = grid_tables(5, 4, labels, rng.integers(5, 20, 20))
    maxp = regionalise_tables(pop, pieces, edges, floor=25, method="maxp", seed=0)
    ours = regionalise_tables(
        pop, pieces, edges, floor=25, n_groups=len(maxp.groups), seed=0
    )
    assert_contiguous_and_floor(maxp.labels, pop, edges, 25)
    assert_contiguous_and_floor(ours.labels, pop, edges, 25)
    assert ours.straddles <= maxp.straddles


def test_balance_term_finds_the_even_split() -> None:
    # one institution everywhere (no straddle possible): only the balance counts
    pop, pieces, edges = grid_tables(
        6, 1, {"css": list("aaaaaa")}, np.array([5, 1, 1, 1, 1, 5])
    )
    sol = regionalise_tables(pop, pieces, edges, floor=1, n_groups=2, balance=1.0)
    assert sorted(sol.groups["population"]) == [7.0, 7.0]
    assert sol.balance_term == pytest.approx(0.0)
    assert sol.objective == pytest.approx(0.0)
