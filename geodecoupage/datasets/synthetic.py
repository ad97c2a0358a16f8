"""Seeded synthetic boundary layers, from a thousand to a million base polygons.

:func:`synthetic_layers` draws a random partition of a square (or of any outline
polygon) into Voronoi *base cells* with realistic vertex counts, then groups the
base cells into several overlapping *layers* whose borders follow the base cells
except where a controllable share of border cells is cut in two. It feeds the
scaling benchmark and property tests: every layer tiles the outline, and with
``incoherence=0`` every layer is an exact union of base cells.

Everything is vectorised with shapely 2 and numpy (no Python loop over
features), and every random draw comes from one
``numpy.random.default_rng(seed)``, so the same arguments always give the same
layers, coordinate for coordinate.

Construction, step by step
--------------------------
1. *Seeds*: ``n_base`` points uniform in the outline (rejection sampling in its
   bounding box ``D``).
2. *Base cells*: the Voronoi diagram of the seeds, clipped to ``D``
   (``shapely.voronoi_polygons(..., ordered=True)``). Neighbouring cells share
   their vertices exactly; two cells are *adjacent* when they share an edge.
3. *Densification*: every straight edge is split into ``vertices_per_edge``
   equal segments. The inserted points are computed from the edge's
   lexicographically smaller end, so the two cells sharing an edge get
   bit-identical points and each layer stays an exact coverage (shared borders
   have the same vertices on both sides).
4. *Regions*: for layer ``k`` (``k = 1 .. n_layers``), ``round(n_base /
   cells_per_region[k-1])`` base seeds are drawn at random as region centres,
   and each base cell joins the region of the nearest centre (one k-means
   assignment step). Layers are drawn independently, so they overlap one
   another as real administrative layers do.
5. *Incoherence*: a base cell is a *border cell* of layer ``k`` when one of its
   adjacent cells lies in another region of that layer. Each border cell is
   selected with probability ``incoherence`` (independently per cell and per
   layer) and, if selected, *cut in two* along a chord between two of its own
   vertices, parallel to the edge it shares with one of its foreign neighbours
   (drawn at random). The band between the chord and that edge goes to the
   neighbour's region: the border moves into the cell. The chord sits at a
   uniform random position between 40 % and 95 % of the cell's depth measured
   from the opposite side, so the band holds from under 1 % to about half of
   the cell. A selected cut is not made when (a) the neighbour is selected and
   cut back towards this cell (the lower-numbered cell of the pair is kept),
   (b) its smaller piece would hold less than 0.5 % of the cell, or (c) the
   roughness field (step 6) would fold a piece. ``incoherence=0`` therefore
   gives layers that are exact unions of base cells; the share of base cells
   split by a layer is close to ``incoherence`` times the share of its cells
   that are border cells.
6. *Roughness*: every vertex is moved by a smooth, seeded displacement field (a
   few sine waves at the cell scale and at the vertex-spacing scale), tapered to
   zero on the border of ``D``. It depends on the coordinates only, so shared
   vertices stay shared; its Lipschitz constant is at most ``roughness`` plus a
   small taper term, and never above 0.95, so the map is one-to-one and
   borders bend without crossing. ``roughness=0`` keeps straight, densified
   edges.
7. *Outline*: when the outline is not ``D`` itself, base cells and regions are
   intersected with it (only those that cross its border).

Regions are dissolved by ``shapely.coverage_union_all`` on *coarse* parts
(only their Voronoi vertices and chord ends, about ``vertices_per_edge`` times
fewer vertices), then every coarse border segment is replaced by the dense
vertex chain it stands for. This keeps region borders vertex-identical to the
base cells at a fraction of the GEOS cost.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry

from geodecoupage.crs import WORK_CRS, to_work_crs
from geodecoupage.errors import InvalidParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "ATTRIBUTION",
    "DEFAULT_OUTLINE_BOUNDS",
    "synthetic_layers",
]

#: Attribution carried by every generated layer.
ATTRIBUTION = (
    "Données synthétiques générées par geodecoupage (aucune donnée officielle)"
)

#: The default outline: a 200 km square in EPSG:32198 centred near Trois-Rivières
#: (about 72.5°W, 46.6°N), wholly inside southern Québec (xmin, ymin, xmax, ymax).
DEFAULT_OUTLINE_BOUNDS = (-406_000.0, 198_000.0, -206_000.0, 398_000.0)

#: Cells per region of the first layers when ``cells_per_region`` is not given;
#: layer ``k`` beyond the fourth uses ``10 * 4 ** (k - 1)``.
_DEFAULT_CELLS_PER_REGION = (10.0, 40.0, 160.0, 640.0)

_CUT_RANGE = (0.40, 0.95)  # chord position along the cut direction
_MIN_PIECE_SHARE = 0.005  # smaller cut pieces are not made
_WAVES = 2  # sine waves per scale and per component of the displacement field
_MAX_LIPSCHITZ = 0.95  # bound on the Lipschitz constant of the displacement

Warp = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------- helpers


def _ragged_arange(lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(n)`` for each *n* in *lengths*."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    return np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(starts, lengths)


def _lerp_canonical(
    p: np.ndarray, q: np.ndarray, num: np.ndarray, den: int
) -> np.ndarray:
    """Point at fraction ``num/den`` from *p* towards *q*, bit-identical both ways.

    The point is computed from the lexicographically smaller end, so walking the
    segment from *q* to *p* with ``den - num`` gives exactly the same floats.
    """
    p_first = (p[:, 0] < q[:, 0]) | ((p[:, 0] == q[:, 0]) & (p[:, 1] < q[:, 1]))
    lo = np.where(p_first[:, None], p, q)
    hi = np.where(p_first[:, None], q, p)
    frac = np.where(p_first, num, den - num) / den
    out: np.ndarray = lo + frac[:, None] * (hi - lo)
    return out


def _polygons(coords: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Polygons from consecutive open rings (*lengths* vertices each)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    closed = lengths + 1
    local = _ragged_arange(closed)
    src = np.repeat(starts, closed) + local % np.repeat(lengths, closed)
    ring_offsets = np.concatenate([[0], np.cumsum(closed)])
    geom_offsets = np.arange(len(lengths) + 1, dtype=np.int64)
    return np.asarray(
        shapely.from_ragged_array(
            shapely.GeometryType.POLYGON, coords[src], (ring_offsets, geom_offsets)
        ),
        dtype=object,
    )


def _shoelace(coords: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Planar area of each open ring (absolute value)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if len(lengths) == 0:
        return np.zeros(0)
    starts = np.cumsum(lengths) - lengths
    local = _ragged_arange(lengths)
    nxt = np.repeat(starts, lengths) + (local + 1) % np.repeat(lengths, lengths)
    x, y = coords[:, 0], coords[:, 1]
    x0 = np.repeat(x[starts], lengths)  # centre each ring on its first vertex
    y0 = np.repeat(y[starts], lengths)
    cross = (x - x0) * (y[nxt] - y0) - (x[nxt] - x0) * (y - y0)
    out: np.ndarray = np.abs(np.add.reduceat(cross, starts)) / 2.0
    return out


def _group_union(parts: np.ndarray, labels: np.ndarray, n_groups: int) -> np.ndarray:
    """Coverage union of *parts* per label, vectorised over groups.

    The parts are laid out in a padded ``(n_groups, max_size)`` array (missing
    slots are None) and unioned along its rows in one GEOS call per row, with
    no Python loop.
    """
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    counts = np.bincount(lab, minlength=n_groups)
    rank = np.arange(len(lab)) - np.repeat(np.cumsum(counts) - counts, counts)
    table = np.full((n_groups, max(int(counts.max(initial=0)), 1)), None, dtype=object)
    table[lab, rank] = parts[order]
    return np.asarray(shapely.coverage_union_all(table, axis=1), dtype=object)


# ---------------------------------------------------------------- base cells


def _resolve_outline(outline: Any) -> BaseGeometry:
    if outline is None:
        return shapely.box(*DEFAULT_OUTLINE_BOUNDS)
    if isinstance(outline, gpd.GeoDataFrame | gpd.GeoSeries):
        frame = to_work_crs(gpd.GeoDataFrame(geometry=outline.geometry), name="outline")
        geom: BaseGeometry = shapely.union_all(np.asarray(frame.geometry.array))
    elif isinstance(outline, BaseGeometry):
        geom = outline
    else:
        msg = (
            f"outline must be a shapely Polygon/MultiPolygon in EPSG:32198, a "
            f"GeoSeries or a GeoDataFrame; got {type(outline).__name__}."
        )
        raise InvalidParameterError(msg)
    if (
        geom.is_empty
        or geom.geom_type not in {"Polygon", "MultiPolygon"}
        or not geom.is_valid
    ):
        msg = (
            f"outline must be a valid, non-empty Polygon or MultiPolygon; got "
            f"{'an empty' if geom.is_empty else 'a'} {geom.geom_type}"
            f"{'' if geom.is_valid else ' that is not valid'}. Repair it with "
            f"shapely.make_valid, or pass outline=None for the default square."
        )
        raise InvalidParameterError(msg)
    return geom


def _sample_seeds(
    rng: np.random.Generator, outline: BaseGeometry, n: int, is_box: bool
) -> np.ndarray:
    xmin, ymin, xmax, ymax = outline.bounds
    if is_box:
        pts: np.ndarray = rng.uniform((xmin, ymin), (xmax, ymax), size=(n, 2))
        return pts
    shapely.prepare(outline)
    fill = outline.area / ((xmax - xmin) * (ymax - ymin))
    found: list[np.ndarray] = []
    have = 0
    for _ in range(100):  # batches of points, not features: 1-2 rounds in practice
        draw = math.ceil((n - have) / fill * 1.1) + 16
        pts = rng.uniform((xmin, ymin), (xmax, ymax), size=(draw, 2))
        pts = pts[shapely.contains_xy(outline, pts[:, 0], pts[:, 1])]
        found.append(pts)
        have += len(pts)
        if have >= n:
            return np.concatenate(found)[:n]
    msg = (  # pragma: no cover - needs an outline filling < 1e-3 of its box
        "outline fills too little of its bounding box to place the seed points; "
        "pass a more compact polygon."
    )
    raise InvalidParameterError(msg)  # pragma: no cover


def _voronoi_rings(
    seeds: np.ndarray, domain: BaseGeometry
) -> tuple[np.ndarray, np.ndarray]:
    """Open rings (coords, lengths) of the Voronoi cells of *seeds* within *domain*."""
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(seeds), extend_to=domain, ordered=True
        )
    )
    if len(cells) != len(seeds):  # pragma: no cover - GEOS gives one per seed
        msg = f"Voronoi diagram gave {len(cells)} cells for {len(seeds)} seeds."
        raise RuntimeError(msg)
    outside = ~shapely.within(cells, domain)
    cells[outside] = shapely.intersection(cells[outside], domain)
    coords, owner = shapely.get_coordinates(cells, return_index=True)
    closed = np.bincount(owner, minlength=len(cells))
    keep = np.ones(len(coords), dtype=bool)
    keep[np.cumsum(closed) - 1] = False  # drop each ring's closing vertex
    return coords[keep], closed - 1


@dataclass(frozen=True)
class _Topology:
    """The densified base cells and how their vertices are shared.

    Every dense vertex has an integer id shared by all the rings it belongs
    to: ``vid`` of the Voronoi vertex (0 .. n_vid - 1), or ``n_vid + edge * (q
    - 1) + k - 1`` for the ``k``-th point inserted on a Voronoi edge, counted
    from its lexicographically smaller end.
    """

    adj_i: np.ndarray  # cells sharing an edge (both directions)
    adj_j: np.ndarray
    edge_p: np.ndarray  # that edge's end points
    edge_q: np.ndarray
    dense: np.ndarray  # dense ring coordinates, open rings, in cell order
    dlen: np.ndarray
    dstart: np.ndarray
    dense_id: np.ndarray
    n_vid: int
    n_ids: int


def _topology(coords: np.ndarray, m: np.ndarray, q: int) -> _Topology:
    cstart = np.cumsum(m) - m
    owner = np.repeat(np.arange(len(m)), m)
    nxt = np.repeat(cstart, m) + (_ragged_arange(m) + 1) % np.repeat(m, m)
    # vertex ids in lexicographic order of the coordinates (complex sort)
    _, vid = np.unique(coords[:, 0] + 1j * coords[:, 1], return_inverse=True)
    vid = vid.astype(np.int64).ravel()
    n_vid = int(vid.max()) + 1
    key = np.minimum(vid, vid[nxt]) * n_vid + np.maximum(vid, vid[nxt])
    ukey, eid, count = np.unique(key, return_inverse=True, return_counts=True)
    eid = eid.astype(np.int64).ravel()
    # adjacency: an edge seen twice is shared by two cells
    order = np.argsort(eid, kind="stable")
    order = order[count[eid[order]] == 2]
    first, second = order[0::2], order[1::2]
    a, b = owner[first], owner[second]
    p, pq = coords[first], coords[nxt[first]]
    # densify: each edge -> q segments, inserted points canonical
    step = np.tile(np.arange(q, dtype=np.int64), len(coords))
    vert = np.repeat(np.arange(len(coords)), q)
    dense = _lerp_canonical(coords[vert], coords[nxt[vert]], step, q)
    corner = step == 0
    dense[corner] = coords[vert[corner]]
    num = np.where(vid[vert] < vid[nxt[vert]], step, q - step)
    dense_id = np.where(corner, vid[vert], n_vid + eid[vert] * (q - 1) + num - 1)
    dlen = m * q
    return _Topology(
        adj_i=np.concatenate([a, b]),
        adj_j=np.concatenate([b, a]),
        edge_p=np.concatenate([p, p]),
        edge_q=np.concatenate([pq, pq]),
        dense=dense,
        dlen=dlen,
        dstart=np.cumsum(dlen) - dlen,
        dense_id=dense_id,
        n_vid=n_vid,
        n_ids=n_vid + len(ukey) * (q - 1),
    )


# ------------------------------------------------------------------- layers


def _nearest_centre(
    seeds: np.ndarray, centres: np.ndarray, domain: BaseGeometry
) -> np.ndarray:
    """Index (into *centres*) of the centre nearest to each seed.

    Point-in-Voronoi-cell of the centres through an STR-tree: several times
    faster than ``STRtree.query_nearest`` on points.
    """
    cells = shapely.get_parts(
        shapely.voronoi_polygons(
            shapely.multipoints(seeds[centres]), extend_to=domain, ordered=True
        )
    )
    src, hit = shapely.STRtree(cells).query(
        shapely.points(seeds), predicate="intersects"
    )
    # a seed on the border of two cells matches both: keep one
    first = np.unique(src, return_index=True)[1]
    region = np.full(len(seeds), -1, dtype=np.int64)
    region[src[first]] = hit[first]
    lost = np.flatnonzero(region < 0)
    if len(lost):  # pragma: no cover - every seed lies in the clipped diagram
        tree = shapely.STRtree(shapely.points(seeds[centres]))
        region[lost] = tree.query_nearest(
            shapely.points(seeds[lost]), all_matches=False
        )[1]
    return region


@dataclass(frozen=True)
class _Cut:
    """Cells cut in two; two pieces per cell, "+" (moved) then "-" (kept)."""

    cells: np.ndarray
    towards: np.ndarray  # the neighbour whose region gets the "+" piece
    a_pos: np.ndarray  # dense positions of the chord ends
    b_pos: np.ndarray
    coords: np.ndarray  # the pieces as consecutive open rings
    lengths: np.ndarray
    src: np.ndarray  # dense position of each piece vertex, -1 inside the chord

    def subset(self, keep: np.ndarray) -> _Cut:
        """The cuts flagged in *keep*."""
        piece = np.repeat(keep, 2)
        vertex = np.repeat(piece, self.lengths)
        return _Cut(
            self.cells[keep],
            self.towards[keep],
            self.a_pos[keep],
            self.b_pos[keep],
            self.coords[vertex],
            self.lengths[piece],
            self.src[vertex],
        )


def _cuts(
    rng: np.random.Generator,
    topo: _Topology,
    cells: np.ndarray,
    towards: np.ndarray,
    normal: np.ndarray,
    q: int,
) -> _Cut:
    """Cut convex *cells* in two along a chord perpendicular to *normal*.

    The chord joins two dense vertices of the cell; the "+" piece (largest
    projections on *normal*) keeps the edge whose outward normal is *normal*.
    """
    n_cut = len(cells)
    if n_cut == 0:
        none = np.zeros(0, dtype=np.int64)
        return _Cut(none, none, none, none, np.zeros((0, 2)), none, none)
    m = topo.dlen[cells]
    group = np.repeat(np.arange(n_cut), m)
    local = _ragged_arange(m)
    gstart = np.cumsum(m) - m
    base = topo.dstart[cells]
    pts = topo.dense[base[group] + local]
    s = ((pts - pts[gstart][group]) * normal[group]).sum(axis=1)
    smin = np.minimum.reduceat(s, gstart)
    smax = np.maximum.reduceat(s, gstart)
    tau = rng.uniform(*_CUT_RANGE, size=n_cut)
    inside = s > (smin + tau * (smax - smin))[group]
    begin = inside & ~inside[gstart[group] + (local - 1) % m[group]]
    end = inside & ~inside[gstart[group] + (local + 1) % m[group]]
    ok = (np.bincount(group[begin], minlength=n_cut) == 1) & (
        np.bincount(group[end], minlength=n_cut) == 1
    )
    a = np.zeros(n_cut, dtype=np.int64)
    b = np.zeros(n_cut, dtype=np.int64)
    a[group[begin]] = local[begin]
    b[group[end]] = local[end]
    ok &= a != b
    # pieces: "+" = ring a..b then chord b->a; "-" = ring b..a then chord a->b
    ring_start = np.stack([a, b], axis=1).ravel()
    ring_len = np.stack([(b - a) % m + 1, (a - b) % m + 1], axis=1).ravel()
    piece_m = np.repeat(m, 2)
    piece_base = np.repeat(base, 2)
    lengths = ring_len + (q - 1)
    pstart = np.cumsum(lengths) - lengths
    out = np.empty((int(lengths.sum()), 2))
    src = np.full(len(out), -1, dtype=np.int64)
    rl = _ragged_arange(ring_len)
    rep = np.repeat(np.arange(2 * n_cut), ring_len)
    where = pstart[rep] + rl
    src[where] = piece_base[rep] + (ring_start[rep] + rl) % piece_m[rep]
    out[where] = topo.dense[src[where]]
    if q > 1:
        pa = topo.dense[base + a]
        pb = topo.dense[base + b]
        step = np.tile(np.arange(1, q, dtype=np.int64), 2 * n_cut)
        rep_c = np.repeat(np.arange(2 * n_cut), q - 1)
        frm = np.stack([pb, pa], axis=1).reshape(-1, 2)  # "+" walks b->a
        to = np.stack([pa, pb], axis=1).reshape(-1, 2)
        pos = pstart[rep_c] + ring_len[rep_c] + (step - 1)
        out[pos] = _lerp_canonical(frm[rep_c], to[rep_c], step, q)
    area = _shoelace(out, lengths).reshape(-1, 2)
    total = np.maximum(area.sum(axis=1, keepdims=True), np.finfo(float).tiny)
    ok &= (area / total).min(axis=1) >= _MIN_PIECE_SHARE
    return _Cut(cells, towards, base + a, base + b, out, lengths, src).subset(ok)


def _dissolve(
    topo: _Topology,
    dense_w: np.ndarray,
    region: np.ndarray,
    piece_region: np.ndarray,
    cut: _Cut,
    cut_w: np.ndarray,
    n_regions: int,
) -> np.ndarray:
    """Union the whole cells and cut pieces of each region.

    GEOS unions *coarse* parts (only their node vertices: Voronoi vertices and
    chord ends, before the roughness warp); each segment of the result between
    two nodes is then replaced by the dense vertex chain it stands for, found
    by its end-node ids, and every vertex is taken from the warped copies
    *dense_w* and *cut_w* (same order as ``topo.dense`` and ``cut.coords``).
    """
    node = np.zeros(topo.n_ids, dtype=bool)
    node[: topo.n_vid] = True
    node[topo.dense_id[cut.a_pos]] = True
    node[topo.dense_id[cut.b_pos]] = True
    whole = np.ones(len(topo.dlen), dtype=bool)
    whole[cut.cells] = False
    w = np.flatnonzero(whole)
    n_whole = int(topo.dlen[w].sum())
    every = np.concatenate([topo.dense, cut.coords])
    every_w = np.concatenate([dense_w, cut_w])
    p_pos = np.concatenate(
        [
            np.repeat(topo.dstart[w], topo.dlen[w]) + _ragged_arange(topo.dlen[w]),
            len(topo.dense) + np.arange(len(cut.coords), dtype=np.int64),
        ]
    )
    p_ids = np.concatenate(
        [
            topo.dense_id[p_pos[:n_whole]],
            np.where(cut.src >= 0, topo.dense_id[np.maximum(cut.src, 0)], -1),
        ]
    )
    p_len = np.concatenate([topo.dlen[w], cut.lengths])
    p_off = np.cumsum(p_len) - p_len
    is_node = np.zeros(len(p_ids), dtype=bool)
    has_id = p_ids >= 0
    is_node[has_id] = node[p_ids[has_id]]
    del has_id
    nz = np.flatnonzero(is_node)
    del is_node
    ring = np.searchsorted(p_off, nz, side="right") - 1
    local = nz - p_off[ring]
    k_r = np.bincount(ring, minlength=len(p_len))
    # chains: the dense vertices strictly between consecutive nodes of a ring
    nxt = np.arange(1, len(nz) + 1)
    wrap = np.ones(len(nz), dtype=bool)
    wrap[:-1] = ring[1:] != ring[:-1]
    nxt[wrap] = (np.cumsum(k_r) - k_r)[ring[wrap]]
    end_local = local[nxt] + np.where(wrap, p_len[ring], 0)
    id_s = p_ids[nz]
    id_e = id_s[nxt]
    key = np.minimum(id_s, id_e) * topo.n_ids + np.maximum(id_s, id_e)
    ckey, cfirst = np.unique(key, return_index=True)
    c_ring = ring[cfirst]
    c_local = local[cfirst]
    c_len = (end_local - local - 1)[cfirst]
    c_from = id_s[cfirst]
    del key, end_local, nxt, wrap, local

    coarse = _polygons(every[p_pos[nz]], k_r)
    p_lab = np.concatenate([region[w], piece_region])
    union = _group_union(coarse, p_lab, n_regions)
    del coarse

    # coordinates of the union's vertices -> node ids -> chains
    uid, ufirst = np.unique(id_s, return_index=True)
    upos = p_pos[nz[ufirst]]
    uxy = every[upos]
    uz = uxy[:, 0] + 1j * uxy[:, 1]
    zorder = np.argsort(uz)
    zsorted = uz[zorder]
    gtype, rc, offsets = shapely.to_ragged_array(union)
    rz = rc[:, 0] + 1j * rc[:, 1]
    hit = np.minimum(np.searchsorted(zsorted, rz), len(zsorted) - 1)
    ring_off = offsets[0]
    last = np.zeros(len(rc), dtype=bool)
    last[ring_off[1:] - 1] = True
    rid = uid[zorder[hit]]
    u, v = rid[~last], rid[np.flatnonzero(~last) + 1]
    want = np.minimum(u, v) * topo.n_ids + np.maximum(u, v)
    c = np.minimum(np.searchsorted(ckey, want), len(ckey) - 1)
    if not ((zsorted[hit] == rz).all() and (ckey[c] == want).all()):
        msg = (  # pragma: no cover - would mean GEOS changed the union's vertices
            "synthetic_layers: a dissolved border does not follow the base-cell "
            "vertices; please report this with the arguments used."
        )
        raise RuntimeError(msg)  # pragma: no cover
    item_len = np.ones(len(rc), dtype=np.int64)
    item_len[~last] += c_len[c]
    out_off = np.cumsum(item_len) - item_len
    out = np.empty((int(item_len.sum()), 2))
    out[out_off] = every_w[upos[zorder[hit]]]
    lens = c_len[c]
    t = _ragged_arange(lens)
    rep = np.repeat(np.arange(len(c)), lens)
    cc = c[rep]
    backward = (c_from[c] != u)[rep]
    tt = np.where(backward, lens[rep] - 1 - t, t)
    src_local = (c_local[cc] + 1 + tt) % p_len[c_ring[cc]]
    out[out_off[~last][rep] + 1 + t] = every_w[p_pos[p_off[c_ring[cc]] + src_local]]
    new_ring_off = np.concatenate([[0], np.cumsum(item_len)])[ring_off]
    geoms = np.asarray(
        shapely.from_ragged_array(gtype, out, (new_ring_off, *offsets[1:])),
        dtype=object,
    )
    single = shapely.get_num_geometries(geoms) == 1
    geoms[single] = shapely.get_geometry(geoms[single], 0)
    return geoms


class _Field:
    """Smooth seeded displacement field, zero on the border of a rectangle.

    Each coordinate is shifted by a sum of sine waves (``_WAVES`` per scale and
    component; wavelengths 1.5-4 cells and 3-6 vertex spacings), times a taper
    that rises linearly from 0 on the rectangle's border to 1 at ``ramp``
    inside. Amplitudes are set so that the sum of ``amplitude × wavenumber``
    is ``roughness / √2`` per component, which bounds the Jacobian's Frobenius
    norm, hence the Lipschitz constant of the shift, by ``roughness``, plus
    ``√2 × max_shift / ramp`` from the taper; amplitudes are scaled down when
    that sum (``lipschitz``) would exceed 0.95. A shift with Lipschitz constant
    below 1 makes ``x + shift(x)`` one-to-one.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        bounds: tuple[float, float, float, float],
        cell_m: float,
        spacing_m: float,
        roughness: float,
    ) -> None:
        self.bounds = bounds
        width = min(bounds[2] - bounds[0], bounds[3] - bounds[1])
        self.ramp = max(min(2.0 * cell_m, width / 4.0), 1e-9)
        kx, ky, phase, amp = [], [], [], []
        scales = ((1.5 * cell_m, 4.0 * cell_m), (3.0 * spacing_m, 6.0 * spacing_m))
        for lo, hi in scales:  # half the budget per scale
            lam = rng.uniform(lo, hi, size=(2, _WAVES))
            theta = rng.uniform(0.0, 2.0 * np.pi, size=(2, _WAVES))
            phase.append(rng.uniform(0.0, 2.0 * np.pi, size=(2, _WAVES)))
            kmod = 2.0 * np.pi / lam
            kx.append(kmod * np.cos(theta))
            ky.append(kmod * np.sin(theta))
            amp.append((0.5 * roughness / math.sqrt(2.0) / _WAVES) / kmod)
        self.kx = np.concatenate(kx, axis=1)
        self.ky = np.concatenate(ky, axis=1)
        self.phase = np.concatenate(phase, axis=1)
        self.amp = np.concatenate(amp, axis=1)
        # the taper adds |shift| x |grad taper| <= sqrt(2) max_shift / ramp:
        # scale everything down if the total could come near 1
        self.lipschitz = roughness + math.sqrt(2.0) * self._max_shift() / self.ramp
        if self.lipschitz > _MAX_LIPSCHITZ:
            self.amp *= _MAX_LIPSCHITZ / self.lipschitz
            self.lipschitz = _MAX_LIPSCHITZ

    def _max_shift(self) -> float:
        return float(self.amp.sum(axis=1).max())

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        xmin, ymin, xmax, ymax = self.bounds
        x = xy[:, 0] - xmin
        y = xy[:, 1] - ymin
        # exact zeros on the border: x - 0, (xmax - xmin) - x, ... are exact there
        taper = np.minimum(
            np.minimum(x, (xmax - xmin) - x), np.minimum(y, (ymax - ymin) - y)
        )
        taper = np.clip(taper / self.ramp, 0.0, 1.0)
        out = xy.copy()
        for comp in (0, 1):
            shift = np.zeros_like(x)
            for w in range(self.kx.shape[1]):
                arg = self.kx[comp, w] * x + self.ky[comp, w] * y + self.phase[comp, w]
                shift += self.amp[comp, w] * np.sin(arg)
            out[:, comp] += taper * shift
        return out


