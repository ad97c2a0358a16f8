"""Graph algorithms on plain integer edge lists (no geometry, no pandas).

Every grouping in :mod:`geodecoupage.grouping` reduces to a few questions about an
undirected multigraph given as two integer arrays ``ei``/``ej`` (one entry per
edge, nodes ``0..n-1``): which nodes are connected, which edges are bridges, which
pairs of edges form a cut. The functions here answer them in pure Python/NumPy,
deterministically, so they can be tested on hand-drawn graphs.

Two geometric helpers build such graphs from polygons: :func:`contiguity_edges`
(shared border length between units) and :func:`island_links` (joins each
disconnected component to its nearest unit).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

import shapely

__all__ = [
    "UnionFind",
    "component_labels",
    "contiguity_edges",
    "cut_signatures",
    "is_connected_subset",
    "island_links",
    "min_st_cut",
    "small_cuts",
]


class UnionFind:
    """Disjoint sets over ``0..n-1`` with path halving and union by size."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        """Return the representative of *x*'s set."""
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> bool:
        """Merge the sets of *a* and *b*; return True if they were distinct."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        return True


def component_labels(
    n: int,
    ei: Sequence[int] | np.ndarray,
    ej: Sequence[int] | np.ndarray,
    *,
    keep: np.ndarray | None = None,
) -> np.ndarray:
    """Label the connected components of a graph.

    Parameters
    ----------
    n
        Number of nodes.
    ei, ej
        Edge end points (same length).
    keep
        Optional boolean mask over edges; edges where it is False are ignored.

    Returns
    -------
    numpy.ndarray
        ``int64`` label per node, ``0..k-1``, numbered in order of each
        component's smallest node (so the result does not depend on edge order).
    """
    uf = UnionFind(n)
    a = np.asarray(ei, dtype=np.int64)
    b = np.asarray(ej, dtype=np.int64)
    if keep is not None:
        a, b = a[keep], b[keep]
    for x, y in zip(a.tolist(), b.tolist(), strict=True):
        uf.union(x, y)
    roots = [uf.find(x) for x in range(n)]
    mapping: dict[int, int] = {}
    out = np.empty(n, dtype=np.int64)
    for x, r in enumerate(roots):
        out[x] = mapping.setdefault(r, len(mapping))
    return out


def cut_signatures(
    n: int,
    ei: Sequence[int] | np.ndarray,
    ej: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
) -> np.ndarray:
    """Random cycle-space signatures: equal signatures reveal small edge cuts.

    Parameters
    ----------
    n
        Number of nodes.
    ei, ej
        Edge end points of an undirected multigraph (parallel edges and
        self-loops allowed).
    seed
        Seed of :func:`numpy.random.default_rng` drawing the labels.

    Returns
    -------
    numpy.ndarray
        ``uint64`` signature per edge.

    Notes
    -----
    Take a spanning forest; give every non-tree edge a random 64-bit label and
    every tree edge the XOR of the labels of the non-tree edges whose
    fundamental cycle uses it (the XOR of labels incident to the subtree below
    it). A set of edges :math:`S` is an edge cut (its removal increases the
    number of components) if and only if the XOR of its signatures is zero,
    up to a false-positive probability of :math:`2^{-64}` per tested set
    (the cut-space/cycle-space duality used by Pritchard and Thurimella, 2011,
    "Fast computation of small cuts via cycle space sampling"). Hence bridges
    have signature 0 (self-loops too, and are excluded by callers), and two
    non-bridge edges form a 2-edge cut exactly when their signatures are equal.
    Cost: :math:`O(n + m)`.
    """
    a = np.asarray(ei, dtype=np.int64)
    b = np.asarray(ej, dtype=np.int64)
    m = len(a)
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, np.iinfo(np.uint64).max, size=m, dtype=np.uint64)
    adj: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for e, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        adj[x].append((y, e))
        adj[y].append((x, e))
    parent_edge = np.full(n, -1, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    order: list[int] = []
    tree = np.zeros(m, dtype=bool)
    for root in range(n):
        if seen[root]:
            continue
        seen[root] = True
        stack = [root]
        while stack:
            v = stack.pop()
            order.append(v)
            for w, e in adj[v]:
                if not seen[w]:
                    seen[w] = True
                    tree[e] = True
                    parent_edge[w] = e
                    stack.append(w)
    sig = np.where(tree, np.uint64(0), labels)
    sig[a == b] = 0  # self-loops: never on a fundamental cycle of another edge
    acc = np.zeros(n, dtype=np.uint64)
    for e in np.flatnonzero(~tree & (a != b)).tolist():
        acc[a[e]] ^= sig[e]
        acc[b[e]] ^= sig[e]
    for v in reversed(order):  # children before parents
        e = int(parent_edge[v])
        if e < 0:
            continue
        sig[e] = acc[v]
        p = int(a[e]) if int(b[e]) == v else int(b[e])
        acc[p] ^= acc[v]
    return sig


def small_cuts(
    n: int,
    ei: Sequence[int] | np.ndarray,
    ej: Sequence[int] | np.ndarray,
    *,
    max_size: int = 2,
    seed: int = 0,
) -> list[tuple[int, ...]]:
    """List every minimal edge cut of at most *max_size* edges.

    Parameters
    ----------
    n
        Number of nodes.
    ei, ej
        Edge end points of an undirected multigraph.
    max_size
        1 (bridges only), 2 or 3.
    seed
        Seed for :func:`cut_signatures`.

    Returns
    -------
    list of tuple of int
        Edge indices of each cut, sorted; bridges first, then pairs, then
        triples. Every cut is verified by recomputing the components, so the
        list has no false positive. A cut is *minimal*: no proper subset of
        it is a cut.
    """
    if max_size not in (1, 2, 3):
        msg = f"max_size must be 1, 2 or 3, got {max_size!r}."
        raise ValueError(msg)
    a = np.asarray(ei, dtype=np.int64)
    b = np.asarray(ej, dtype=np.int64)
    sig = cut_signatures(n, a, b, seed=seed)
    base = int(component_labels(n, a, b).max(initial=-1)) + 1
    proper = np.flatnonzero(a != b)

    def is_cut(edges: tuple[int, ...]) -> bool:
        keep = np.ones(len(a), dtype=bool)
        keep[list(edges)] = False
        return int(component_labels(n, a, b, keep=keep).max(initial=-1)) + 1 > base

    cuts: list[tuple[int, ...]] = []
    bridges = [int(e) for e in proper if sig[e] == 0]
    cuts += [(e,) for e in bridges if is_cut((e,))]
    if max_size == 1:
        return cuts
    rest = [int(e) for e in proper if sig[e] != 0]
    groups: dict[int, list[int]] = {}
    for e in rest:
        groups.setdefault(int(sig[e]), []).append(e)
    for members in groups.values():
        for pair in itertools.combinations(sorted(members), 2):
            if is_cut(pair):
                cuts.append(pair)
    if max_size == 2:
        return cuts
    by_sig = groups
    triples: set[tuple[int, int, int]] = set()
    for i, e in enumerate(rest):
        for f in rest[i + 1 :]:
            if sig[e] == sig[f]:
                continue  # {e, f} is itself a cut: no minimal triple contains it
            target = int(sig[e] ^ sig[f])
            for g in by_sig.get(target, ()):
                if g in (e, f):
                    continue
                triple = tuple(sorted((e, f, g)))
                if len(triple) == 3:
                    triples.add(triple)
    cuts += [t for t in sorted(triples) if is_cut(t)]
    return cuts


def min_st_cut(
    n: int,
    ei: Sequence[int] | np.ndarray,
    ej: Sequence[int] | np.ndarray,
    capacity: Sequence[float] | np.ndarray,
    s: int,
    t: int,
) -> tuple[float, np.ndarray]:
    """Minimum edge cut separating node *s* from node *t* (undirected).

    Parameters
    ----------
    n
        Number of nodes.
    ei, ej
        Edge end points; parallel edges are allowed (their capacities add).
    capacity
        Non-negative capacity per edge.
    s, t
        Distinct nodes.

    Returns
    -------
    tuple
        ``(value, side)``: the cut capacity and a boolean mask of the nodes on
        *s*'s side. The cut edges are those with exactly one end in ``side``.

    Notes
    -----
    Edmonds–Karp (shortest augmenting paths, :math:`O(nm^2)`) on the graph
    where each undirected edge is two opposite arcs of the same capacity; the
    side of *s* is the set reachable from *s* in the final residual graph
    (max-flow/min-cut theorem). Meant for the small contracted graphs of
    :mod:`geodecoupage.grouping.envelopes` (hundreds of nodes).
    """
    if s == t:
        msg = "min_st_cut needs two distinct nodes."
        raise ValueError(msg)
    cap: list[dict[int, float]] = [{} for _ in range(n)]
    for x, y, c in zip(
        np.asarray(ei).tolist(),
        np.asarray(ej).tolist(),
        np.asarray(capacity).tolist(),
        strict=True,
    ):
        if x == y:
            continue
        cap[x][y] = cap[x].get(y, 0.0) + float(c)
        cap[y][x] = cap[y].get(x, 0.0) + float(c)
    flow = 0.0
    eps = 1e-9
    while True:
        prev = [-1] * n
        prev[s] = s
        queue = [s]
        head = 0
        while head < len(queue) and prev[t] < 0:
            v = queue[head]
            head += 1
            for w, c in cap[v].items():
                if c > eps and prev[w] < 0:
                    prev[w] = v
                    queue.append(w)
        if prev[t] < 0:
            break
        push = float("inf")
        w = t
        while w != s:
            v = prev[w]
            push = min(push, cap[v][w])
            w = v
        w = t
        while w != s:
            v = prev[w]
            cap[v][w] -= push
            cap[w][v] = cap[w].get(v, 0.0) + push
            w = v
        flow += push
    side = np.zeros(n, dtype=bool)
    for v, p in enumerate(prev):
        side[v] = p >= 0
    return flow, side


def is_connected_subset(
    nodes: Sequence[int] | set[int], adjacency: Sequence[Sequence[int]]
) -> bool:
    """Return True if *nodes* induce a connected subgraph of *adjacency*."""
    members = set(nodes)
    if len(members) <= 1:
        return True
    start = next(iter(members))
    seen = {start}
    stack = [start]
    while stack:
        v = stack.pop()
        for w in adjacency[v]:
            if w in members and w not in seen:
                seen.add(w)
                stack.append(w)
    return len(seen) == len(members)


def contiguity_edges(
    geoms: Sequence[object] | np.ndarray,
    *,
    min_shared_border_m: float = 0.0,
    snap_m: float = 0.0,
) -> pd.DataFrame:
    """Rook contiguity: pairs of polygons sharing a border, with its length.

    Parameters
    ----------
    geoms
        Polygons in a projected CRS in metres (EPSG:32198 in geodecoupage).
    min_shared_border_m
        Pairs sharing at most this length are not neighbours. Pairs touching
        at a single point (length 0) are never neighbours.
    snap_m
        0: borders count where the two boundaries coincide exactly (units of a
        clean partition, or atlas atoms). Positive: the part of each boundary
        within *snap_m* of the other counts (layers whose shared borders do not
        share vertices); the length is the smaller of the two directions.

    Returns
    -------
    pandas.DataFrame
        Columns ``i``, ``j`` (positions, ``i < j``) and ``shared_m``, sorted by
        ``(i, j)``.
    """
    arr = np.asarray(geoms, dtype=object)
    empty = pd.DataFrame(
        {
            "i": np.array([], dtype=np.int64),
            "j": np.array([], dtype=np.int64),
            "shared_m": np.array([], dtype=np.float64),
        }
    )
    if len(arr) < 2:
        return empty
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="dwithin", distance=max(snap_m, 1e-6))
    keep = left < right
    i, j = left[keep], right[keep]
    if len(i) == 0:
        return empty
    bnd = shapely.boundary(arr)
    if snap_m > 0:
        zone = shapely.buffer(bnd, snap_m)
        len_ij = shapely.length(shapely.intersection(bnd[i], zone[j]))
        len_ji = shapely.length(shapely.intersection(bnd[j], zone[i]))
        shared = np.minimum(len_ij, len_ji) - 2.0 * snap_m  # remove end caps
        shared = np.clip(shared, 0.0, None)
    else:
        shared = shapely.length(shapely.intersection(bnd[i], bnd[j]))
    ok = shared > max(min_shared_border_m, 0.0)
    out = pd.DataFrame(
        {
            "i": i[ok].astype(np.int64),
            "j": j[ok].astype(np.int64),
            "shared_m": shared[ok].astype(np.float64),
        }
    )
    return out.sort_values(["i", "j"], kind="mergesort").reset_index(drop=True)


def island_links(
    geoms: Sequence[object] | np.ndarray,
    ei: Sequence[int] | np.ndarray,
    ej: Sequence[int] | np.ndarray,
) -> pd.DataFrame:
    """Join every connected component to the nearest unit outside it.

    Parameters
    ----------
    geoms
        Polygons in a projected CRS in metres.
    ei, ej
        Existing contiguity edges.

    Returns
    -------
    pandas.DataFrame
        Extra edges ``i``, ``j`` (positions, ``i < j``) and ``gap_m`` (the
        distance between the two polygons), in the order they were added.
        Empty when the graph is already connected.

    Notes
    -----
    Rounds repeat until the graph is connected: in each round every component
    except the largest (most units; ties: the one holding the smallest
    position) is joined to the unit outside it that is nearest to any of its
    units (ties: smallest positions). Each round at least halves the number of
    components, so the result is a connected graph with the fewest added edges
    (``components - 1``), each as short as the nearest-neighbour rule allows.
    """
    arr = np.asarray(geoms, dtype=object)
    n = len(arr)
    a = [int(x) for x in ei]
    b = [int(x) for x in ej]
    added: list[tuple[int, int, float]] = []
    while True:
        labels = component_labels(n, a, b)
        k = int(labels.max(initial=-1)) + 1
        if k <= 1:
            break
        sizes = np.bincount(labels, minlength=k)
        main = int(np.argmax(sizes))  # first max = component of the smallest node
        joined = UnionFind(k)  # components merged during this round
        for comp in range(k):
            if comp == main:
                continue
            inside = np.flatnonzero(labels == comp)
            outside = np.flatnonzero(labels != comp)
            tree = shapely.STRtree(arr[outside])
            (src, dst), dist = tree.query_nearest(
                arr[inside], return_distance=True, all_matches=True
            )
            cand = sorted(
                zip(
                    dist.tolist(),
                    inside[src].tolist(),
                    outside[dst].tolist(),
                    strict=True,
                )
            )
            gap, u, v = cand[0]
            if not joined.union(comp, int(labels[v])):
                continue  # already joined this round (two islands facing each other)
            a.append(u)
            b.append(v)
            added.append((min(u, v), max(u, v), float(gap)))
    return pd.DataFrame(
        {
            "i": np.array([x[0] for x in added], dtype=np.int64),
            "j": np.array([x[1] for x in added], dtype=np.int64),
            "gap_m": np.array([x[2] for x in added], dtype=np.float64),
        }
    )
