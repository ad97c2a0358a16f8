"""Edges between atlas atoms: the one geometric pass behind fragments and boundaries.

The atoms of an atlas tile the study territory. Every ring of every atom part is
cut into short segments (at most ``max_segment_m`` long, in EPSG:32198); each
segment learns which atom lies on its other side (the nearest segment of another
atom within ``eps_m`` of its midpoint), or that it lies on the outer edge of the
atlas. From that table alone:

- the boundary of any layer is the set of segments whose two sides carry
  different codes of that layer (``internal`` when both sides are covered);
- connected pieces of any group of atoms follow from the part adjacency.

Each shared edge is seen twice (once from each side); outer edges once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage.crs import to_work_crs

logger = logging.getLogger(__name__)

__all__ = ["AtomEdges", "atom_edges", "components"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AtomEdges:
    """Segments of the atom rings with the atom on their other side.

    Attributes
    ----------
    part_atom
        Row position (in ``atoms``) of the atom of each polygon part.
    part_area_m2
        Equal-area area of each part: the atom's ``area_m2`` split in proportion
        to the parts' planar areas.
    seg_atom, seg_nbr
        Atom of each segment, and the atom across it (``-1``: outer edge).
    seg_len
        Segment lengths in metres (EPSG:32198).
    seg_xy
        ``(n, 4)`` segment end points ``x0, y0, x1, y1`` in EPSG:32198.
    adjacency
        ``(k, 2)`` unique pairs of parts that share at least one segment.
    eps_m, max_segment_m
        Parameters used.
    """

    part_atom: IntArray
    part_area_m2: FloatArray
    seg_atom: IntArray
    seg_nbr: IntArray
    seg_len: FloatArray
    seg_xy: FloatArray
    adjacency: IntArray
    eps_m: float
    max_segment_m: float

    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def codes(self, atoms: pd.DataFrame, layer: str) -> tuple[IntArray, IntArray]:
        """Integer code of *layer* on each side of every segment (-1: uncovered)."""
        key = ("codes", id(atoms), layer)
        if key not in self._cache:
            col = atoms[layer].to_numpy(dtype=object)
            ints, _ = pd.factorize(col, use_na_sentinel=True)
            ints = np.asarray(ints, dtype="int64")
            side = ints[self.seg_atom]
            other = np.where(
                self.seg_nbr >= 0, ints[np.maximum(self.seg_nbr, 0)], -1
            ).astype("int64")
            self._cache[key] = (side, other)
        cached: tuple[IntArray, IntArray] = self._cache[key]
        return cached

    def boundary_mask(self, atoms: pd.DataFrame, layer: str) -> np.ndarray:
        """Segments on the boundary of *layer* (its outer edge included)."""
        side, other = self.codes(atoms, layer)
        return np.asarray(((side >= 0) | (other >= 0)) & (side != other), dtype=bool)

    def internal_mask(self, atoms: pd.DataFrame, layer: str) -> np.ndarray:
        """Segments between two different units of *layer*."""
        side, other = self.codes(atoms, layer)
        return np.asarray((side >= 0) & (other >= 0) & (side != other), dtype=bool)

    def midpoints(self) -> np.ndarray:
        """Shapely points at the middle of every segment (cached)."""
        if "mids" not in self._cache:
            xy = self.seg_xy
            self._cache["mids"] = shapely.points(
                (xy[:, 0] + xy[:, 2]) / 2.0, (xy[:, 1] + xy[:, 3]) / 2.0
            )
        mids: np.ndarray = self._cache["mids"]
        return mids

    def boundary_tree(self, atoms: pd.DataFrame, layer: str) -> Any:
        """STRtree of the segments on *layer*'s boundary (cached)."""
        key = ("tree", id(atoms), layer)
        if key not in self._cache:
            mask = self.boundary_mask(atoms, layer)
            lines = shapely.linestrings(self.seg_xy[mask].reshape(-1, 2, 2))
            self._cache[key] = shapely.STRtree(lines)
        return self._cache[key]


def _twins(xy: FloatArray, seg_atom: IntArray) -> tuple[IntArray, IntArray]:
    """Pairs of segments of different atoms with the same end points (to 1 mm)."""
    q = np.round(xy * 1000.0).astype("int64")
    swap = (q[:, 0] > q[:, 2]) | ((q[:, 0] == q[:, 2]) & (q[:, 1] > q[:, 3]))
    q[swap] = q[swap][:, [2, 3, 0, 1]]
    order = np.lexsort((q[:, 3], q[:, 2], q[:, 1], q[:, 0]))
    sq = q[order]
    same = np.all(sq[1:] == sq[:-1], axis=1)
    # Keep runs of exactly two (a shared edge); longer runs go to the tree.
    run_start = np.flatnonzero(same)
    if run_start.size == 0:
        empty = np.empty(0, dtype="int64")
        return empty, empty
    before = np.r_[False, same[:-1]][run_start]
    after = np.r_[same[1:], False][run_start]
    pair = run_start[~before & ~after]
    a, b = order[pair], order[pair + 1]
    diff = seg_atom[a] != seg_atom[b]
    return a[diff].astype("int64"), b[diff].astype("int64")


