"""Distributed atlas engine: the same arrangement, cut into spatial partitions on Dask.

:func:`build_atlas_dask` gives the atlas of :func:`geodecoupage.overlay.build_atlas`
(same atoms, codes, areas and population, see *Equality* below) with the heavy
part of the kernel run as tasks on a ``dask.distributed`` cluster: a
:class:`~distributed.LocalCluster` by default, any running scheduler when its
address (or a :class:`~distributed.Client`) is given. Install it with the
``scale`` extra (``pip install "geodecoupage[scale]"``: dask-geopandas and
distributed).

How the work is cut (details in ``docs/scaling.md``)
---------------------------------------------------

1. **Top of the quadtree, on the client.** The kernel's quadtree
   (:mod:`geodecoupage.overlay._engine`) is grown from the same root cell with the
   same rule (split while a cell's pieces hold more than ``max_load`` vertices),
   but only until there are about ``8 × npartitions`` cells. Those *top cells*
   are the units of partitioning.
2. **Spatial partitions.** Top cells are ordered along a Hilbert curve
   (geopandas' ``GeoSeries.hilbert_distance``, level 16, on the cell centres:
   the encoding dask-geopandas' ``spatial_shuffle(by="hilbert")`` sorts by;
   its row-balanced partitions themselves are not used, since partitions must
   be whole quadtree cells) and cut into ``npartitions`` runs of equal vertex
   load, so each partition is a compact patch of territory. A top cell, with
   every piece of every layer clipped to it, belongs to exactly one partition:
   no geometry is duplicated or dropped at a partition edge, because the
   partition edges are cell edges that the local kernel cuts along anyway.
3. **Per partition, on the workers.** The quadtree is finished inside the
   partition, then linework, noding (snap rounding), polygonisation, labelling,
   face adjacency and equal-area face areas are computed exactly as the local
   kernel does, cell by cell.
4. **Stitching, on the client.** The client receives the faces' labels, areas
   and borders, not their geometry. Faces get their global order (cells
   sorted by depth and quadtree path, as the local kernel numbers them). Face
   borders lying on a partition edge were matched with one side only; they are
   cut at the vertices of *both* sides and matched again, so every border
   segment has the face on each side, as in one pass. Atoms are formed and
   slivers merged over the whole territory, with the code of the local
   engine.
5. **Outlines.** An atom whose faces all lie in one partition is traced on
   that partition's worker, from its own segments plus its partition-edge
   segments as matched on the client; an atom crossing partition edges is
   traced once on the client over the whole territory's segments. Segments
   are always in the local kernel's order (sorted by end points), so the
   rings are traced from the same vertex.

Equality with the local engine
------------------------------
Every cell holds the same pieces in the same order as in the local run, so the
faces, labels and border segments are the same, in the same order, and the
atlas is bit-identical: same code tuples, areas, population and outline
vertices (the tests require areas to 1e-9 relative and outlines vertex for
vertex).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage.crs import AREA_CRS, WORK_CRS, area_m2
from geodecoupage.errors import GeodecoupageError, InvalidParameterError
from geodecoupage.overlay import _engine
from geodecoupage.overlay import atlas as _atlas
from geodecoupage.overlay.atlas import (
    DEFAULT_MIN_AREA_M2,
    DEFAULT_SLIVER_SHARE,
    DEFAULT_SLIVER_WIDTH_M,
    DEFAULT_SNAP_M,
    Atlas,
)

logger = logging.getLogger(__name__)

__all__ = ["SchedulerUnreachableError", "build_atlas_dask"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
GeomArray = npt.NDArray[np.object_]

#: Top cells per partition aimed at before the quadtree is handed to the workers.
_CELLS_PER_PARTITION = 8
#: Hilbert curve level for ordering the top cells (as dask-geopandas' default).
_HILBERT_LEVEL = 16
_AREA = "area_m2"
_POP = "population"


class SchedulerUnreachableError(GeodecoupageError, ConnectionError):
    """The Dask scheduler given to the distributed engine cannot be reached."""


# -- cluster ----------------------------------------------------------------------


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError as err:  # pragma: no cover - the scale extra is missing
        msg = (
            "engine='dask' needs the optional packages dask-geopandas and "
            "distributed; install them with: pip install 'geodecoupage[scale]'."
        )
        raise InvalidParameterError(msg) from err
    return distributed


@contextlib.contextmanager
def _client(
    scheduler: Any, *, n_workers: int | None, processes: bool, timeout: float
) -> Iterator[Any]:
    """Yield a Client: the one given, one connected to an address, or a local one."""
    distributed = _require_distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is None:
        kwargs: dict[str, Any] = {
            "processes": processes,
            "threads_per_worker": 1,
            "dashboard_address": ":0",  # a free port: never clash with 8787
        }
        if n_workers is not None:
            kwargs["n_workers"] = int(n_workers)
        with (
            distributed.LocalCluster(**kwargs) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    if not isinstance(scheduler, str):
        msg = (
            f"scheduler must be None (a LocalCluster), a scheduler address such as "
            f"'tcp://10.0.0.5:8786', or a distributed.Client; got "
            f"{type(scheduler).__name__}."
        )
        raise InvalidParameterError(msg)
    try:
        client = distributed.Client(scheduler, timeout=timeout)
    except (OSError, ValueError, TimeoutError) as err:
        msg = (
            f"Cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s "
            f"({err}). Start one (`dask scheduler` then `dask worker "
            f"{scheduler}` on each machine), check the address and the firewall, "
            f"or pass scheduler=None to use a local cluster."
        )
        raise SchedulerUnreachableError(msg) from err
    with client:
        yield client


# -- quadtree (same rule and numbering as the local kernel) -------------------------


@dataclass
class _Tree:
    """Pieces with their cells, and each cell's depth and quadtree path."""

    ps: _engine._Pieces
    cells: FloatArray  # (n, 4) bounds
    depth: IntArray
    path: IntArray  # base-4 digits of the quadrants from the root (SW, SE, NW, NE)
    n_clip: int = 0