# -------------------------------------------------------------------- output


def _codes(prefix: str, n: int) -> np.ndarray:
    width = len(str(n))
    digits = np.char.zfill(np.arange(1, n + 1).astype(str), width)
    out: np.ndarray = np.char.add(prefix, digits)
    return out


def _frame(
    key: str,
    codes: np.ndarray,
    noms: np.ndarray,
    geoms: np.ndarray,
    params: dict[str, object],
    extra: dict[str, np.ndarray] | None = None,
) -> gpd.GeoDataFrame:
    index = pd.Index(codes.astype(object), name="code", dtype=object)
    data: dict[str, Any] = {"nom": np.asarray(noms, dtype=object), "layer": key}
    for col, values in (extra or {}).items():
        data[col] = np.asarray(values, dtype=object)
    gdf = gpd.GeoDataFrame(
        data,
        geometry=gpd.GeoSeries(geoms, index=index, crs=WORK_CRS),
        index=index,
    )
    gdf.attrs = {
        "layer": key,
        "title_fr": f"Couche synthétique « {key} »",
        "title_en": f"Synthetic layer '{key}'",
        "vintage": "synthétique",
        "attribution": ATTRIBUTION,
        "licence": "CC0-1.0",
        "source_path": None,
        "sha256": None,
        "crs": WORK_CRS,
        "params": dict(params),
    }
    return gdf