def _segments(parts: np.ndarray, max_segment_m: float) -> tuple[FloatArray, IntArray]:
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    if max_segment_m > 0:
        rings = shapely.segmentize(rings, max_segment_m)
    coords, ring_idx = shapely.get_coordinates(rings, return_index=True)
    same = ring_idx[1:] == ring_idx[:-1]
    xy = np.column_stack([coords[:-1][same], coords[1:][same]])
    seg_part = ring_part[ring_idx[:-1][same]]
    return xy.astype("float64"), seg_part.astype("int64")


def atom_edges(
    atoms: gpd.GeoDataFrame, *, eps_m: float = 0.5, max_segment_m: float = 250.0
) -> AtomEdges:
    """Cut the atom rings into segments and find the atom across each one.

    Parameters
    ----------
    atoms
        ``Atlas.atoms`` (any CRS; measured in EPSG:32198).
    eps_m
        Two segments of different atoms closer than this (midpoint to segment)
        are the two sides of one shared edge.
    max_segment_m
        Rings are densified so no segment is longer than this.

    Returns
    -------
    AtomEdges
        The segment table and the part adjacency.
    """
    work = to_work_crs(atoms[["geometry"]], name="atlas atoms")
    geoms = np.asarray(work.geometry.array, dtype=object)
    parts, part_atom = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3  # polygons only
    parts, part_atom = parts[keep], part_atom[keep].astype("int64")
    planar_part = shapely.area(parts)
    planar_atom = np.bincount(part_atom, weights=planar_part, minlength=len(geoms))
    atom_area = pd.to_numeric(atoms["area_m2"], errors="coerce").to_numpy("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(
            planar_atom[part_atom] > 0, planar_part / planar_atom[part_atom], 0.0
        )
    part_area = atom_area[part_atom] * frac
    xy, seg_part = _segments(parts, max_segment_m)
    seg_len = np.hypot(xy[:, 2] - xy[:, 0], xy[:, 3] - xy[:, 1])
    ok = seg_len > 0
    xy, seg_part, seg_len = xy[ok], seg_part[ok], seg_len[ok]
    seg_atom = part_atom[seg_part]
    seg_nbr = np.full(len(xy), -1, dtype="int64")
    nbr_seg = np.full(len(xy), -1, dtype="int64")
    # 1. Exact twins: the same segment (to the millimetre) seen from both sides.
    first, second = _twins(xy, seg_atom)
    nbr_seg[first], nbr_seg[second] = second, first
    # 2. The rest (T-junctions, unequal vertices): nearest segment of another atom
    #    within eps of the midpoint.
    rest = np.flatnonzero(nbr_seg < 0)
    if rest.size:
        rx = xy[rest]
        lines = shapely.linestrings(rx.reshape(-1, 2, 2))
        mids = shapely.points((rx[:, 0] + rx[:, 2]) / 2.0, (rx[:, 1] + rx[:, 3]) / 2.0)
        tree = shapely.STRtree(lines)
        q, t = tree.query(mids, predicate="dwithin", distance=eps_m)
        other = seg_atom[rest[t]] != seg_atom[rest[q]]
        q, t = q[other], t[other]
        if len(q):
            d = shapely.distance(mids[q], lines[t])
            order = np.lexsort((t, d, q))
            q, t = q[order], t[order]
            keep = np.ones(len(q), dtype=bool)
            keep[1:] = q[1:] != q[:-1]
            nbr_seg[rest[q[keep]]] = rest[t[keep]]
    has = nbr_seg >= 0
    seg_nbr[has] = seg_atom[nbr_seg[has]]
    n_parts = max(len(parts), 1)
    p = seg_part[has]
    r = seg_part[nbr_seg[has]]
    code = np.unique(np.minimum(p, r) * n_parts + np.maximum(p, r))
    adjacency = np.column_stack([code // n_parts, code % n_parts]).astype("int64")
    logger.info(
        "Atom edges: %d parts, %d segments (%d on the outer edge), %d adjacencies.",
        len(parts),
        len(xy),
        int((seg_nbr < 0).sum()),
        len(adjacency),
    )
    return AtomEdges(
        part_atom=part_atom,
        part_area_m2=part_area,
        seg_atom=seg_atom,
        seg_nbr=seg_nbr,
        seg_len=seg_len,
        seg_xy=xy,
        adjacency=adjacency.astype("int64"),
        eps_m=float(eps_m),
        max_segment_m=float(max_segment_m),
    )


def components(n: int, pairs: IntArray, same: np.ndarray) -> IntArray:
    """Label connected components of *n* nodes linked by *pairs* where *same*.

    Parameters
    ----------
    n
        Number of nodes (parts).
    pairs
        ``(k, 2)`` node pairs (adjacency).
    same
        Boolean mask over *pairs*: only these links connect.

    Returns
    -------
    numpy.ndarray
        Component label of each node (the smallest node index of its component).

    Notes
    -----
    Union of trees with pointer jumping, shared with the atlas's sliver
    pieces (:func:`geodecoupage.overlay._engine.components`).
    """
    from geodecoupage.overlay._engine import components as _components

    links = pairs[np.asarray(same, dtype=bool)]
    return _components(n, links[:, 0].astype("int64"), links[:, 1].astype("int64"))