def _root(layers: Sequence[GeomArray], grid: float) -> _Tree:
    """Exploded pieces of every layer in the root cell (as ``_engine._quadtree``)."""
    sets = []
    for li, arr in enumerate(layers):
        parts, idx = _engine.explode_polygons(np.asarray(arr, dtype=object))
        n = len(parts)
        sets.append(
            _engine._Pieces(
                parts,
                np.full(n, li, dtype=np.int64),
                idx,
                np.zeros(n, dtype=np.int64),
                np.zeros(n, dtype=bool),
            )
        )
    ps = _engine._Pieces.concat(sets)
    b = shapely.bounds(ps.geom)
    cells = np.array(
        [
            [
                np.floor(b[:, 0].min() / grid) * grid - grid,
                np.floor(b[:, 1].min() / grid) * grid - grid,
                np.ceil(b[:, 2].max() / grid) * grid + grid,
                np.ceil(b[:, 3].max() / grid) * grid + grid,
            ]
        ],
        dtype=np.float64,
    )
    return _Tree(ps, cells, np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64))


def _grow(
    tree: _Tree, grid: float, max_load: int, *, stop_cells: int | None = None
) -> _Tree:
    """Split cells as ``_engine._quadtree`` does, level by level.

    With *stop_cells*, stop once that many cells hold pieces. Within every cell
    the pieces keep the order the local kernel gives them (pieces full in the
    parent first, then the clipped ones, each in the parent's order), which
    makes the linework, and so the faces, identical.
    """
    ps, cells, depth, path = tree.ps, tree.cells, tree.depth, tree.path
    n_clip = tree.n_clip
    min_side = _engine._MIN_CELL_GRID_UNITS * grid
    ncoord = shapely.get_num_coordinates(ps.geom).astype(np.float64)
    while True:
        if stop_cells is not None and len(np.unique(ps.cell)) >= stop_cells:
            break
        nf = ~ps.full
        load = np.bincount(ps.cell[nf], weights=ncoord[nf], minlength=len(cells))
        side = np.minimum(cells[:, 2] - cells[:, 0], cells[:, 3] - cells[:, 1])
        split = (load > max_load) & (side >= 2 * min_side)
        if not split.any():
            break
        split_ids = np.flatnonzero(split)
        x0, y0, x1, y1 = (cells[split_ids, k] for k in range(4))
        xm = np.floor((x0 + x1) / 2.0 / grid) * grid
        ym = np.floor((y0 + y1) / 2.0 / grid) * grid
        children = np.stack(
            [
                np.column_stack([x0, y0, xm, ym]),
                np.column_stack([xm, y0, x1, ym]),
                np.column_stack([x0, ym, xm, y1]),
                np.column_stack([xm, ym, x1, y1]),
            ],
            axis=1,
        ).reshape(-1, 4)
        child_of = np.full(len(cells), -1, dtype=np.int64)
        child_of[split_ids] = len(cells) + 4 * np.arange(len(split_ids))
        cells = np.vstack([cells, children])
        depth = np.concatenate([depth, np.repeat(depth[split_ids] + 1, 4)])
        path = np.concatenate(
            [path, (4 * path[split_ids][:, None] + np.arange(4)).ravel()]
        )

        moving = np.flatnonzero(split[ps.cell])
        stay = ps.take(np.flatnonzero(~split[ps.cell]))
        mv = ps.take(np.repeat(moving, 4))
        mv.cell = np.repeat(child_of[ps.cell[moving]], 4) + np.tile(
            np.arange(4), len(moving)
        )
        cb = cells[mv.cell]
        mv.geom = mv.geom.copy()
        mv.geom[mv.full] = _engine._cell_boxes(cb[mv.full])
        todo = np.flatnonzero(~mv.full)
        hit = todo[_engine._bbox_overlap(shapely.bounds(mv.geom[todo]), cb[todo])]
        n_clip += len(hit)
        clipped, src = _engine.explode_polygons(
            _engine._clip_many(mv.geom[hit], cb[hit])
        )
        cut = mv.take(hit[src])
        cut.geom = clipped
        isfull = _engine._is_full(clipped, cells[cut.cell])
        cut.geom[isfull] = _engine._cell_boxes(cells[cut.cell[isfull]])
        cut.full = isfull
        ps = _engine._Pieces.concat([stay, mv.take(mv.full), cut])
        ncoord = shapely.get_num_coordinates(ps.geom).astype(np.float64)
    return _Tree(ps, cells, depth, path, n_clip)


def _compact(tree: _Tree) -> _Tree:
    """Keep the cells holding pieces, numbered in the local kernel's order.

    The local kernel numbers cells level by level, children in quadrant order
    after their parent's number: sorting by (depth, path) gives that order.
    """
    used, inv = np.unique(tree.ps.cell, return_inverse=True)
    order = np.lexsort((tree.path[used], tree.depth[used]))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    ps = tree.ps.take(np.arange(len(tree.ps.geom)))
    ps.cell = rank[np.asarray(inv, dtype=np.int64).ravel()]
    cells = used[order]
    return _Tree(
        ps, tree.cells[cells], tree.depth[cells], tree.path[cells], tree.n_clip
    )