def _clip(geoms: np.ndarray, outline: BaseGeometry) -> np.ndarray:
    """Intersect the geometries that cross *outline*'s border; polygons only."""
    shapely.prepare(outline)
    out = geoms.copy()
    cross = ~shapely.contains_properly(outline, geoms)
    if cross.any():
        clipped = shapely.intersection(geoms[cross], outline)
        # drop the line/point debris of the intersection, keep polygonal parts
        parts, idx = shapely.get_parts(clipped, return_index=True)
        poly = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
        merged = np.full(len(clipped), None, dtype=object)
        if poly.any():
            shapely.multipolygons(parts[poly], indices=idx[poly], out=merged)
        single = shapely.get_num_geometries(merged) == 1
        merged[single] = shapely.get_geometry(merged[single], 0)
        merged[shapely.is_missing(merged)] = shapely.Polygon()
        out[cross] = merged
    return out


def _check_params(
    n_base: int,
    n_layers: int,
    incoherence: float,
    vertices_per_edge: int,
    roughness: float,
    sizes: Sequence[float],
) -> None:
    problems = []
    if not isinstance(n_base, int | np.integer) or n_base < 2:
        problems.append(f"n_base must be an integer >= 2 (got {n_base!r})")
    if not isinstance(n_layers, int | np.integer) or n_layers < 0:
        problems.append(f"n_layers must be an integer >= 0 (got {n_layers!r})")
    if not 0.0 <= incoherence <= 1.0:
        problems.append(f"incoherence must be in [0, 1] (got {incoherence!r})")
    if not isinstance(vertices_per_edge, int | np.integer) or vertices_per_edge < 1:
        problems.append(
            f"vertices_per_edge must be an integer >= 1 (got {vertices_per_edge!r})"
        )
    if not 0.0 <= roughness <= 0.9:
        problems.append(f"roughness must be in [0, 0.9] (got {roughness!r})")
    if isinstance(n_layers, int | np.integer) and len(sizes) < n_layers:
        problems.append(
            f"cells_per_region has {len(sizes)} values for n_layers={n_layers}"
        )
    if any(not s >= 1.0 for s in sizes):
        problems.append(f"cells_per_region values must be >= 1 (got {list(sizes)})")
    if problems:
        msg = "synthetic_layers: " + "; ".join(problems) + "."
        raise InvalidParameterError(msg)


