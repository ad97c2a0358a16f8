"""Private intersection kernel of the atlas: one planar arrangement of all layers.

The common refinement of N polygon layers is computed in one pass, without any
pairwise polygon intersection:

1. **Quadtree clipping.** A grid-aligned quadtree is grown over all layers. A cell
   is split in four while the polygons crossing it hold more than ``max_load``
   vertices. Polygons are cut with GEOS's rectangle clipper (``clip_by_rect``,
   linear in the vertices), so each polygon is read once per quadtree level
   instead of once per partner polygon, and every later step works on small
   pieces.
2. **Interior shortcut.** A piece that covers its whole cell is flagged *full* and
   contributes no linework: its unit is known for every face of the cell without
   any geometric test. Most of the territory falls in such cells.
3. **Linework.** In each cell the borders of the other pieces are rounded to the
   snapping grid, and every segment is kept once (the border between two units
   of a layer, or a border shared by layers drawn from the same source, would
   otherwise be noded again and again; near-collinear duplicates are the most
   expensive input a noder can get).
4. **Arrangement.** The linework of each cell is noded once (``union_all`` with
   ``grid_size``: GEOS snap-rounding, so every vertex lies on the grid) and
   polygonised into faces.
5. **Labels.** Each face takes, for each layer, the unit whose piece contains a
   point inside the face (STRtree query with prepared pieces), or ``-1``.
6. **Edges.** Face borders are matched segment by segment in integer grid
   coordinates (cell borders cut at every vertex of both sides), which gives the
   exact adjacency between faces with the shared length. The atlas uses it to
   merge slivers into the neighbour with the longest shared border and to
   dissolve faces into atoms without any polygon union.

"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

import shapely
from shapely import lib as _shapely_lib

logger = logging.getLogger(__name__)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
GeomArray = npt.NDArray[np.object_]

#: A quadtree cell is split while the pieces crossing it hold more vertices.
DEFAULT_MAX_LOAD = 2_000
#: A cell is never split below this side length, in grid units.
_MIN_CELL_GRID_UNITS = 64
_POLYGON, _MULTIPOLYGON, _COLLECTION = 3, 6, 7


@dataclass(frozen=True)
class Edges:
    """Unique boundary segments of the faces, with the face on each side.

    Attributes
    ----------
    left, right
        Face on the left and on the right of the segment run from ``(x0, y0)`` to
        ``(x1, y1)`` (``-1``: no face on that side).
    xy
        ``(n, 4)`` int64 end points ``x0, y0, x1, y1`` in grid units, with
        ``(x0, y0) < (x1, y1)`` in lexicographic order.
    length
        Length in CRS units (metres).
    """

    left: IntArray
    right: IntArray
    xy: IntArray
    length: FloatArray


@dataclass(frozen=True)
class Arrangement:
    """Faces of the common refinement produced by :func:`arrange`.

    Attributes
    ----------
    faces
        Single Polygons in the input CRS, vertices on the grid; they do not
        overlap and their union is the union of the layers (and of the holes
        between them inside a quadtree cell, labelled ``-1`` everywhere).
    units
        ``(n_faces, n_layers)`` int64: index of the covering unit in each layer,
        ``-1`` where the layer does not cover the face.
    edges
        Adjacency of the faces (see :class:`Edges`).
    grid
        The grid size used (CRS units).
    stats
        Counters for logs and ``Atlas.params``.
    """

    faces: GeomArray
    units: IntArray
    edges: Edges
    grid: float
    stats: dict[str, object] = field(default_factory=dict)


# -- small helpers --------------------------------------------------------------


def explode_polygons(geoms: GeomArray) -> tuple[GeomArray, IntArray]:
    """Split geometries into their polygons with non-zero area.

    Overlay results can be MultiPolygons or GeometryCollections holding lines or
    points where two polygons touch; only their polygons are kept.

    Returns
    -------
    parts, index
        The single Polygons and, for each, the position of its source geometry.
    """
    geoms = np.asarray(geoms, dtype=object)
    parts, idx = shapely.get_parts(geoms, return_index=True)
    parts = np.asarray(parts, dtype=object)
    idx = np.asarray(idx, dtype=np.int64)
    while True:
        types = shapely.get_type_id(parts)
        nested = np.isin(types, (_MULTIPOLYGON, _COLLECTION))
        if not nested.any():
            break
        sub, sub_idx = shapely.get_parts(parts[nested], return_index=True)
        flat_idx = idx[nested][np.asarray(sub_idx, dtype=np.int64)]
        parts = np.concatenate([parts[~nested], np.asarray(sub, dtype=object)])
        idx = np.concatenate([idx[~nested], flat_idx])
    keep = shapely.get_type_id(parts) == _POLYGON
    keep[keep] = shapely.area(parts[keep]) > 0
    order = np.argsort(idx[keep], kind="stable")
    return parts[keep][order], idx[keep][order]


def _clip_many(geoms: GeomArray, bounds: FloatArray) -> GeomArray:
    """Clip each geometry to its own rectangle (GEOS RectangleIntersection)."""
    if len(geoms) == 0:
        return np.empty(0, dtype=object)
    try:  # the ufunc broadcasts arrays of rectangles; the public wrapper refuses
        out = _shapely_lib.clip_by_rect(
            geoms,
            np.ascontiguousarray(bounds[:, 0]),
            np.ascontiguousarray(bounds[:, 1]),
            np.ascontiguousarray(bounds[:, 2]),
            np.ascontiguousarray(bounds[:, 3]),
        )
    except TypeError:  # pragma: no cover - a shapely without array support
        out = np.array(
            [_clip_one(g, b) for g, b in zip(geoms, bounds, strict=True)],
            dtype=object,
        )
    except shapely.errors.GEOSException:
        # the fast clipper refuses a few degenerate inputs: clip one by one and
        # fall back to a full (robust) intersection where it fails
        out = np.array(
            [_clip_one(g, b) for g, b in zip(geoms, bounds, strict=True)],
            dtype=object,
        )
    return np.asarray(out, dtype=object)


def _clip_one(geom: shapely.Geometry, b: FloatArray) -> shapely.Geometry:
    try:
        return shapely.clip_by_rect(geom, *map(float, b))
    except shapely.errors.GEOSException:
        return shapely.intersection(geom, shapely.box(*map(float, b)))


def _cell_boxes(bounds: FloatArray) -> GeomArray:
    return np.asarray(
        shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3]),
        dtype=object,
    )


def _is_full(geoms: GeomArray, cell_bounds: FloatArray) -> BoolArray:
    """True where a piece covers its whole (rectangular) cell."""
    box_area = (cell_bounds[:, 2] - cell_bounds[:, 0]) * (
        cell_bounds[:, 3] - cell_bounds[:, 1]
    )
    return np.asarray(shapely.area(geoms) >= box_area * (1.0 - 1e-12), dtype=bool)


def _bbox_overlap(a: FloatArray, b: FloatArray) -> BoolArray:
    """Strictly positive overlap of two arrays of bounds (touching is not overlap)."""
    return np.asarray(
        (np.minimum(a[:, 2], b[:, 2]) > np.maximum(a[:, 0], b[:, 0]))
        & (np.minimum(a[:, 3], b[:, 3]) > np.maximum(a[:, 1], b[:, 1])),
        dtype=bool,
    )


def _ranges(starts: IntArray, counts: IntArray) -> IntArray:
    """Concatenate ``arange(s, s + c)`` for every (s, c) pair, vectorised."""
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - offsets + np.repeat(starts, counts)


def _pack(*cols: IntArray) -> IntArray | None:
    """One int64 key per row that sorts like the rows (first column first).

    ``None`` when the mixed-radix key would not fit in 62 bits (the caller
    then sorts on the columns).
    """
    n = len(cols[0])
    if n == 0:
        return np.empty(0, dtype=np.int64)
    lows = [int(c.min()) for c in cols]
    spans = [int(c.max()) - lo + 1 for c, lo in zip(cols, lows, strict=True)]
    total = 1
    for sp in spans:
        total *= sp
    if total >= 2**62:
        return None
    key = np.zeros(n, dtype=np.int64)
    for c, lo, sp in zip(cols, lows, spans, strict=True):
        key = key * sp + (c - lo)
    return key


def _run_starts(*keys: npt.NDArray[np.int64]) -> BoolArray:
    """True where a row of the (sorted) key columns differs from the previous."""
    n = len(keys[0])
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = np.logical_or.reduce([k[1:] != k[:-1] for k in keys])
    return first


def default_workers() -> int:
    """Threads used by the kernel by default: 1.

    The GEOS calls that dominate the kernel (``union_all`` along an axis,
    ``polygonize``) hold the GIL in shapely 2.2: two threads took the same wall
    time as one on the province (and two processes were slower, the geometry
    going back and forth). ``workers=`` stays available for other builds.
    """
    return 1


def _chunked(
    fn: Callable[[IntArray], list[npt.NDArray[np.generic]]],
    weights: FloatArray,
    workers: int,
) -> list[npt.NDArray[np.generic]]:
    """Run ``fn(ids)`` on balanced chunks of ``arange(len(weights))``, concatenate.

    *fn* returns a list of arrays; the i-th outputs of every chunk are
    concatenated in chunk order.
    """
    n = len(weights)
    n_chunks = 1 if workers <= 1 or n < 2 else min(n, 4 * workers)
    if n_chunks == 1:
        return fn(np.arange(n, dtype=np.int64))
    cum = np.cumsum(weights)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_chunks) / n_chunks)
    bounds = np.unique(np.concatenate([[0], cuts, [n]]))
    chunks = [
        np.arange(lo, hi, dtype=np.int64)
        for lo, hi in itertools.pairwise(bounds)
        if hi > lo
    ]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(fn, chunks))
    return [np.concatenate([r[i] for r in results]) for i in range(len(results[0]))]


# -- 0. snapping ------------------------------------------------------------------


def snap(geoms: GeomArray, grid: float) -> GeomArray:
    """Round every vertex to the *grid*; repair the few polygons this invalidates.

    Pointwise rounding, then GEOS's topology-preserving precision reduction
    where rounding left a polygon invalid. :func:`arrange` does not call it (it
    rounds the clipped linework and nodes it with ``union_all(grid_size=...)``);
    the benchmark uses it to give the chained overlay snapped inputs.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = np.asarray(shapely.set_precision(geoms, grid, mode="pointwise"), dtype=object)
    bad = np.flatnonzero(~shapely.is_valid(out))
    if len(bad):
        out[bad] = shapely.set_precision(geoms[bad], grid)
    return out


