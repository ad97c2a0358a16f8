"""Distributed atlas engine: the same arrangement, cut into spatial partitions on Dask.

:func:`geodecoupage.overlay.build_atlas` with ``engine="dask"`` (or
:func:`build_atlas_dask`, the same call with the local cluster's options) gives
the atlas of the local engine (same atoms, codes, areas and population, see
*Equality* below) with the heavy part of the kernel run as tasks on a
``dask.distributed`` cluster: a :class:`~distributed.LocalCluster` by default,
any running scheduler when its address (or a :class:`~distributed.Client`) is
given. Install it with the ``scale`` extra (``pip install
"geodecoupage[scale]"``: dask-geopandas and distributed); nothing of dask is
imported before the engine is asked for.

Both engines share everything but the arrangement of the quadtree cells:
``build_atlas`` checks and prepares the inputs (``atlas._prepare``: codes,
geometries in the working CRS, land mask and population as hidden layers),
then either arranges all cells in one process (``_engine.arrange``) or calls
:func:`_run` here, and both finish with ``atlas._finish`` (atoms, slivers,
areas, population, parameters). The quadtree (``_engine._root``, ``_grow``,
``_compact``), the per-cell arrangement (``_engine.arrange_cells``), the
segment matching (``_engine.match_segments``) and the face areas
(``atlas._face_areas``) are the kernel's own functions.

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
faces, labels and border segments are the same, in the same order; face areas
come from the same function and are summed into atoms in the same order, so
the atlas is bit-identical: same code tuples, areas, population and outline
vertices (``tests/overlay/test_dask_engine.py`` requires exact equality of
areas and population and ``equals_exact`` outlines).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

import geopandas as gpd
import shapely

from geodecoupage.errors import GeodecoupageError, InvalidParameterError
from geodecoupage.overlay import _engine
from geodecoupage.overlay import atlas as _atlas
from geodecoupage.overlay._engine import FloatArray, GeomArray, IntArray
from geodecoupage.overlay.atlas import Atlas

logger = logging.getLogger(__name__)

__all__ = ["SchedulerUnreachableError", "build_atlas_dask"]

#: Top cells per partition aimed at before the quadtree is handed to the workers.
_CELLS_PER_PARTITION = 8
#: Hilbert curve level for ordering the top cells (as dask-geopandas' default).
_HILBERT_LEVEL = 16


class SchedulerUnreachableError(GeodecoupageError, ConnectionError):
    """The Dask scheduler given to the distributed engine cannot be reached."""


# -- cluster ----------------------------------------------------------------------


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError as err:
        msg = (
            "engine='dask' needs the optional packages dask-geopandas and "
            "distributed, which are not installed; install them with: "
            "pip install 'geodecoupage[scale]' (or use engine='local')."
        )
        raise InvalidParameterError(msg) from err
    return distributed


@dataclass(frozen=True)
class _Cluster:
    """Where to run: a Client, a scheduler address, or a LocalCluster to start.

    Nothing is started or connected until :func:`_client` enters it, so that
    the inputs are checked first.
    """

    scheduler: Any = None
    n_workers: int | None = None
    processes: bool = True
    timeout: float = 10.0


def _cluster(scheduler: Any) -> _Cluster:
    """Check *scheduler* (``build_atlas``'s argument) without connecting."""
    distributed = _require_distributed()
    spec = scheduler if isinstance(scheduler, _Cluster) else _Cluster(scheduler)
    if not (
        spec.scheduler is None or isinstance(spec.scheduler, str | distributed.Client)
    ):
        msg = (
            f"scheduler must be None (a LocalCluster), a scheduler address such as "
            f"'tcp://10.0.0.5:8786', or a distributed.Client; got "
            f"{type(spec.scheduler).__name__}."
        )
        raise InvalidParameterError(msg)
    return spec


@contextlib.contextmanager
def _client(spec: _Cluster) -> Iterator[Any]:
    """Yield a Client: the one given, one connected to an address, or a local one."""
    distributed = _require_distributed()
    scheduler, timeout = spec.scheduler, spec.timeout
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if scheduler is None:
        kwargs: dict[str, Any] = {
            "processes": spec.processes,
            "threads_per_worker": 1,
            "dashboard_address": ":0",  # a free port: never clash with 8787
        }
        if spec.n_workers is not None:
            kwargs["n_workers"] = int(spec.n_workers)
        with (
            distributed.LocalCluster(**kwargs) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
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
    tree: _engine._Tree, n_layers: int, grid: float, max_load: int
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
    tree = _engine._compact(_engine._grow(tree, grid, max_load))
    n_cells = len(tree.cells)
    faces, face_cell, units, hits, edges, anomalies = _engine.arrange_cells(
        tree.ps, tree.cells, n_layers, grid, 1
    )
    face_area = _atlas._face_areas(faces, 1, grid)
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


def _partition_cells(tree: _engine._Tree, npartitions: int) -> IntArray:
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


def _subtree(tree: _engine._Tree, cell_ids: IntArray) -> _engine._Tree:
    """The pieces of some top cells (order kept), with those cells renumbered."""
    sel = np.flatnonzero(np.isin(tree.ps.cell, cell_ids))
    ps = tree.ps.take(sel)
    remap = np.full(len(tree.cells), -1, dtype=np.int64)
    remap[cell_ids] = np.arange(len(cell_ids))
    ps.cell = remap[ps.cell]
    return _engine._Tree(
        ps, tree.cells[cell_ids], tree.depth[cell_ids], tree.path[cell_ids], 0
    )


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
    return _engine.match_segments(a, b, face, left)


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
    o_length = _engine.segment_lengths(o_xy, grid)
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
    tree = _engine._grow(
        _engine._root(layers, grid),
        grid,
        max_load,
        stop_cells=_CELLS_PER_PARTITION * npartitions,
    )
    top_clip = tree.n_clip
    tree = _engine._compact(tree)
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
    scheduler: Any = None,
    npartitions: int | None = None,
    n_workers: int | None = None,
    processes: bool = True,
    timeout: float = 10.0,
    **options: Any,
) -> Atlas:
    """``build_atlas(layers, engine="dask", ...)``, with the local cluster's options.

    Parameters
    ----------
    layers
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
    **options
        Any other keyword of :func:`geodecoupage.overlay.build_atlas`
        (``min_area_m2``, ``snap_m``, ``land_mask``, ``population``,
        ``sliver_width_m``, ``sliver_share``, ``max_load``).

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
        a positive integer, or the ``scale`` extra is not installed.

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
    return _atlas.build_atlas(
        layers,
        engine="dask",
        scheduler=_Cluster(scheduler, n_workers, processes, timeout),
        npartitions=npartitions,
        **options,
    )


def _check(
    layers: Mapping[str, Any], scheduler: Any, npartitions: int | None
) -> tuple[Mapping[str, Any], _Cluster]:
    """Checks of the dask engine's own arguments, before the inputs are prepared.

    Returns the layers with dask-geopandas frames computed, and where to run.
    """
    if npartitions is not None and (
        isinstance(npartitions, bool)
        or not isinstance(npartitions, int | np.integer)
        or npartitions < 1
    ):
        msg = f"npartitions must be a positive integer, got {npartitions!r}."
        raise InvalidParameterError(msg)
    return _computed(layers), _cluster(scheduler)


def _run(prep: _atlas._Prepared, cluster: _Cluster, npartitions: int | None) -> Atlas:
    """The atlas of prepared inputs, arranged on the cluster (``build_atlas``)."""
    with _client(cluster) as client:
        st, futures = _arrange_dask(
            prep.geoms,
            grid=prep.snap,
            client=client,
            max_load=prep.max_load,
            npartitions=npartitions,
        )
        t0 = time.perf_counter()
        try:
            atlas = _atlas._finish(
                prep,
                st.arr,
                st.face_area,
                lambda group, n: _outlines(client, futures, st, group, n),
                engine="dask",
            )
        finally:
            client.cancel(futures)
    seconds = st.arr.stats.get("seconds")
    if isinstance(seconds, dict):  # the same dict object sits in params["kernel"]
        seconds["atoms_and_outlines"] = round(time.perf_counter() - t0, 3)
    return atlas


def _computed(layers: Mapping[str, Any]) -> Mapping[str, Any]:
    """Compute dask-geopandas layers on the client (others are kept as given)."""
    if not isinstance(layers, Mapping):
        return layers  # the atlas' _prepare raises the error
    out = {}
    for k, v in layers.items():
        compute = getattr(v, "compute", None)
        if callable(compute) and not isinstance(v, gpd.GeoDataFrame):
            v = compute()
        out[k] = v
    return out