# ---------------------------------------------------------------------- API


def synthetic_layers(
    n_base: int,
    *,
    n_layers: int = 3,
    incoherence: float = 0.1,
    outline: BaseGeometry | gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    vertices_per_edge: int = 8,
    cells_per_region: Sequence[float] | None = None,
    roughness: float = 0.6,
    seed: int = 0,
) -> dict[str, gpd.GeoDataFrame]:
    """Generate a seeded random base partition and overlapping layers grouped from it.

    Parameters
    ----------
    n_base
        Number of base cells (Voronoi cells), from 10³ to 10⁶ in practice.
    n_layers
        Number of grouped layers, keyed ``"layer1"``, ``"layer2"``, ...
    incoherence
        Probability, per layer and per border cell, that the cell is cut in two
        between its region and a neighbouring region (see the module notes).
        0 makes every layer an exact union of base cells.
    outline
        The territory to partition: a shapely (Multi)Polygon in EPSG:32198, or a
        GeoSeries/GeoDataFrame in any CRS (unioned). Default: a 200 km square in
        southern Québec (:data:`DEFAULT_OUTLINE_BOUNDS`).
    vertices_per_edge
        Each straight edge (Voronoi edge, cut chord, piece of the bounding box)
        is split into this many segments, so a cell with ``e`` edges has
        ``e × vertices_per_edge`` vertices (about 6 edges per cell on average).
    cells_per_region
        Mean number of base cells per region, one value per layer. Default
        ``10, 40, 160, 640``, then ``10 × 4 ** (k - 1)`` for layer ``k``.
    roughness
        Strength of the displacement that bends the edges, in [0, 0.9]: a bound
        on the Lipschitz constant of the displacement field (a small term for
        its taper at the border is added, and the total is capped at 0.95).
        0 keeps straight edges.
    seed
        Seed of ``numpy.random.default_rng``: same arguments, same layers.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        ``"base"`` then ``"layer1"``, ... in the canonical layer schema: index
        ``code`` (zero-padded strings; codes of layer ``k`` start with ``k``),
        columns ``nom``, ``layer``, geometry (Polygon or MultiPolygon) in
        EPSG:32198. ``base`` also has ``layer<k>_code``: the region of layer
        ``k`` holding the larger part of the cell. ``attrs`` hold the layer
        metadata, the attribution and the generation ``params``.

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range or the outline is not a valid polygon.

    Notes
    -----
    Each layer tiles the outline: the areas of its units add up to the outline
    area and units do not overlap. Units are usually contiguous, but a cut can
    detach a small exclave, as in real layers. With the default square the
    counts are exact: ``n_base`` cells and ``round(n_base /
    cells_per_region[k-1])`` regions in layer ``k``. With another outline, a
    unit pushed wholly outside it by the roughness field is dropped (rare), so
    counts can be lower.

    With ``incoherence`` :math:`p`, the share of base cells split by layer
    :math:`k` is close to :math:`p \\times b_k`, where :math:`b_k` is the share
    of base cells that are border cells of layer :math:`k` (measured on 10⁴
    cells: 0.83 at 10 cells per region, 0.52 at 40, 0.28 at 160), less the few
    cuts not made (module notes, step 5).

    Examples
    --------
    >>> layers = synthetic_layers(500, n_layers=2, seed=1)
    >>> {k: len(v) for k, v in layers.items()}
    {'base': 500, 'layer1': 50, 'layer2': 12}
    """
    sizes = (
        tuple(float(s) for s in cells_per_region)
        if cells_per_region is not None
        else tuple(
            _DEFAULT_CELLS_PER_REGION[k]
            if k < len(_DEFAULT_CELLS_PER_REGION)
            else 10.0 * 4.0**k
            for k in range(max(int(n_layers), 0))
        )
    )
    _check_params(n_base, n_layers, incoherence, vertices_per_edge, roughness, sizes)
    n = int(n_base)
    q = int(vertices_per_edge)
    geom = _resolve_outline(outline)
    domain = shapely.box(*geom.bounds)
    is_box = bool(abs(geom.area - domain.area) <= 1e-12 * domain.area)
    rng = np.random.default_rng(seed)
    params: dict[str, object] = {
        "n_base": n,
        "n_layers": int(n_layers),
        "incoherence": float(incoherence),
        "vertices_per_edge": q,
        "cells_per_region": sizes[: int(n_layers)],
        "roughness": float(roughness),
        "seed": seed,
        "outline_bounds": tuple(float(v) for v in geom.bounds),
    }

    seeds = _sample_seeds(rng, geom, n, is_box)
    coarse, m = _voronoi_rings(seeds, domain)
    topo = _topology(coarse, m, q)
    del coarse
    cell_m = math.sqrt(geom.area / n)
    warp: Warp
    if roughness > 0:
        warp = _Field(rng, geom.bounds, cell_m, 0.67 * cell_m / q, roughness)
    else:
        warp = np.copy
    logger.info(
        "synthetic: %d base cells, %d vertices, %d shared edges",
        n,
        int(topo.dlen.sum()),
        len(topo.adj_i) // 2,
    )

    dense_w = warp(topo.dense)
    layer_geoms: list[np.ndarray] = []
    n_regions: list[int] = []
    extra: dict[str, np.ndarray] = {}
    for k in range(int(n_layers)):
        n_reg = int(min(max(round(n / sizes[k]), 1), n))
        centres = np.sort(rng.choice(n, size=n_reg, replace=False))
        region = _nearest_centre(seeds, centres, domain)
        # one shared edge with a foreign neighbour per border cell, at random
        foreign = np.flatnonzero(region[topo.adj_i] != region[topo.adj_j])
        foreign = foreign[rng.permutation(len(foreign))]
        border, first = np.unique(topo.adj_i[foreign], return_index=True)
        edge = foreign[first]
        chosen = rng.random(len(border)) < incoherence
        cells, edge = border[chosen], edge[chosen]
        towards = topo.adj_j[edge]
        # two cells cut towards each other would swap bands: keep the lower one
        back = np.full(n, -1, dtype=np.int64)
        back[cells] = towards
        mutual = (back[towards] == cells) & (towards < cells)
        cells, edge, towards = cells[~mutual], edge[~mutual], towards[~mutual]
        # the outward normal of the shared edge: the moved band keeps that edge
        d = topo.edge_q[edge] - topo.edge_p[edge]
        normal = np.column_stack([d[:, 1], -d[:, 0]])
        normal /= np.hypot(normal[:, 0], normal[:, 1])[:, None]
        mid = (topo.edge_p[edge] + topo.edge_q[edge]) / 2.0
        normal[((mid - seeds[cells]) * normal).sum(axis=1) < 0] *= -1.0
        cut = _cuts(rng, topo, cells, towards, normal, q)
        # a thin piece may fold where the roughness bends its chord: keep whole
        warped = warp(cut.coords)
        fine = shapely.is_valid(_polygons(warped, cut.lengths)).reshape(-1, 2)
        fine = fine.all(axis=1)
        area = _shoelace(warped, cut.lengths).reshape(-1, 2)[fine]
        warped = warped[np.repeat(np.repeat(fine, 2), cut.lengths)]
        cut = cut.subset(fine)
        piece_region = np.stack(
            [region[cut.towards], region[cut.cells]], axis=1
        ).ravel()
        layer_geoms.append(
            _dissolve(topo, dense_w, region, piece_region, cut, warped, n_reg)
        )
        n_regions.append(n_reg)
        dominant = region.copy()  # the parent of each cell: its larger part
        moved = area[:, 0] > area[:, 1]
        dominant[cut.cells[moved]] = region[cut.towards[moved]]
        extra[f"layer{k + 1}_code"] = _codes(str(k + 1), n_reg)[dominant]
        logger.info(
            "synthetic: layer%d: %d regions, %d border cells, %d cut "
            "(%d selected; %d undone by roughness)",
            k + 1,
            n_reg,
            len(border),
            len(cut.cells),
            int(chosen.sum()),
            int((~fine).sum()),
        )

    base_geoms = _polygons(dense_w, topo.dlen)
    keep = np.ones(n, dtype=bool)
    if not is_box:
        base_geoms = _clip(base_geoms, geom)
        keep = ~shapely.is_empty(base_geoms)
        layer_geoms = [_clip(g, geom) for g in layer_geoms]

    base_codes = _codes("", n)
    layers = {
        "base": _frame(
            "base",
            base_codes[keep],
            np.char.add("Cellule ", base_codes[keep]),
            base_geoms[keep],
            params,
            {col: values[keep] for col, values in extra.items()},
        )
    }
    for k, lg in enumerate(layer_geoms):
        codes = _codes(str(k + 1), n_regions[k])
        present = ~shapely.is_empty(lg)
        layers[f"layer{k + 1}"] = _frame(
            f"layer{k + 1}",
            codes[present],
            np.char.add("Zone ", codes[present]),
            lg[present],
            params,
        )
    return layers