# -- 1. quadtree -------------------------------------------------------------------


@dataclass
class _Pieces:
    """Parallel arrays describing clipped pieces."""

    geom: GeomArray
    layer: IntArray
    unit: IntArray
    cell: IntArray
    full: BoolArray

    def take(self, idx: IntArray | BoolArray) -> _Pieces:
        return _Pieces(
            self.geom[idx],
            self.layer[idx],
            self.unit[idx],
            self.cell[idx],
            self.full[idx],
        )

    @staticmethod
    def concat(parts: Sequence[_Pieces]) -> _Pieces:
        return _Pieces(
            np.concatenate([p.geom for p in parts]),
            np.concatenate([p.layer for p in parts]),
            np.concatenate([p.unit for p in parts]),
            np.concatenate([p.cell for p in parts]),
            np.concatenate([p.full for p in parts]),
        )


@dataclass
class _Tree:
    """Pieces with their cells, and each cell's depth and quadtree path.

    ``path`` holds the base-4 digits of the quadrants (SW, SE, NW, NE) from the
    root; sorting cells by ``(depth, path)`` gives the order in which
    :func:`_grow` creates them (level by level, children after their parent).
    """

    ps: _Pieces
    cells: FloatArray  # (n, 4) bounds
    depth: IntArray
    path: IntArray
    n_clip: int = 0