# -- one partition (runs on a worker) -------------------------------------------------


@dataclass(frozen=True)
class _PartResult:
    """What a partition sends back (face ids local to the partition)."""

    faces: GeomArray
    face_depth: IntArray
    face_path: IntArray
    units: IntArray
    hits: IntArray
    face_area: FloatArray  # equal-area, m²
    left: IntArray  # matched segments (both sides in the partition)
    right: IntArray
    xy: npt.NDArray[Any]  # as the kernel gives them (grid units or CRS units)
    length: FloatArray
    open_xy: npt.NDArray[Any]  # segments with one side only (partition border)
    open_face: IntArray
    open_left: npt.NDArray[np.bool_]
    n_clip: int
    n_cells: int
    anomalies: int


def _run_partition(
    tree: _Tree, n_layers: int, grid: float, max_load: int
) -> _PartResult:
    """Finish the quadtree of a partition's top cells and arrange its faces."""
    e64 = np.empty(0, dtype=np.int64)
    if len(tree.ps.geom) == 0:
        return _PartResult(
            np.empty(0, dtype=object),
            e64,
            e64,
            np.empty((0, n_layers), dtype=np.int64),
            np.empty((0, n_layers), dtype=np.int64),
            np.empty(0, dtype=np.float64),
            e64,
            e64,
            np.empty((0, 4), dtype=np.int64),
            np.empty(0, dtype=np.float64),
            np.empty((0, 4), dtype=np.int64),
            e64,
            np.empty(0, dtype=bool),
            0,
            0,
            0,
        )
    tree = _compact(_grow(tree, grid, max_load))
    ps, cells = tree.ps, tree.cells
    n_cells = len(cells)
    nf_idx = np.flatnonzero(~ps.full)
    linework = _engine._cell_linework(ps.geom[nf_idx], ps.cell[nf_idx], cells, grid)
    faces, face_cell, points = _engine._faces(linework, grid, 1)
    units, hits = _engine._label(ps, face_cell, points, n_cells, n_layers, 1)
    edges, anomalies = _engine._face_edges(faces, face_cell, cells, grid)
    face_area = (
        np.asarray(area_m2(faces), dtype=np.float64)
        if len(faces)
        else np.empty(0, dtype=np.float64)
    )
    two = (edges.left >= 0) & (edges.right >= 0)
    one = ~two
    open_left = edges.left[one] >= 0
    return _PartResult(
        faces=faces,
        face_depth=tree.depth[face_cell],
        face_path=tree.path[face_cell],
        units=units,
        hits=hits,
        face_area=face_area,
        left=edges.left[two],
        right=edges.right[two],
        xy=edges.xy[two],
        length=edges.length[two],
        open_xy=edges.xy[one],
        open_face=np.where(open_left, edges.left[one], edges.right[one]),
        open_left=open_left,
        n_clip=tree.n_clip,
        n_cells=n_cells,
        anomalies=anomalies,
    )


@dataclass(frozen=True)
class _Light:
    """A partition's result without its face geometries (those stay on the worker)."""

    n_faces: int
    face_depth: IntArray
    face_path: IntArray
    units: IntArray
    face_area: FloatArray
    overlap_area: FloatArray  # planar area of faces covered twice by a layer
    left: IntArray
    right: IntArray
    xy: npt.NDArray[Any]
    length: FloatArray
    open_xy: npt.NDArray[Any]
    open_face: IntArray
    open_left: npt.NDArray[np.bool_]
    n_clip: int
    n_cells: int
    anomalies: int


def _light(res: _PartResult) -> _Light:
    overlap = res.hits > 1
    planar = shapely.area(res.faces) if len(res.faces) else np.empty(0)
    return _Light(
        n_faces=len(res.faces),
        face_depth=res.face_depth,
        face_path=res.face_path,
        units=res.units,
        face_area=res.face_area,
        overlap_area=np.array(
            [float(planar[overlap[:, li]].sum()) for li in range(overlap.shape[1])]
        ),
        left=res.left,
        right=res.right,
        xy=res.xy,
        length=res.length,
        open_xy=res.open_xy,
        open_face=res.open_face,
        open_left=res.open_left,
        n_clip=res.n_clip,
        n_cells=res.n_cells,
        anomalies=res.anomalies,
    )


def _take_faces(res: _PartResult, ids: IntArray) -> GeomArray:
    return np.asarray(res.faces[ids], dtype=object)


def _dissolve_partition(
    res: _PartResult,
    group: IntArray,
    n_groups: int,
    o_left: IntArray,
    o_right: IntArray,
    o_xy: npt.NDArray[Any],
    o_length: FloatArray,
    grid: float,
) -> tuple[GeomArray, IntArray]:
    """Outlines of the atoms lying wholly in this partition (local face ids).

    The partition's own matched segments plus its partition-edge segments as
    cut and matched on the client (other partitions' faces are ``-1``), in the
    local kernel's order (sorted by end points), so the traced rings are the
    ones a single pass would trace.
    """
    left = np.concatenate([res.left, o_left]).astype(np.int64)
    right = np.concatenate([res.right, o_right]).astype(np.int64)
    xy = np.concatenate([res.xy, o_xy.astype(res.xy.dtype)]).reshape(-1, 4)
    length = np.concatenate([res.length, o_length])
    o = np.lexsort((xy[:, 3], xy[:, 2], xy[:, 1], xy[:, 0]))
    edges = _engine.Edges(left[o], right[o], xy[o], length[o])
    geom, n_parts = _engine.dissolve(edges, group, n_groups, grid, faces=res.faces)
    return np.asarray(geom, dtype=object), np.asarray(n_parts, dtype=np.int64)


