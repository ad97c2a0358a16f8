"""Graph algorithms on hand-drawn graphs (independent references by brute force)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import shapely

from geodecoupage.grouping._graph import (
    component_labels,
    contiguity_edges,
    is_connected_subset,
    island_links,
    min_st_cut,
    small_cuts,
)


def _n_components(n: int, edges: list[tuple[int, int]]) -> int:
    """Brute-force reference: depth-first search."""
    adj: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    seen = [False] * n
    count = 0
    for s in range(n):
        if seen[s]:
            continue
        count += 1
        stack = [s]
        seen[s] = True
        while stack:
            v = stack.pop()
            for w in adj[v]:
                if not seen[w]:
                    seen[w] = True
                    stack.append(w)
    return count


def test_component_labels_are_numbered_by_smallest_node() -> None:
    labels = component_labels(6, [4, 1, 5], [5, 2, 3])
    assert labels.tolist() == [0, 1, 1, 2, 2, 2]


def test_component_labels_ignore_masked_edges() -> None:
    labels = component_labels(3, [0, 1], [1, 2], keep=np.array([True, False]))
    assert labels.tolist() == [0, 0, 1]


def test_small_cuts_find_the_bridge_of_two_triangles() -> None:
    # triangles 0-1-2 and 3-4-5 joined by edge 2-3 (index 6)
    ei = [0, 1, 2, 3, 4, 5, 2]
    ej = [1, 2, 0, 4, 5, 3, 3]
    assert small_cuts(6, ei, ej, max_size=1) == [(6,)]


def test_small_cuts_parallel_edges_are_not_bridges() -> None:
    assert small_cuts(2, [0, 0], [1, 1], max_size=1) == []
    assert small_cuts(2, [0, 0], [1, 1], max_size=2) == [(0, 1)]


edge_lists = st.integers(3, 7).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
            min_size=1,
            max_size=12,
        ),
    )
)


@settings(max_examples=60, deadline=None)
@given(edge_lists, st.integers(0, 3))
def test_small_cuts_match_brute_force(
    graph: tuple[int, list[tuple[int, int]]], seed: int
) -> None:
    n, edges = graph
    ei = [a for a, _ in edges]
    ej = [b for _, b in edges]
    base = _n_components(n, edges)

    def is_cut(subset: tuple[int, ...]) -> bool:
        rest = [e for k, e in enumerate(edges) if k not in subset]
        return _n_components(n, rest) > base

    expected = set()
    for size in (1, 2, 3):
        for subset in itertools.combinations(range(len(edges)), size):
            if not is_cut(subset):
                continue
            if any(
                is_cut(sub)
                for k in range(1, size)
                for sub in itertools.combinations(subset, k)
            ):
                continue  # not minimal
            expected.add(subset)
    found = set(small_cuts(n, ei, ej, max_size=3, seed=seed))
    assert found == expected


def test_min_st_cut_value_and_side() -> None:
    # two heavy pairs joined by a light edge (1-2, capacity 1) and a heavier one
    ei = [0, 2, 1, 0]
    ej = [1, 3, 2, 3]
    cap = [10.0, 10.0, 1.0, 2.0]
    value, side = min_st_cut(4, ei, ej, cap, 0, 2)
    assert value == pytest.approx(3.0)
    assert side.tolist() == [True, True, False, False]


def test_min_st_cut_needs_two_nodes() -> None:
    with pytest.raises(ValueError, match="two distinct"):
        min_st_cut(2, [0], [1], [1.0], 0, 0)


def test_is_connected_subset() -> None:
    adj = [[1], [0, 2], [1], []]
    assert is_connected_subset({0, 1, 2}, adj)
    assert not is_connected_subset({0, 2}, adj)
    assert is_connected_subset({3}, adj)


def test_contiguity_edges_rook_not_queen() -> None:
    boxes = [
        shapely.box(0, 0, 1000, 1000),
        shapely.box(1000, 0, 2000, 1000),
        shapely.box(2000, 1000, 3000, 2000),  # touches box 1 at a corner only
    ]
    out = contiguity_edges(boxes)
    assert list(zip(out["i"], out["j"], strict=True)) == [(0, 1)]
    assert out["shared_m"].iloc[0] == pytest.approx(1000.0)


def test_contiguity_edges_min_shared_border_and_snap() -> None:
    a = shapely.box(0, 0, 1000, 1000)
    b = shapely.box(1000.5, 0, 2000, 200)  # 0.5 m gap, 200 m facing border
    assert contiguity_edges([a, b]).empty
    snapped = contiguity_edges([a, b], snap_m=1.0)
    assert snapped["shared_m"].iloc[0] == pytest.approx(200.0, abs=1.0)
    assert contiguity_edges([a, b], snap_m=1.0, min_shared_border_m=500.0).empty


def test_island_links_join_every_component_once() -> None:
    boxes = [
        shapely.box(0, 0, 1000, 1000),
        shapely.box(1000, 0, 2000, 1000),
        shapely.box(5000, 0, 6000, 1000),  # island 1, 3 km east
        shapely.box(0, 3000, 1000, 4000),  # island 2, 2 km north
        shapely.box(6500, 0, 7000, 1000),  # island 3, next to island 1
    ]
    edges = contiguity_edges(boxes)
    extra = island_links(boxes, edges["i"], edges["j"])
    assert len(extra) == 3  # components - 1
    allpairs = pd.concat([edges[["i", "j"]], extra[["i", "j"]]])
    assert component_labels(5, allpairs["i"], allpairs["j"]).max() == 0
    gaps = dict(
        zip(zip(extra["i"], extra["j"], strict=True), extra["gap_m"], strict=True)
    )
    assert gaps[(0, 3)] == pytest.approx(2000.0)
    assert gaps[(2, 4)] == pytest.approx(500.0)


def test_island_links_empty_when_connected() -> None:
    boxes = [shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)]
    edges = contiguity_edges(boxes)
    assert island_links(boxes, edges["i"], edges["j"]).empty