def _root(layers: Sequence[GeomArray], grid: float) -> _Tree:
    """Exploded pieces of every layer in one root cell on the grid."""
    sets = []
    for li, arr in enumerate(layers):
        parts, idx = explode_polygons(np.asarray(arr, dtype=object))
        n = len(parts)
        sets.append(
            _Pieces(
                parts,
                np.full(n, li, dtype=np.int64),
                idx,
                np.zeros(n, dtype=np.int64),
                np.zeros(n, dtype=bool),
            )
        )
    ps = _Pieces.concat(sets)
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
    """Split cells level by level while their pieces hold more than *max_load* vertices.

    With *stop_cells*, stop once that many cells hold pieces (the distributed
    engine grows the top of the tree on the client and the rest per partition).
    Within every cell the pieces keep one order (pieces full in the parent
    first, then the clipped ones, each in the parent's order), whether the
    tree is grown in one go or in two steps, so the linework, hence the faces,
    are the same.
    """
    ps, cells, depth, path = tree.ps, tree.cells, tree.depth, tree.path
    n_clip = tree.n_clip
    min_side = _MIN_CELL_GRID_UNITS * grid
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
        # a full piece is full in every child; the others are clipped where the
        # bounding boxes overlap
        mv.geom[mv.full] = _cell_boxes(cb[mv.full])
        todo = np.flatnonzero(~mv.full)
        hit = todo[_bbox_overlap(shapely.bounds(mv.geom[todo]), cb[todo])]
        n_clip += len(hit)
        clipped, src = explode_polygons(_clip_many(mv.geom[hit], cb[hit]))
        cut = mv.take(hit[src])
        cut.geom = clipped
        isfull = _is_full(clipped, cells[cut.cell])
        cut.geom[isfull] = _cell_boxes(cells[cut.cell[isfull]])
        cut.full = isfull
        ps = _Pieces.concat([stay, mv.take(mv.full), cut])
        ncoord = shapely.get_num_coordinates(ps.geom).astype(np.float64)
    return _Tree(ps, cells, depth, path, n_clip)


def _compact(tree: _Tree) -> _Tree:
    """Keep the cells holding pieces, numbered in creation order (depth, path)."""
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


def _quadtree(
    layers: Sequence[GeomArray], grid: float, max_load: int
) -> tuple[_Pieces, FloatArray, int]:
    """Clip every layer into the leaves of one grid-aligned quadtree."""
    tree = _compact(_grow(_root(layers, grid), grid, max_load))
    return tree.ps, tree.cells, tree.n_clip


# -- 2-4. linework, arrangement ----------------------------------------------------


def _cell_linework(
    geoms: GeomArray, cell: IntArray, cells: FloatArray, grid: float
) -> GeomArray:
    """One MultiLineString per cell: the deduplicated borders of its pieces.

    Vertices are rounded to the grid; each segment is kept once, and consecutive
    kept segments are rejoined into polylines. The cell's own boundary is added
    so that every face of the cell closes.
    """
    n_cells = len(cells)
    rings, ring_src = shapely.get_parts(shapely.boundary(geoms), return_index=True)
    rings, sub = shapely.get_parts(rings, return_index=True)  # polygons with holes
    ring_cell = cell[np.asarray(ring_src)[sub]]
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    icoords = np.round(coords / grid)
    coords = icoords * grid
    icoords = icoords.astype(np.int64)
    same = cidx[1:] == cidx[:-1]
    a, b = icoords[:-1], icoords[1:]
    seg = np.flatnonzero(same & ((a[:, 0] != b[:, 0]) | (a[:, 1] != b[:, 1])))
    a, b = a[seg], b[seg]
    seg_cell = ring_cell[cidx[seg]]
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    # the first segment (lowest seg: the sort is stable) of every run of equal
    # (cell, lo, hi)
    k_lo = _pack(seg_cell, lo[:, 0], lo[:, 1])
    k_hi = _pack(hi[:, 0], hi[:, 1])
    if k_lo is not None and k_hi is not None:
        order = np.lexsort((k_hi, k_lo))
        first = _run_starts(k_lo[order], k_hi[order])
    else:
        order = np.lexsort((hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0], seg_cell))
        first = _run_starts(
            seg_cell[order], lo[order, 0], lo[order, 1], hi[order, 0], hi[order, 1]
        )
    kept = np.sort(seg[order[first]])
    # rejoin runs of consecutive kept segments into polylines
    new_run = np.ones(len(kept), dtype=bool)
    new_run[1:] = kept[1:] != kept[:-1] + 1
    run = np.cumsum(new_run) - 1
    is_last = np.ones(len(kept), dtype=bool)
    is_last[:-1] = new_run[1:]
    pts = np.concatenate([coords[kept], coords[kept[is_last] + 1]])
    pts_run = np.concatenate([run, run[is_last]])
    pts_pos = np.concatenate([2 * kept, 2 * kept[is_last] + 1])
    o = np.lexsort((pts_pos, pts_run))
    lines = np.asarray(shapely.linestrings(pts[o], indices=pts_run[o]), dtype=object)
    line_cell = ring_cell[cidx[kept[new_run]]]
    lines = np.concatenate([lines, shapely.boundary(_cell_boxes(cells))])
    line_cell = np.concatenate([line_cell, np.arange(n_cells)])
    o = np.argsort(line_cell, kind="stable")
    return np.asarray(
        shapely.multilinestrings(lines[o], indices=line_cell[o]), dtype=object
    )


def _faces(
    linework: GeomArray, grid: float, workers: int
) -> tuple[GeomArray, IntArray, FloatArray]:
    """Node and polygonise the linework of every cell; return faces and a point."""

    def run(ids: IntArray) -> list[npt.NDArray[np.generic]]:
        noded = shapely.union_all(linework[ids][:, None], grid_size=grid, axis=1)
        polys = shapely.polygonize(np.asarray(noded, dtype=object)[:, None])
        faces, local = shapely.get_parts(polys, return_index=True)
        faces = np.asarray(faces, dtype=object)
        keep = shapely.area(faces) > 0
        faces = faces[keep]
        pts = shapely.get_coordinates(shapely.point_on_surface(faces))
        return [faces, ids[np.asarray(local)[keep]], pts]

    weights = shapely.get_num_coordinates(linework).astype(np.float64)
    faces, face_cell, pts = _chunked(run, weights, workers)
    return (
        np.asarray(faces, dtype=object),
        np.asarray(face_cell, dtype=np.int64),
        np.asarray(pts, dtype=np.float64).reshape(-1, 2),
    )