# -- partitioning ------------------------------------------------------------------


def _partition_cells(tree: _Tree, npartitions: int) -> IntArray:
    """Partition of each (compacted) top cell: Hilbert runs of equal load."""
    n_cells = len(tree.cells)
    if n_cells == 0:
        return np.empty(0, dtype=np.int64)
    ncoord = shapely.get_num_coordinates(tree.ps.geom).astype(np.float64)
    load = np.bincount(
        tree.ps.cell, weights=np.where(tree.ps.full, 1.0, ncoord), minlength=n_cells
    )
    c = tree.cells
    centres = gpd.GeoSeries(
        shapely.points((c[:, 0] + c[:, 2]) / 2.0, (c[:, 1] + c[:, 3]) / 2.0)
    )
    bounds = (c[:, 0].min(), c[:, 1].min(), c[:, 2].max(), c[:, 3].max())
    h = centres.hilbert_distance(total_bounds=bounds, level=_HILBERT_LEVEL)
    order = np.argsort(h.to_numpy(), kind="stable")
    cum = np.cumsum(load[order])
    k = max(1, min(int(npartitions), n_cells))
    # a cell starts partition j when the load before it reaches j/k of the total
    before = cum - load[order]
    part_sorted = np.minimum((before * k / max(cum[-1], 1.0)).astype(np.int64), k - 1)
    part = np.empty(n_cells, dtype=np.int64)
    part[order] = part_sorted
    return part


def _subtree(tree: _Tree, cell_ids: IntArray) -> _Tree:
    """The pieces of some top cells (order kept), with those cells renumbered."""
    sel = np.flatnonzero(np.isin(tree.ps.cell, cell_ids))
    ps = tree.ps.take(sel)
    remap = np.full(len(tree.cells), -1, dtype=np.int64)
    remap[cell_ids] = np.arange(len(cell_ids))
    ps.cell = remap[ps.cell]
    return _Tree(ps, tree.cells[cell_ids], tree.depth[cell_ids], tree.path[cell_ids], 0)


# -- stitching ---------------------------------------------------------------------


