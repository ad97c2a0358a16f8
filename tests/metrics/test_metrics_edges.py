"""Boundary coincidence and fragments from hand-made atoms (no overlay needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
from shapely.geometry import box

from geodecoupage.crs import WORK_CRS
from geodecoupage.errors import InvalidParameterError
from geodecoupage.metrics._edges import atom_edges, components
from geodecoupage.metrics.boundaries import boundary_coincidence, fragment_counts

KM = 1000.0


def cells(rows: list[tuple[float, float, dict[str, str | None]]]) -> gpd.GeoDataFrame:
    """1 km atoms at (col, row) with the given codes."""
    geoms = [box(c * KM, r * KM, (c + 1) * KM, (r + 1) * KM) for c, r, _ in rows]
    data = [codes for _, _, codes in rows]
    frame = gpd.GeoDataFrame(data, geometry=geoms, crs=WORK_CRS)
    frame["area_m2"] = frame.geometry.area
    return frame


#  2x2 grid: layer "col" splits left/right, "row" splits bottom/top, "all" is one
#  unit, "ring" is the left column plus the top-right cell (an L shape).
GRID = cells(
    [
        (0, 0, {"col": "L", "row": "B", "all": "U"}),
        (1, 0, {"col": "R", "row": "B", "all": "U"}),
        (0, 1, {"col": "L", "row": "T", "all": "U"}),
        (1, 1, {"col": "R", "row": "T", "all": "U"}),
    ]
)


def test_edges_find_the_atom_across_each_segment() -> None:
    e = atom_edges(GRID, max_segment_m=250.0)
    # Each cell: 4 km of ring in 250 m segments = 16 segments; 8 on the outer edge.
    assert len(e.seg_len) == 64
    assert (e.seg_nbr < 0).sum() == 32
    assert e.seg_len.sum() == pytest.approx(16 * KM)
    assert len(e.adjacency) == 4  # corner contacts do not count
    assert e.part_area_m2.sum() == pytest.approx(4 * KM * KM)


def test_internal_boundary_lengths_and_coincidence() -> None:
    e = atom_edges(GRID)
    col_in_row = boundary_coincidence(GRID, e, "col", "row", tolerance_m=100.0)
    assert col_in_row.internal_length_m == pytest.approx(2 * KM)
    assert col_in_row.share == 0.0  # a vertical border crosses a horizontal one
    itself = boundary_coincidence(GRID, e, "col", "col", tolerance_m=0.0)
    assert itself.share == 1.0
    assert itself.exact_length_m == pytest.approx(2 * KM)
    # "all" has no internal border: undefined share; its outer edge is a border
    # of "col" too, but "col" has internal borders that "all" lacks.
    assert np.isnan(boundary_coincidence(GRID, e, "all", "col").share)
    assert boundary_coincidence(GRID, e, "col", "all").share == 0.0
    # A wide tolerance catches segments near the crossing and the outer edge.
    wide = boundary_coincidence(GRID, e, "col", "row", tolerance_m=300.0)
    assert wide.share == pytest.approx(0.5)  # 4 of 8 segments per side


def test_coincidence_with_a_shifted_border_depends_on_the_tolerance() -> None:
    shifted = GRID.copy()
    # Move the column border 50 m to the right through a thin extra atom.
    left = [box(0, r * KM, KM + 50, (r + 1) * KM) for r in (0, 1)]
    right = [box(KM + 50, r * KM, 2 * KM, (r + 1) * KM) for r in (0, 1)]
    shifted = gpd.GeoDataFrame(
        {
            "a": ["L", "L", "R", "R"],
            "b": ["X", "X", "Y", "Y"],
        },
        geometry=left + right,
        crs=WORK_CRS,
    )
    # Layer b's border is at 1 000 m: cut the atoms there.
    pieces = shifted.overlay(
        gpd.GeoDataFrame(
            {"b2": ["X", "Y"]},
            geometry=[box(0, 0, KM, 2 * KM), box(KM, 0, 2 * KM, 2 * KM)],
            crs=WORK_CRS,
        )
    )
    pieces = pieces.drop(columns="b").rename(columns={"b2": "b"})
    pieces["area_m2"] = pieces.geometry.area
    e = atom_edges(pieces, max_segment_m=100.0)
    assert boundary_coincidence(pieces, e, "a", "b", tolerance_m=10.0).share == 0.0
    assert boundary_coincidence(pieces, e, "a", "b", tolerance_m=60.0).share == 1.0


def test_fragments_count_pieces_cut_by_the_reference() -> None:
    # "u" is one unit over 4 cells in a row; "v" cuts the second cell away.
    atoms = cells(
        [
            (0, 0, {"u": "1", "v": "a"}),
            (1, 0, {"u": "1", "v": "b"}),
            (2, 0, {"u": "1", "v": "a"}),
            (3, 0, {"u": "1", "v": "a"}),
            (5, 0, {"u": "2", "v": "c"}),  # a unit in two islands
            (7, 0, {"u": "2", "v": "c"}),
        ]
    )
    e = atom_edges(atoms)
    dom = {"1": "a", "2": "c"}
    f = fragment_counts(atoms, e, "u", "v", dominant=pd.Series(dom), threshold=0.01)
    assert f.loc["1"].tolist() == [1, 3, 2]  # one part, 3 pieces, 2 in "a"
    assert f.loc["2"].tolist() == [2, 2, 2]  # two islands, both in "c"
    # At 30 % only the largest piece (half of unit 1) counts; the islands tie.
    g = fragment_counts(atoms, e, "u", "v", dominant=pd.Series(dom), threshold=0.3)
    assert g.loc["1"].tolist() == [1, 1, 1]
    assert g.loc["2"].tolist() == [2, 2, 2]


def test_components_union_find() -> None:
    pairs = np.array([[0, 1], [1, 2], [3, 4]])
    labels = components(5, pairs, np.array([True, True, False]))
    assert labels.tolist() == [0, 0, 0, 3, 4]


def test_unknown_layer_and_bad_tolerance() -> None:
    e = atom_edges(GRID)
    with pytest.raises(InvalidParameterError, match="'zz' is not in the atlas"):
        boundary_coincidence(GRID, e, "zz", "row")
    with pytest.raises(InvalidParameterError, match="tolerance_m"):
        boundary_coincidence(GRID, e, "col", "row", tolerance_m=-1.0)