# -- 5. labels ------------------------------------------------------------------------


def _label(
    ps: _Pieces,
    face_cell: IntArray,
    points: FloatArray,
    n_cells: int,
    n_layers: int,
    workers: int,
) -> tuple[IntArray, IntArray]:
    """Unit of each layer holding each face's interior point; count of holders."""
    big = np.iinfo(np.int64).max
    full_idx = np.flatnonzero(ps.full)
    full_unit = np.full((n_cells, n_layers), big, dtype=np.int64)
    full_hits = np.zeros((n_cells, n_layers), dtype=np.int64)
    np.minimum.at(full_unit, (ps.cell[full_idx], ps.layer[full_idx]), ps.unit[full_idx])
    np.add.at(full_hits, (ps.cell[full_idx], ps.layer[full_idx]), 1)
    units = full_unit[face_cell]
    hits = full_hits[face_cell]

    nf_idx = np.flatnonzero(~ps.full)
    tree = shapely.STRtree(shapely.points(points))

    def run(ids: IntArray) -> list[npt.NDArray[np.generic]]:
        piece_i, face_j = tree.query(ps.geom[nf_idx[ids]], predicate="contains")
        return [ids[piece_i], face_j.astype(np.int64)]

    weights = shapely.get_num_coordinates(ps.geom[nf_idx]).astype(np.float64)
    piece_i, face_j = _chunked(run, weights, workers)
    piece_i = nf_idx[np.asarray(piece_i, dtype=np.int64)]
    face_j = np.asarray(face_j, dtype=np.int64)
    same = ps.cell[piece_i] == face_cell[face_j]
    piece_i, face_j = piece_i[same], face_j[same]
    np.minimum.at(units, (face_j, ps.layer[piece_i]), ps.unit[piece_i])
    np.add.at(hits, (face_j, ps.layer[piece_i]), 1)
    units[units == big] = -1
    return units, hits


# -- 6. edges -------------------------------------------------------------------------


def _face_edges(
    faces: GeomArray, face_cell: IntArray, cells: FloatArray, grid: float
) -> tuple[Edges, int]:
    """Match the boundary segments of the faces (see :class:`Edges`)."""
    coords, ring_idx, ring_face, is_shell = face_rings(faces)
    q = np.rint(coords / grid).astype(np.int64)
    # the face lies on the left of a ring's segments when a shell is
    # counter-clockwise or a hole clockwise (orientation: sign of the exact
    # integer shoelace sum of the ring)
    ring_left = (_ring_cross_int(q, ring_idx, len(ring_face)) > 0) == is_shell
    # segments between consecutive distinct vertices of a ring (one gather)
    sel = np.flatnonzero(
        (ring_idx[1:] == ring_idx[:-1])
        & ((q[:-1, 0] != q[1:, 0]) | (q[:-1, 1] != q[1:, 1]))
    )
    a, b = q[sel], q[sel + 1]
    r = ring_idx[sel]
    face, left = ring_face[r], ring_left[r]

    # cut the segments lying on a cell border at every vertex met on that line,
    # so both sides of a border between cells of different sizes match
    cb = np.rint(cells / grid).astype(np.int64)[face_cell[face]]
    vert = (a[:, 0] == b[:, 0]) & ((a[:, 0] == cb[:, 0]) | (a[:, 0] == cb[:, 2]))
    horiz = (a[:, 1] == b[:, 1]) & ((a[:, 1] == cb[:, 1]) | (a[:, 1] == cb[:, 3]))
    horiz &= ~vert
    border = np.flatnonzero(vert | horiz)
    if len(border):
        a, b, face, left = _cut_border(a, b, face, left, border, vert[border])
    f_left, f_right, xy, anomalies = match_segments(a, b, face, left)
    return Edges(f_left, f_right, xy, segment_lengths(xy, grid)), anomalies


def face_rings(faces: GeomArray) -> tuple[FloatArray, IntArray, IntArray, BoolArray]:
    """Vertices of every ring of the faces, without building ring geometries.

    Rings come in :func:`shapely.get_rings` order (face by face, the shell then
    the holes). Only the few faces with holes are split into rings; the others
    are one ring holding all their coordinates.

    Returns
    -------
    xy, ring_of, ring_face, is_shell
        ``(n, 2)`` vertices (each ring closed), the ring of each vertex, the
        face of each ring and whether the ring is the face's shell.
    """
    faces = np.asarray(faces, dtype=object)
    xy = np.asarray(shapely.get_coordinates(faces), dtype=np.float64).reshape(-1, 2)
    n_coords = np.asarray(shapely.get_num_coordinates(faces), dtype=np.int64)
    n_holes = np.asarray(shapely.get_num_interior_rings(faces), dtype=np.int64)
    n_rings = np.where(n_coords > 0, 1 + np.maximum(n_holes, 0), 0)
    ring_face = np.repeat(np.arange(len(faces), dtype=np.int64), n_rings)
    ring_len = np.repeat(n_coords, n_rings)
    with_holes = np.flatnonzero((n_holes > 0) & (n_coords > 0))
    if len(with_holes):
        rings = shapely.get_rings(faces[with_holes])
        first_ring = np.cumsum(n_rings) - n_rings
        pos = _ranges(first_ring[with_holes], n_rings[with_holes])
        ring_len[pos] = shapely.get_num_coordinates(rings)
    ring_of = np.repeat(np.arange(len(ring_len), dtype=np.int64), ring_len)
    is_shell = np.ones(len(ring_face), dtype=bool)
    is_shell[1:] = ring_face[1:] != ring_face[:-1]
    return xy, ring_of, ring_face, is_shell