def _match_open(
    xy: npt.NDArray[Any], face: IntArray, left: npt.NDArray[np.bool_]
) -> tuple[IntArray, IntArray, npt.NDArray[Any], int]:
    """Cut one-sided segments at every vertex on their line and pair them up."""
    if len(xy) == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, np.empty((0, 4), dtype=np.int64), 0
    a: Any = xy[:, :2].copy()
    b: Any = xy[:, 2:].copy()
    vert = a[:, 0] == b[:, 0]
    horiz = (a[:, 1] == b[:, 1]) & ~vert
    border = np.flatnonzero(vert | horiz)
    if len(border):
        a, b, face, left = _engine._cut_border(a, b, face, left, border, vert[border])
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    left = left != swap
    order = np.lexsort((face, hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]))
    lo, hi, face, left = lo[order], hi[order], face[order], left[order]
    first = _engine._run_starts(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
    run = np.cumsum(first) - 1
    n = int(run[-1]) + 1
    f_left = np.full(n, -1, dtype=np.int64)
    f_right = np.full(n, -1, dtype=np.int64)
    n_left = np.bincount(run[left], minlength=n)
    n_right = np.bincount(run[~left], minlength=n)
    f_left[run[left]] = face[left]
    f_right[run[~left]] = face[~left]
    anomalies = int(((n_left > 1) | (n_right > 1)).sum())
    start = np.flatnonzero(first)
    return f_left, f_right, np.column_stack([lo[start], hi[start]]), anomalies


@dataclass(frozen=True)
class _Stitched:
    """The whole territory's faces (without geometry) and their borders."""

    arr: _engine.Arrangement  # faces: None placeholders (geometry on workers)
    face_area: FloatArray
    face_part: IntArray  # partition of each face
    face_local: IntArray  # its index in the partition
    is_open: npt.NDArray[np.bool_]  # border segment on a partition edge


def _stitch(parts: Sequence[_Light], n_layers: int, grid: float) -> _Stitched:
    """One arrangement (faces in the local kernel's order) from the partitions."""
    sizes = np.array([p.n_faces for p in parts], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(offset[-1])
    e64 = np.empty(0, dtype=np.int64)
    depth = np.concatenate([p.face_depth for p in parts] or [e64])
    path = np.concatenate([p.face_path for p in parts] or [e64])
    # faces of one cell are contiguous inside one partition: a stable sort by
    # (depth, path) keeps their order
    order = np.lexsort((np.arange(n), path, depth))
    new_id = np.empty(n, dtype=np.int64)
    new_id[order] = np.arange(n)
    face_part = np.repeat(np.arange(len(parts), dtype=np.int64), sizes)[order]
    face_local = (np.arange(n, dtype=np.int64) - np.repeat(offset[:-1], sizes))[order]

    def gid(p: int, local: IntArray) -> IntArray:
        return np.where(local >= 0, new_id[np.maximum(local, 0) + offset[p]], -1)

    units = np.concatenate(
        [p.units for p in parts] or [np.empty((0, n_layers), np.int64)]
    )[order]
    face_area = np.concatenate([p.face_area for p in parts] or [np.empty(0)])[order]
    xy0 = np.empty((0, 4), dtype=parts[0].xy.dtype if parts else np.int64)
    o_left, o_right, o_xy, anomalies = _match_open(
        np.concatenate([p.open_xy for p in parts] or [xy0]).reshape(-1, 4),
        np.concatenate([gid(i, p.open_face) for i, p in enumerate(parts)] or [e64]),
        np.concatenate([p.open_left for p in parts] or [np.empty(0, bool)]),
    )
    # the kernel measures grid-unit (integer) coordinates times the grid
    scale = grid if np.issubdtype(o_xy.dtype, np.integer) else 1.0
    d = (o_xy[:, 2:] - o_xy[:, :2]).astype(np.float64)
    o_length = np.hypot(d[:, 0], d[:, 1]) * scale
    e_left = np.concatenate([*(gid(i, p.left) for i, p in enumerate(parts)), o_left])
    e_right = np.concatenate([*(gid(i, p.right) for i, p in enumerate(parts)), o_right])
    e_xy = np.concatenate([*(p.xy for p in parts), o_xy.astype(xy0.dtype)])
    e_xy = e_xy.reshape(-1, 4)
    length = np.concatenate([*(p.length for p in parts), o_length])
    is_open = np.zeros(len(length), dtype=bool)
    is_open[len(length) - len(o_length) :] = True
    # the local kernel lists segments sorted by their end points
    o = np.lexsort((e_xy[:, 3], e_xy[:, 2], e_xy[:, 1], e_xy[:, 0]))
    edges = _engine.Edges(
        e_left[o].astype(np.int64), e_right[o].astype(np.int64), e_xy[o], length[o]
    )
    overlap = (
        np.sum([p.overlap_area for p in parts], axis=0) if parts else np.zeros(n_layers)
    )
    stats: dict[str, object] = {
        "cells": int(sum(p.n_cells for p in parts)),
        "faces": n,
        "edges": len(length),
        "edge_anomalies": int(sum(p.anomalies for p in parts) + anomalies),
        "self_overlap_area": [float(v) for v in overlap],
    }
    faces = np.full(n, None, dtype=object)
    arr = _engine.Arrangement(faces, units, edges, grid, stats)
    return _Stitched(arr, face_area, face_part, face_local, is_open[o])


def _outlines(
    client: Any,
    futures: Sequence[Any],
    st: _Stitched,
    group: IntArray,
    n_groups: int,
) -> tuple[GeomArray, IntArray]:
    """Atom outlines: on the workers for atoms inside one partition, else here.

    An atom lies in one partition when all its faces do; its outline is then
    made of that partition's segments (including its partition-edge segments as
    matched here) and is traced there. Atoms crossing partition edges are
    traced once on the client, over the whole territory's segments, with their
    faces fetched for the area check.
    """
    grid = st.arr.grid
    geom = np.full(n_groups, None, dtype=object)
    geom[:] = [shapely.Polygon()] * n_groups
    n_parts = np.zeros(n_groups, dtype=np.int64)
    if n_groups == 0:
        return geom, n_parts
    sel = group >= 0
    lo = np.full(n_groups, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n_groups, -1, dtype=np.int64)
    np.minimum.at(lo, group[sel], st.face_part[sel])
    np.maximum.at(hi, group[sel], st.face_part[sel])
    local = (lo == hi) & (hi >= 0)
    e = st.arr.edges
    open_ids = np.flatnonzero(st.is_open)
    ol, orr = e.left[open_ids], e.right[open_ids]
    pl = np.where(ol >= 0, st.face_part[np.maximum(ol, 0)], -1)
    pr = np.where(orr >= 0, st.face_part[np.maximum(orr, 0)], -1)
    tasks = []
    for p, fut in enumerate(futures):
        mine = np.flatnonzero(local & (lo == p))
        faces_p = np.flatnonzero(st.face_part == p)
        if len(mine) == 0:
            continue
        g_local = np.full(len(faces_p), -1, dtype=np.int64)
        remap = np.full(n_groups, -1, dtype=np.int64)
        remap[mine] = np.arange(len(mine))  # increasing: same ring order
        g = group[faces_p]
        g_local[st.face_local[faces_p]] = np.where(g >= 0, remap[np.maximum(g, 0)], -1)
        touch = (pl == p) | (pr == p)
        ids = open_ids[touch]
        to_local = np.full(len(st.face_part), -1, dtype=np.int64)
        to_local[faces_p] = st.face_local[faces_p]
        a_l = np.where(e.left[ids] >= 0, to_local[np.maximum(e.left[ids], 0)], -1)
        a_r = np.where(e.right[ids] >= 0, to_local[np.maximum(e.right[ids], 0)], -1)
        task = client.submit(
            _dissolve_partition,
            fut,
            g_local,
            len(mine),
            a_l,
            a_r,
            e.xy[ids],
            e.length[ids],
            grid,
            pure=False,
        )
        tasks.append((mine, task))
    cross = np.flatnonzero(~local & (hi >= 0))
    if len(cross):
        remap = np.full(n_groups, -1, dtype=np.int64)
        remap[cross] = np.arange(len(cross))
        g_cross = np.where(sel, remap[np.maximum(group, 0)], -1)
        need = np.flatnonzero(g_cross >= 0)
        faces = np.full(len(group), None, dtype=object)
        fetch = []
        for p, fut in enumerate(futures):
            ids = need[st.face_part[need] == p]
            if len(ids):
                fetch.append((ids, client.submit(_take_faces, fut, st.face_local[ids])))
        for ids, task in fetch:
            faces[ids] = task.result()
        g_geom, g_parts = _engine.dissolve(e, g_cross, len(cross), grid, faces=faces)
        geom[cross] = g_geom
        n_parts[cross] = g_parts
    for mine, task in tasks:
        g_geom, g_parts = task.result()
        geom[mine] = g_geom
        n_parts[mine] = g_parts
    return geom, n_parts


# -- public -----------------------------------------------------------------------


def _arrange_dask(
    layers: Sequence[GeomArray],
    *,
    grid: float,
    client: Any,
    max_load: int,
    npartitions: int | None,
) -> tuple[_Stitched, list[Any]]:
    """Distributed version of the kernel's ``arrange``: same faces, same order.

    Returns the stitched arrangement (face geometries stay on the workers; its
    ``stats`` add ``partitions``, ``top_cells`` and ``seconds``) and the futures
    of the partitions' results, which hold them.
    """
    n_layers = len(layers)
    if npartitions is None:
        npartitions = 4 * max(1, sum(client.nthreads().values()))
    npartitions = max(1, int(npartitions))
    if not any(len(shapely.get_parts(np.asarray(g, dtype=object))) for g in layers):
        empty = _stitch([], n_layers, grid)
        empty.arr.stats.update(partitions=0, top_cells=0, clip_calls=0)
        return empty, []
    t0 = time.perf_counter()
    tree = _grow(
        _root(layers, grid),
        grid,
        max_load,
        stop_cells=_CELLS_PER_PARTITION * npartitions,
    )
    top_clip = tree.n_clip
    tree = _compact(tree)
    part = _partition_cells(tree, npartitions)
    groups = [np.flatnonzero(part == j) for j in range(int(part.max()) + 1)]
    groups = [g for g in groups if len(g)]
    subtrees = [_subtree(tree, g) for g in groups]
    logger.info(
        "dask engine: %d top cells in %d partitions (%d clips on the client)",
        len(tree.cells),
        len(subtrees),
        top_clip,
    )
    del tree
    t1 = time.perf_counter()
    scattered = client.scatter(subtrees)
    del subtrees
    futures = client.map(
        _run_partition,
        scattered,
        n_layers=n_layers,
        grid=grid,
        max_load=int(max_load),
        pure=False,
    )
    lights: list[_Light] = client.gather(client.map(_light, futures, pure=False))
    del scattered
    t2 = time.perf_counter()
    st = _stitch(lights, n_layers, grid)
    st.arr.stats.update(
        clip_calls=int(top_clip + sum(r.n_clip for r in lights)),
        partitions=len(futures),
        top_cells=len(part),
        workers=1,
        seconds={
            "client_top": round(t1 - t0, 3),
            "workers": round(t2 - t1, 3),
            "client_stitch": round(time.perf_counter() - t2, 3),
        },
    )
    return st, futures


def build_atlas_dask(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    min_area_m2: float = DEFAULT_MIN_AREA_M2,
    snap_m: float = DEFAULT_SNAP_M,
    land_mask: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    population: Any = None,
    sliver_width_m: float = DEFAULT_SLIVER_WIDTH_M,
    sliver_share: float = DEFAULT_SLIVER_SHARE,
    max_load: int = _engine.DEFAULT_MAX_LOAD,
    scheduler: Any = None,
    npartitions: int | None = None,
    n_workers: int | None = None,
    processes: bool = True,
    timeout: float = 10.0,
) -> Atlas:
    """Build the atlas of *layers* on a Dask cluster (same result as the local engine).

    Parameters
    ----------
    layers, min_area_m2, snap_m, land_mask, population, sliver_width_m, \
sliver_share, max_load
        As :func:`geodecoupage.overlay.build_atlas`. A layer may also be a
        ``dask_geopandas.GeoDataFrame``; it is computed on the client first.
    scheduler
        ``None`` (default): a ``distributed.LocalCluster`` started for this call
        and closed after it (one thread per worker, dashboard on a free port).
        A string: the address of a running scheduler, e.g.
        ``"tcp://10.0.0.5:8786"``. A ``distributed.Client``: used as is and
        left open.
    npartitions
        Number of spatial partitions (tasks). Default: 4 per worker thread.
    n_workers
        Workers of the local cluster (default: dask's choice, one per core).
    processes
        Local cluster with worker processes (default) or threads in this
        process (``False``: no serialisation, handy for tests and notebooks).
    timeout
        Seconds to wait for a remote scheduler.

    Returns
    -------
    Atlas
        As :func:`geodecoupage.overlay.build_atlas`; ``params["engine"]`` is
        ``"dask"`` and ``params["kernel"]`` adds ``partitions``, ``top_cells``
        and ``seconds`` (``client_top``, ``workers``, ``client_stitch``,
        ``atoms_and_outlines``: where the wall time went).

    Raises
    ------
    SchedulerUnreachableError
        If *scheduler* is an address that does not answer within *timeout*.
    InvalidParameterError, MissingCRSError
        As :func:`geodecoupage.overlay.build_atlas`, or if *npartitions* is not
        a positive integer.

    Notes
    -----
    Partition edges are quadtree cell edges: every piece of every layer belongs
    to one cell and every cell to one partition, so nothing is counted twice.
    Face borders on a partition edge are cut at the vertices of both sides and
    matched on the client, and atoms and slivers are computed over the whole
    territory, so an atom crossing partitions is one atom, traced once (on the
    client; atoms inside one partition are traced on its worker). The client
    holds the inputs, the face labels and borders, and the result; the workers
    hold the pieces, linework and face geometries of their partitions. See
    ``docs/scaling.md``.
    """
    if npartitions is not None and (
        isinstance(npartitions, bool)
        or not isinstance(npartitions, int | np.integer)
        or npartitions < 1
    ):
        msg = f"npartitions must be a positive integer, got {npartitions!r}."
        raise InvalidParameterError(msg)
    layers = _computed(layers)
    prep = _prepare(
        layers,
        snap_m=snap_m,
        min_area_m2=min_area_m2,
        sliver_width_m=sliver_width_m,
        sliver_share=sliver_share,
        max_load=max_load,
        land_mask=land_mask,
        population=population,
    )
    with _client(
        scheduler, n_workers=n_workers, processes=processes, timeout=timeout
    ) as client:
        st, futures = _arrange_dask(
            prep.geoms,
            grid=prep.snap,
            client=client,
            max_load=int(max_load),
            npartitions=npartitions,
        )
        t0 = time.perf_counter()
        try:
            atlas = _finish(
                prep,
                st.arr,
                st.face_area,
                land_mask is not None,
                lambda group, n: _outlines(client, futures, st, group, n),
            )
        finally:
            client.cancel(futures)
    seconds = st.arr.stats.get("seconds")
    if isinstance(seconds, dict):  # the same dict object sits in params["kernel"]
        seconds["atoms_and_outlines"] = round(time.perf_counter() - t0, 3)
    return atlas


def _computed(layers: Mapping[str, Any]) -> dict[str, Any]:
    """Compute dask-geopandas layers on the client (others are kept as given)."""
    if not isinstance(layers, Mapping):
        return layers  # _prepare raises the error
    out = {}
    for k, v in layers.items():
        compute = getattr(v, "compute", None)
        if callable(compute) and not isinstance(v, gpd.GeoDataFrame):
            v = compute()
        out[k] = v
    return out


# -- inputs and result: mirror of build_atlas around the kernel call --------------
# build_atlas (overlay/atlas.py) has no hook for another kernel yet; the two
# functions below repeat its checks and its post-processing around
# _engine.arrange, with its private helpers. The equality tests
# (tests/overlay/test_dask_engine.py) fail if they drift apart.


@dataclass(frozen=True)
class _Prepared:
    keys: tuple[str, ...]
    codes: list[npt.NDArray[np.object_]]
    unit_code: list[IntArray]
    geoms: list[Any]
    snap: float
    min_area: float
    width_max: float
    tau: float
    max_load: int
    mask_col: int | None
    pop_col: int | None
    counts: FloatArray | None
    pop_total: float


def _prepare(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    snap_m: float,
    min_area_m2: float,
    sliver_width_m: float,
    sliver_share: float,
    max_load: int,
    land_mask: Any,
    population: Any,
) -> _Prepared:
    if not isinstance(layers, Mapping) or len(layers) == 0:
        msg = (
            "layers must be a non-empty mapping {key: GeoDataFrame}, e.g. {'mrc': mrc}."
        )
        raise InvalidParameterError(msg)
    keys = tuple(layers)
    for key in keys:
        if not isinstance(key, str) or not key or key in _atlas._RESERVED:
            msg = (
                f"Invalid layer key {key!r}: keys must be non-empty strings other "
                f"than {', '.join(sorted(_atlas._RESERVED))}."
            )
            raise InvalidParameterError(msg)
        if not isinstance(layers[key], gpd.GeoDataFrame):
            msg = (
                f"Layer {key!r} must be a GeoDataFrame, got "
                f"{type(layers[key]).__name__}."
            )
            raise InvalidParameterError(msg)
    snap = _atlas._check_number("snap_m", snap_m, positive=True)
    min_area = _atlas._check_number("min_area_m2", min_area_m2)
    width_max = _atlas._check_number("sliver_width_m", sliver_width_m)
    tau = _atlas._check_number("sliver_share", sliver_share)
    if int(max_load) < 16:
        msg = f"max_load must be an integer >= 16, got {max_load!r}."
        raise InvalidParameterError(msg)
    codes, unit_code = [], []
    for k in keys:
        raw = _atlas._layer_codes(layers[k])
        if any(c is None for c in raw):
            msg = (
                f"Layer {k!r} has units without a code (missing index values); "
                f"give every unit a code, or drop those rows."
            )
            raise InvalidParameterError(msg)
        uniq, inv = np.unique(raw.astype(str), return_inverse=True)
        codes.append(np.asarray(uniq, dtype=object))
        unit_code.append(np.asarray(inv, dtype=np.int64).ravel())
    geoms = [_atlas._prepare_geoms(layers[k], k) for k in keys]
    mask_col = pop_col = None
    counts = None
    pop_total = float("nan")
    if land_mask is not None:
        mask_col = len(geoms)
        geoms.append(_atlas._mask_geoms(land_mask))
    if population is not None:
        pframe = _atlas._population_frame(population)
        pgeoms = _atlas._prepare_geoms(pframe, "population")
        counts = pd.to_numeric(pframe[_POP], errors="coerce").to_numpy(dtype="float64")
        counts = np.nan_to_num(counts, nan=0.0)
        pop_total = float(counts.sum())
        pop_col = len(geoms)
        geoms.append(pgeoms)
    return _Prepared(
        keys,
        codes,
        unit_code,
        geoms,
        snap,
        min_area,
        width_max,
        tau,
        int(max_load),
        mask_col,
        pop_col,
        counts,
        pop_total,
    )


def _finish(
    prep: _Prepared,
    arr: _engine.Arrangement,
    face_area: FloatArray,
    has_mask: bool,
    outlines: Callable[[IntArray, int], tuple[GeomArray, IntArray]],
) -> Atlas:
    keys = prep.keys
    codes, unit_code = prep.codes, prep.unit_code
    n_vis = len(keys)
    units = arr.units
    inside: npt.NDArray[np.bool_] = np.asarray(
        (units[:, :n_vis] >= 0).any(axis=1), dtype=bool
    )
    if prep.mask_col is not None:
        inside &= units[:, prep.mask_col] >= 0
    face_pop = np.zeros(len(arr.faces))
    pop_unplaced = float("nan")
    density = None
    counts = prep.counts
    if counts is not None and prep.pop_col is not None:
        pu = units[:, prep.pop_col]
        has = pu >= 0
        parea = np.bincount(pu[has], weights=face_area[has], minlength=len(counts))
        density = np.where(parea > 0, counts / np.where(parea > 0, parea, 1.0), 0.0)
        face_pop = np.where(has, density[np.maximum(pu, 0)] * face_area, 0.0)
        pop_unplaced = float(counts[parea <= 0].sum())

    face_codes = np.column_stack(
        [
            np.where(units[:, li] >= 0, unit_code[li][np.maximum(units[:, li], 0)], -1)
            for li in range(n_vis)
        ]
    ).reshape(len(units), n_vis)
    atom_of, tuples = _atlas._group_rows(face_codes, inside)
    n_atoms0 = len(tuples)
    sliv = _atlas._merge_slivers(
        arr,
        atom_of,
        tuples,
        face_area,
        face_pop,
        min_area=prep.min_area,
        width_max=prep.width_max,
        tau=prep.tau,
    )
    final_atom = sliv.final_atom
    face_tuple = np.where(final_atom >= 0, final_atom, -1)
    used, dense = np.unique(face_tuple[face_tuple >= 0], return_inverse=True)
    group = np.full(len(face_tuple), -1, dtype=np.int64)
    group[face_tuple >= 0] = dense.ravel()
    atom_tuples = tuples[used]
    code_table = np.empty(atom_tuples.shape, dtype=object)
    for li in range(n_vis):
        col = atom_tuples[:, li]
        code_table[:, li] = np.where(col >= 0, codes[li][np.maximum(col, 0)], None)
    order = _atlas._order_by_codes(code_table)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    group = np.where(group >= 0, rank[np.maximum(group, 0)], -1)
    code_table = code_table[order]
    n_atoms = len(order)

    geom, n_parts = outlines(group, n_atoms)
    sel = group >= 0
    atom_area = np.bincount(group[sel], weights=face_area[sel], minlength=n_atoms)
    atom_pop = np.bincount(group[sel], weights=face_pop[sel], minlength=n_atoms)
    if density is None:
        atom_pop = np.full(n_atoms, np.nan)
    data: dict[str, Any] = {
        k: pd.array(code_table[:, i], dtype=object) for i, k in enumerate(keys)
    }
    data[_AREA] = atom_area.astype("float64")
    data[_POP] = atom_pop.astype("float64")
    data["n_parts"] = n_parts.astype("int64")
    atoms = gpd.GeoDataFrame(
        data,
        geometry=gpd.GeoSeries(geom, crs=WORK_CRS).values,
        crs=WORK_CRS,
        index=pd.RangeIndex(n_atoms, name="atom"),
    )
    covered_pop = float(face_pop[inside].sum())
    params: dict[str, object] = {
        "snap_m": prep.snap,
        "min_area_m2": prep.min_area,
        "sliver_width_m": prep.width_max,
        "sliver_share": prep.tau,
        "max_load": prep.max_load,
        "work_crs": WORK_CRS,
        "area_crs": AREA_CRS,
        "land_mask": has_mask,
        "n_faces": int(inside.sum()),
        "n_atoms_before_slivers": int(n_atoms0),
        "n_atoms": int(n_atoms),
        "n_pieces": int(sliv.n_components),
        "n_slivers": int(sliv.n_slivers),
        "sliver_area_m2": float(sliv.sliver_area),
        "n_slivers_isolated": int(sliv.n_isolated),
        "sliver_area_isolated_m2": float(sliv.isolated_area),
        "total_area_m2": float(atom_area.sum()),
        "self_overlap_area_m2": _atlas._per_layer(
            keys, arr.stats.get("self_overlap_area")
        ),
        "population_total": prep.pop_total,
        "population_in_atlas": covered_pop if density is not None else float("nan"),
        "population_outside": (prep.pop_total - covered_pop)
        if density is not None
        else float("nan"),
        "population_unplaced": pop_unplaced,
        "kernel": {
            k: v for k, v in arr.stats.items() if k not in ("self_overlap_area",)
        },
        "engine": "dask",
    }
    tuple_row = np.full(len(tuples), -1, dtype=np.int64)
    tuple_row[used] = rank[np.arange(len(used))]
    slivers = sliv.report(keys, codes, tuple_row)
    logger.info(
        "atlas (dask) of %s: %d atoms, %d slivers merged (%.1f km²), %d isolated",
        ", ".join(keys),
        n_atoms,
        sliv.n_slivers - sliv.n_isolated,
        sliv.sliver_area / 1e6,
        sliv.n_isolated,
    )
    return Atlas(atoms=atoms, layers=keys, params=params, slivers=slivers)