def _ring_cross_int(q: IntArray, ring_of: IntArray, n_rings: int) -> IntArray:
    """Twice the signed area of each closed ring of integer vertices, exactly.

    Vertices are taken relative to the ring's first one, so the int64 products
    stay far below overflow for any ring that fits in a quadtree cell.
    """
    out = np.zeros(n_rings, dtype=np.int64)
    if len(q) < 2:
        return out
    starts = np.flatnonzero(np.r_[True, ring_of[1:] != ring_of[:-1]])
    rel = q - np.repeat(q[starts], np.diff(np.append(starts, len(q))), axis=0)
    same = ring_of[1:] == ring_of[:-1]
    cross = rel[:-1, 0] * rel[1:, 1] - rel[1:, 0] * rel[:-1, 1]
    cross[~same] = 0
    np.add.at(out, ring_of[:-1], cross)
    return out


def match_segments(
    a: IntArray, b: IntArray, face: IntArray, left: BoolArray
) -> tuple[IntArray, IntArray, IntArray, int]:
    """Pair directed face-border segments that run between the same end points.

    Parameters
    ----------
    a, b
        ``(n, 2)`` int64 end points (grid units) of each segment, as traced.
    face
        Face the segment belongs to.
    left
        True where *face* lies on the left of ``a -> b``.

    Returns
    -------
    left, right, xy, anomalies
        One row per distinct segment, sorted by end points ``(lo, hi)``
        (``lo < hi`` lexicographically): the face on its left and right of
        ``lo -> hi`` (``-1``: none), ``xy = (lo, hi)``, and the number of
        segments with two faces on one side (a noding defect; 0 expected).
    """
    if len(a) == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, np.empty((0, 4), dtype=np.int64), 0
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    left = left != swap  # now relative to the direction lo -> hi
    k_lo, k_hi = _pack(lo[:, 0], lo[:, 1]), _pack(hi[:, 0], hi[:, 1])
    if k_lo is not None and k_hi is not None:
        order = np.lexsort((face, k_hi, k_lo))
        first = _run_starts(k_lo[order], k_hi[order])
        face, left = face[order], left[order]
        # end points are only needed once per distinct segment
        lo, hi = lo[order[first]], hi[order[first]]
        first_only = True
    else:
        order = np.lexsort((face, hi[:, 1], hi[:, 0], lo[:, 1], lo[:, 0]))
        lo, hi, face, left = lo[order], hi[order], face[order], left[order]
        first = _run_starts(lo[:, 0], lo[:, 1], hi[:, 0], hi[:, 1])
        first_only = False
    run = np.cumsum(first) - 1
    n = int(run[-1]) + 1
    f_left = np.full(n, -1, dtype=np.int64)
    f_right = np.full(n, -1, dtype=np.int64)
    n_left = np.bincount(run[left], minlength=n)
    n_right = np.bincount(run[~left], minlength=n)
    f_left[run[left]] = face[left]
    f_right[run[~left]] = face[~left]
    anomalies = int(((n_left > 1) | (n_right > 1)).sum())
    if not first_only:
        start = np.flatnonzero(first)
        lo, hi = lo[start], hi[start]
    return f_left, f_right, np.column_stack([lo, hi]), anomalies


def segment_lengths(xy: IntArray, grid: float) -> FloatArray:
    """Length in CRS units of segments given in grid units (``x0, y0, x1, y1``)."""
    d = (xy[:, 2:] - xy[:, :2]).astype(np.float64)
    return np.asarray(np.hypot(d[:, 0], d[:, 1]) * grid, dtype=np.float64)


def _cut_border(
    a: IntArray,
    b: IntArray,
    face: IntArray,
    left: BoolArray,
    border: IntArray,
    is_v: BoolArray,
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    """Split border segments at every vertex lying on the same border line."""
    axis_val = np.where(is_v, a[border, 0], a[border, 1])
    t0 = np.where(is_v, a[border, 1], a[border, 0])
    t1 = np.where(is_v, b[border, 1], b[border, 0])
    t_lo, t_hi = np.minimum(t0, t1), np.maximum(t0, t1)
    line_id = _row_ids(np.column_stack([is_v.astype(np.int64), axis_val]))
    tmin = int(t_lo.min())
    span = int(t_hi.max()) - tmin + 1
    k_lo = line_id * span + (t_lo - tmin)
    k_hi = line_id * span + (t_hi - tmin)
    ev = np.unique(np.concatenate([k_lo, k_hi]))
    i0 = np.searchsorted(ev, k_lo, side="right")
    i1 = np.searchsorted(ev, k_hi, side="left")
    n_inner = i1 - i0
    n_sub = n_inner + 1
    nb = len(border)
    rep = np.repeat(np.arange(nb), n_sub)
    # n_sub + 1 cut points per segment: t_lo, the inner events, t_hi
    pstart = np.cumsum(n_sub + 1) - (n_sub + 1)
    pts = np.empty(int((n_sub + 1).sum()), dtype=np.int64)
    pts[pstart] = t_lo
    pts[pstart + n_sub] = t_hi
    inner_owner = np.repeat(np.arange(nb), n_inner)
    pts[_ranges(pstart + 1, n_inner)] = (
        ev[_ranges(i0, n_inner)] - line_id[inner_owner] * span + tmin
    )
    s = np.arange(len(rep)) + rep  # start point of each sub-segment
    s0, s1 = pts[s], pts[s + 1]
    av, v = axis_val[rep], is_v[rep]
    new_a = np.where(v[:, None], np.column_stack([av, s0]), np.column_stack([s0, av]))
    new_b = np.where(v[:, None], np.column_stack([av, s1]), np.column_stack([s1, av]))
    # sub-segments run t_lo -> t_hi; flip the side when the original ran backwards
    new_left = left[border][rep] != (t0 > t1)[rep]
    keep = np.ones(len(a), dtype=bool)
    keep[border] = False
    return (
        np.concatenate([a[keep], new_a]),
        np.concatenate([b[keep], new_b]),
        np.concatenate([face[keep], face[border][rep]]),
        np.concatenate([left[keep], new_left]),
    )


# -- public kernel entry points -------------------------------------------------------


def arrange_cells(
    ps: _Pieces, cells: FloatArray, n_layers: int, grid: float, workers: int
) -> tuple[GeomArray, IntArray, IntArray, IntArray, Edges, int]:
    """Steps 3-6 on the leaves of a quadtree: linework, faces, labels, edges.

    Returns
    -------
    faces, face_cell, units, hits, edges, anomalies
        Faces (cell by cell, in cell order), the cell of each face, the unit of
        each layer covering it (``-1``: none) and how many units of that layer
        cover it, the matched border segments (see :class:`Edges`) and the
        count of border anomalies.
    """
    nf_idx = np.flatnonzero(~ps.full)
    linework = _cell_linework(ps.geom[nf_idx], ps.cell[nf_idx], cells, grid)
    faces, face_cell, points = _faces(linework, grid, workers)
    units, hits = _label(ps, face_cell, points, len(cells), n_layers, workers)
    edges, anomalies = _face_edges(faces, face_cell, cells, grid)
    return faces, face_cell, units, hits, edges, anomalies


def arrange(
    layers: Sequence[GeomArray],
    *,
    grid: float,
    max_load: int = DEFAULT_MAX_LOAD,
    workers: int | None = None,
) -> Arrangement:
    """Common refinement of *layers* as labelled faces (see module docstring).

    Parameters
    ----------
    layers
        One array of (Multi)Polygons per layer, all in the same projected CRS; the
        position of a geometry in its array is its unit index.
    grid
        Snapping grid in CRS units (metres), > 0.
    max_load
        A quadtree cell is split while its crossing pieces hold more vertices.
    workers
        Threads for the noding and labelling steps (default 1, see
        :func:`default_workers`).

    Returns
    -------
    Arrangement
        Faces (every face of every cell, including those no layer covers).
    """
    n_layers = len(layers)
    workers = default_workers() if workers is None else max(1, int(workers))
    stats: dict[str, object] = {}
    empty = Arrangement(
        np.empty(0, dtype=object),
        np.empty((0, n_layers), dtype=np.int64),
        Edges(
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
            np.empty((0, 4), dtype=np.int64),
            np.empty(0, dtype=np.float64),
        ),
        grid,
        stats,
    )
    if not any(len(shapely.get_parts(np.asarray(g, dtype=object))) for g in layers):
        return empty
    ps, cells, n_clip = _quadtree(layers, grid, max_load)
    n_cells = len(cells)
    faces, _face_cell, units, hits, edges, anomalies = arrange_cells(
        ps, cells, n_layers, grid, workers
    )
    face_area = shapely.area(faces)
    overlap = hits > 1
    stats.update(
        cells=n_cells,
        clip_calls=n_clip,
        faces=len(faces),
        edges=len(edges.length),
        edge_anomalies=anomalies,
        self_overlap_area=[
            float(face_area[overlap[:, li]].sum()) for li in range(n_layers)
        ],
        workers=workers,
    )
    logger.debug(
        "arrangement: %d cells, %d clips, %d faces, %d edges",
        n_cells,
        n_clip,
        len(faces),
        len(edges.length),
    )
    return Arrangement(faces, units, edges, grid, stats)


def dissolve(
    edges: Edges,
    face_group: IntArray,
    n_groups: int,
    grid: float,
    *,
    faces: GeomArray | None = None,
) -> tuple[GeomArray, IntArray]:
    """Build one (Multi)Polygon per group of faces by tracing the group outlines.

    Only the segments whose two sides belong to different groups are kept; they
    are oriented with the group on their left and chained into rings in numpy
    (at a vertex where a group touches itself the ring turns as far left as
    possible, which keeps rings simple). Counter-clockwise rings are shells,
    clockwise rings holes, assigned to the smallest shell of the same group
    around them. No polygon union is computed.

    Parameters
    ----------
    edges
        Face adjacency from :func:`arrange`.
    face_group
        Group of each face, ``-1`` for faces that belong to no group.
    n_groups
        Number of groups.
    grid
        Grid size of the arrangement.
    faces
        The faces; when given, a group whose traced area differs from the sum
        of its faces is rebuilt with ``union_all`` (a safety net).

    Returns
    -------
    geometries, n_parts
        One geometry per group (empty Polygon for a group without faces), and its
        number of polygons.
    """
    out = np.full(n_groups, None, dtype=object)
    out[:] = [shapely.Polygon()] * n_groups
    n_parts = np.zeros(n_groups, dtype=np.int64)
    gl = np.where(edges.left >= 0, face_group[np.maximum(edges.left, 0)], -1)
    gr = np.where(edges.right >= 0, face_group[np.maximum(edges.right, 0)], -1)
    diff = gl != gr
    lo, hi = edges.xy[:, :2], edges.xy[:, 2:]
    use_l = diff & (gl >= 0)
    use_r = diff & (gr >= 0)
    # directed edges with their group on the left
    grp = np.concatenate([gl[use_l], gr[use_r]])
    p0 = np.concatenate([lo[use_l], hi[use_r]])
    p1 = np.concatenate([hi[use_l], lo[use_r]])
    if len(grp) == 0:
        return out, n_parts
    (coords, ring_of, vids), ring_group = _trace_rings(grp, p0, p1)
    coords, ring_of, ring_group = _split_touching(
        coords, ring_of, ring_group, vkey=vids
    )
    ring_area = _ring_areas(coords, ring_of)
    n_rings = len(ring_group)
    xy = coords.astype(np.float64) * grid
    order_first = np.searchsorted(ring_of, np.arange(n_rings))
    linear = shapely.linearrings(xy, indices=ring_of)
    shell = ring_area > 0
    shell_ids = np.flatnonzero(shell)
    hole_ids = np.flatnonzero(~shell)
    owner = np.full(n_rings, -1, dtype=np.int64)
    owner[shell_ids] = shell_ids
    if len(hole_ids):
        shells_poly = shapely.polygons(linear[shell_ids])
        # a point just right of the hole's first segment: inside the hole, so
        # inside the shell around it and in no other shell of the group
        a0 = coords[order_first[hole_ids]].astype(np.float64)
        a1 = coords[order_first[hole_ids] + 1].astype(np.float64)
        d = a1 - a0
        normal = (
            np.column_stack([d[:, 1], -d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None]
        )
        probe = ((a0 + a1) / 2.0 + 1e-3 * normal) * grid
        # the shells are the prepared side of the test (``contains``), each
        # prepared once, rather than every probe point
        tree = shapely.STRtree(shapely.points(probe))
        s_j, h_i = tree.query(shells_poly, predicate="contains")
        same = ring_group[hole_ids[h_i]] == ring_group[shell_ids[s_j]]
        h_i, s_j = h_i[same], s_j[same]
        # smallest shell first
        o = np.lexsort((ring_area[shell_ids[s_j]], h_i))
        h_i, s_j = h_i[o], s_j[o]
        firsth = _run_starts(h_i)
        owner[hole_ids[h_i[firsth]]] = shell_ids[s_j[firsth]]
    lost = int((owner < 0).sum())
    if lost:
        logger.warning("dissolve: %d holes without a shell were dropped", lost)
    keep = np.flatnonzero(owner >= 0)
    # polygons: shell first, then its holes
    o = np.lexsort((~shell[keep], owner[keep]))
    rings_sorted = keep[o]
    poly_of = np.unique(owner[rings_sorted], return_inverse=True)[1].ravel()
    polys = np.asarray(
        shapely.polygons(linear[rings_sorted], indices=poly_of), dtype=object
    )
    poly_group = ring_group[np.unique(owner[rings_sorted])]
    groups, dense = np.unique(poly_group, return_inverse=True)
    dense = dense.ravel()
    o = np.argsort(dense, kind="stable")
    multi = np.asarray(shapely.multipolygons(polys[o], indices=dense[o]), dtype=object)
    counts = np.bincount(dense, minlength=len(groups))
    single = counts == 1
    first_poly = np.searchsorted(dense[o], np.arange(len(groups)))
    multi[single] = polys[o][first_poly[single]]
    out[groups] = multi
    n_parts[groups] = counts
    if faces is not None:
        _repair(out, n_parts, faces, face_group, n_groups, grid)
    return out, n_parts


def _repair(
    out: GeomArray,
    n_parts: IntArray,
    faces: GeomArray,
    face_group: IntArray,
    n_groups: int,
    grid: float,
) -> None:
    """Rebuild with ``union_all`` the groups whose traced area is off (in place)."""
    inside = face_group >= 0
    want = np.bincount(
        face_group[inside], weights=shapely.area(faces[inside]), minlength=n_groups
    )
    got = shapely.area(out)
    bad = np.flatnonzero(np.abs(got - want) > 1e-9 * want + grid * grid)
    for g in bad:
        geom = shapely.union_all(faces[face_group == g], grid_size=grid)
        out[g] = geom
        n_parts[g] = len(explode_polygons(np.array([geom], dtype=object))[0])
    if len(bad):
        logger.warning("dissolve: %d groups rebuilt with union_all", len(bad))


def _split_touching(
    coords: IntArray,
    ring_of: IntArray,
    ring_group: IntArray,
    *,
    vkey: IntArray | None = None,
) -> tuple[IntArray, IntArray, IntArray]:
    """Split rings that pass through a vertex twice into simple loops.

    Where a hole touches its shell at one vertex, tracing can produce one ring
    through that vertex twice (an "inverted hole", not valid OGC). Cutting the
    ring at the repeated vertex gives the shell and the hole. Such rings are rare
    (a handful on the province), so a plain loop over their vertices is fine.
    """
    if len(coords) == 0:
        return coords, ring_of, ring_group
    if vkey is None:
        vkey = _row_ids(coords)
    closing = np.ones(len(ring_of), dtype=bool)
    closing[:-1] = ring_of[1:] != ring_of[:-1]  # the repeated first vertex
    body = np.flatnonzero(~closing)
    rv = ring_of[body] * (int(vkey.max()) + 1) + vkey[body]  # (ring, vertex)
    rv.sort()
    bad = np.unique(rv[1:][rv[1:] == rv[:-1]] // (int(vkey.max()) + 1))
    if len(bad) == 0:
        return coords, ring_of, ring_group
    starts = np.searchsorted(ring_of, np.arange(len(ring_group)))
    ends = np.append(starts[1:], len(ring_of))
    new_coords: list[IntArray] = []
    new_group: list[int] = []
    for r in bad:
        seq = list(range(int(starts[r]), int(ends[r]) - 1))  # without the closure
        stack: list[int] = []
        where: dict[int, int] = {}
        for i in seq:
            k = int(vkey[i])
            if k in where:  # close the loop that started at this vertex
                pos = where[k]
                loop = stack[pos:]
                for j in loop[1:]:
                    where.pop(int(vkey[j]), None)
                del stack[pos + 1 :]
                new_coords.append(coords[[*loop, loop[0]]])
                new_group.append(int(ring_group[r]))
            else:
                where[k] = len(stack)
                stack.append(i)
        if len(stack) >= 3:
            new_coords.append(coords[[*stack, stack[0]]])
            new_group.append(int(ring_group[r]))
    keep = ~np.isin(ring_of, bad)
    kept_rings = np.flatnonzero(~np.isin(np.arange(len(ring_group)), bad))
    remap = np.full(len(ring_group), -1, dtype=np.int64)
    remap[kept_rings] = np.arange(len(kept_rings))
    parts = [coords[keep], *new_coords]
    ids = [remap[ring_of[keep]]] + [
        np.full(len(c), len(kept_rings) + i, dtype=np.int64)
        for i, c in enumerate(new_coords)
    ]
    groups = np.concatenate([ring_group[kept_rings], np.asarray(new_group, np.int64)])
    return np.concatenate(parts), np.concatenate(ids), groups


def _ring_areas(coords: IntArray, ring_of: IntArray) -> FloatArray:
    """Signed (shoelace) area of each closed ring, in grid units squared."""
    x = coords[:, 0].astype(np.float64)
    y = coords[:, 1].astype(np.float64)
    same = ring_of[1:] == ring_of[:-1]
    cross = np.zeros(len(x))
    cross[:-1] = np.where(same, x[:-1] * y[1:] - x[1:] * y[:-1], 0.0)
    n = int(ring_of[-1]) + 1
    return np.asarray(np.bincount(ring_of, weights=cross, minlength=n) / 2.0)


def _trace_rings(
    grp: IntArray, p0: IntArray, p1: IntArray
) -> tuple[tuple[IntArray, IntArray, IntArray], IntArray]:
    """Chain directed edges (group on the left) into closed rings.

    Returns
    -------
    (coords, ring_of, vids), ring_group
        Ring vertices in order (each ring closed: last vertex = first) with the
        ring of each vertex and a dense id of each distinct vertex, and the
        group of each ring.
    """
    n = len(grp)
    # vertex ids
    vid = _row_ids(np.concatenate([p0, p1]))
    v0, v1 = vid[:n], vid[n:]
    # outgoing edges sorted by (group, start vertex, angle)
    d = (p1 - p0).astype(np.float64)
    angle = np.arctan2(d[:, 1], d[:, 0])
    n_vert = int(vid.max()) + 1
    gv0 = grp * n_vert + v0  # (group, vertex) as one key
    order = np.lexsort((angle, gv0))
    key_gv, key_a = gv0[order], angle[order]
    start = _run_starts(key_gv)
    run_start = np.flatnonzero(start)
    run_len = np.diff(np.append(run_start, n))
    # for each edge e, the run of outgoing edges (same group) at its end vertex
    out_key = key_gv[run_start]
    q = grp * n_vert + v1
    pos = np.minimum(np.searchsorted(out_key, q), len(out_key) - 1)
    pos = np.where(out_key[pos] == q, pos, -1)
    if (pos < 0).any():  # pragma: no cover - unbalanced outline
        msg = "dissolve: an outline does not close (unbalanced vertex)"
        raise RuntimeError(msg)
    nxt = np.empty(n, dtype=np.int64)
    simple = run_len[pos] == 1
    nxt[simple] = order[run_start[pos[simple]]]
    multi = np.flatnonzero(~simple)
    if len(multi):
        # leftmost turn: the first outgoing edge clockwise from the reversed
        # incoming direction, i.e. the largest angle below it (wrapping around)
        back = np.arctan2(-d[multi, 1], -d[multi, 0])
        r = pos[multi]
        rs, rl = run_start[r], run_len[r]
        best = np.full(len(multi), -1, dtype=np.int64)
        for k in range(int(rl.max())):
            live = k < rl
            idx = rs + np.minimum(k, rl - 1)
            cand_ok = live & (key_a[idx] < back)
            best = np.where(cand_ok, idx, best)  # angles ascend: keep the last
        wrap = best < 0
        best[wrap] = (rs + rl - 1)[wrap]
        nxt[multi] = order[best]
    # cycles of the permutation: label = smallest edge id of its cycle
    # (after k doublings a label is the minimum over 2**k successive edges)
    # (once every window's minimum equals the next window's, each cycle's
    # windows tile it and all hold the cycle's minimum: stop there)
    label = np.arange(n, dtype=np.int64)
    jump = nxt.copy()
    for _ in range(max(1, int(np.ceil(np.log2(n + 1))))):
        ahead = label[jump]
        if np.array_equal(ahead, label):
            break
        label = np.minimum(label, ahead)
        jump = jump[jump]
    # rank of each edge in its cycle, counted from the cycle's smallest edge
    head = label == np.arange(n)
    # (the cut end points to a sentinel n that points to itself at distance 0)
    pred = np.empty(n, dtype=np.int64)
    pred[nxt] = np.arange(n)
    ptr = np.append(nxt, n)
    ptr[pred[head]] = n  # cut each cycle before its head
    dist = np.ones(n + 1, dtype=np.int64)
    dist[n] = 0
    dist[pred[head]] = 0
    while True:
        up = ptr[ptr]
        if np.array_equal(up, ptr):
            break
        dist += dist[ptr]
        ptr = up
    dist = dist[:n]
    # rings numbered by their head (smallest edge); each edge goes straight to
    # its slot (ring start + position), one more slot per ring closes it
    ring_ids = np.flatnonzero(head)
    ring_of_edge = (np.cumsum(head) - 1)[label]
    length = np.bincount(ring_of_edge, minlength=len(ring_ids))
    # position from the head = (cycle length - 1) - distance to the cut end
    position = (length[ring_of_edge] - 1) - dist
    slot0 = np.cumsum(length + 1) - (length + 1)
    dest = slot0[ring_of_edge] + position
    total = n + len(ring_ids)
    coords = np.empty((total, 2), dtype=p0.dtype)
    coords[dest] = p0
    vids = np.empty(total, dtype=np.int64)
    vids[dest] = v0
    close = slot0 + length
    coords[close] = coords[slot0]
    vids[close] = vids[slot0]
    ring_of = np.repeat(np.arange(len(ring_ids), dtype=np.int64), length + 1)
    return (coords, ring_of, vids), grp[ring_ids]


def _row_ids(rows: IntArray) -> IntArray:
    """Dense id of each distinct row of a two-column int array (sorted order)."""
    x, y = rows[:, 0], rows[:, 1]
    y0 = int(y.min())
    span = int(y.max()) - y0 + 1
    key = (x - int(x.min())) * span + (y - y0)
    _, inv = np.unique(key, return_inverse=True)
    return np.asarray(inv, dtype=np.int64).ravel()


def components(
    n: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Connected components of the graph on ``0..n-1`` with edges ``(a, b)``.

    Each node gets the smallest node of its component (so the components sort
    as :func:`scipy.sparse.csgraph.connected_components` numbers them). Roots
    are hooked under the smaller root of every edge joining two trees, then
    the trees are flattened by pointer jumping, until no edge joins two trees
    (a few rounds; numpy only, which spares the import of scipy.sparse).
    """
    parent = np.arange(n, dtype=np.int64)
    while len(a):
        ra, rb = parent[a], parent[b]
        join = ra != rb
        if not join.any():
            break
        a, b, ra, rb = a[join], b[join], ra[join], rb[join]
        np.minimum.at(parent, np.maximum(ra, rb), np.minimum(ra, rb))
        while True:
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent
