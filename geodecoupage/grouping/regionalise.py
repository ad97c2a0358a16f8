"""Optimised regionalisation: contiguous groups that straddle few institutions.

Problem. Base units :math:`b` (municipalities of a region, say) with population
:math:`p_b`, a contiguity graph (shared borders), and for each institutional layer
:math:`L` (MRC, RLS, CSS, ...) the weight :math:`w_{bu}` of each base unit in each
unit :math:`u` (population; area where nobody lives). Find a partition into
contiguous groups :math:`g`, each with population at least ``floor``, minimising

.. math::

    F = \\sum_g \\sum_L \\bigl(k_L(g) - 1\\bigr)
        + λ \\sum_g \\frac{|P_g - \\bar P|}{\\bar P},
    \\qquad k_L(g) = \\max\\Bigl(1, \\#\\{u \\in L :
        W_{gu} > τ \\textstyle\\sum_{u' \\in L} W_{gu'}\\}\\Bigr),
    \\quad W_{gu} = \\textstyle\\sum_{b \\in g} w_{bu},

i.e. the number of *extra* institutional units the groups straddle (a group
straddles a unit holding more than ``threshold`` τ of the group's weight in that
layer; its dominant unit always counts, the rule of
:func:`~geodecoupage.metrics.incoherence.unit_incoherence` applied to the group),
plus an optional population-balance penalty (:math:`λ` = ``balance``,
:math:`\\bar P` the mean group population). :math:`F = 0` means every group sits
inside one unit of every layer. With ``n_groups=None`` the number of groups is free:
the solver minimises the straddles first and then makes as many groups as the floor
allows (max-p style).

Solvers. ``method="local"`` (default, no extra dependency) is ours: competing seeded
constructions (agglomeration of under-floor groups along the cheapest borders,
max-p style growth from random or peripheral seeds), merges or spanning-tree splits
to the requested count, then boundary moves and ReCom-style recombinations that
keep every group contiguous and above the floor. ``method="maxp" | "azp" |
"skater"`` run the spopt heuristics (extra ``grouping``) on one-hot encodings of the
units each base unit touches, for comparison; their labels are scored with the same
:math:`F` (see ``tests/grouping/compare_spopt.py``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import pandas as pd

import geopandas as gpd

from geodecoupage.errors import InfeasibleGroupingError, InvalidParameterError
from geodecoupage.grouping._graph import (
    component_labels,
    contiguity_edges,
    is_connected_subset,
    island_links,
)
from geodecoupage.grouping._pieces import (
    AtlasLike,
    Weight,
    base_codes,
    check_threshold,
    check_weight,
    pieces_from_atoms,
    restrict_atoms,
    score_pieces,
)
from geodecoupage.grouping.result import GroupingProposal

logger = logging.getLogger(__name__)

__all__ = [
    "IslandPolicy",
    "Method",
    "RegionSolution",
    "compare_groupings",
    "contiguity_graph",
    "regionalise",
    "regionalise_tables",
    "straddle_objective",
]

Method = Literal["local", "maxp", "azp", "skater"]
IslandPolicy = Literal["nearest", "keep"]
_EPS = 1e-9
_MAX_EXTRA_STARTS = 60
_MODES = ("cost", "size", "grow", "grow-edge", "grow-small")


@dataclass(frozen=True, eq=False)
class RegionSolution:
    """A regionalisation of plain tables (no geometry).

    Attributes
    ----------
    labels
        Group id per base unit (index: base codes, name ``group``).
    groups
        Per group: ``n_units``, ``population``, ``straddles`` and
        ``n_<layer>`` (units of each layer it straddles).
    objective
        :math:`F` (see the module docstring).
    straddles
        :math:`\\sum_g \\sum_L (|T_L(g)| - 1)`.
    balance_term
        :math:`\\sum_g |P_g - \\bar P| / \\bar P`.
    params
        The parameters used (method, floor, n_groups, balance, seed, ...).
    """

    labels: pd.Series
    groups: pd.DataFrame
    objective: float
    straddles: int
    balance_term: float
    params: dict[str, object] = field(default_factory=dict)


# ----------------------------------------------------------------------------
# graph and checks


def contiguity_graph(
    geoms: gpd.GeoSeries,
    *,
    islands: IslandPolicy = "nearest",
    min_shared_border_m: float = 0.0,
    snap_m: float = 0.0,
) -> pd.DataFrame:
    """Contiguity edges between base units, islands joined to their nearest unit.

    Parameters
    ----------
    geoms
        Base unit polygons indexed by code, in EPSG:32198.
    islands
        ``"nearest"``: each connected component other than the largest is joined
        to the nearest unit outside it (see
        :func:`~geodecoupage.grouping._graph.island_links`), so the graph is
        connected; ``"keep"``: components stay apart (every component then needs
        its own groups).
    min_shared_border_m, snap_m
        See :func:`~geodecoupage.grouping._graph.contiguity_edges`.

    Returns
    -------
    pandas.DataFrame
        Columns ``a``, ``b`` (codes, ``a < b`` in position order), ``kind``
        (``"border"`` or ``"nearest"``) and ``length_m`` (shared border, or
        the gap for a ``"nearest"`` edge).

    Raises
    ------
    InvalidParameterError
        For an unknown *islands* policy.
    """
    if islands not in get_args(IslandPolicy):
        msg = f"islands must be 'nearest' or 'keep', got {islands!r}."
        raise InvalidParameterError(msg)
    codes = np.asarray(geoms.index.astype(str))
    arr = np.asarray(geoms.to_numpy(), dtype=object)
    border = contiguity_edges(
        arr, min_shared_border_m=min_shared_border_m, snap_m=snap_m
    )
    frames = [
        pd.DataFrame(
            {
                "a": codes[border["i"].to_numpy()],
                "b": codes[border["j"].to_numpy()],
                "kind": "border",
                "length_m": border["shared_m"].to_numpy(),
            }
        )
    ]
    if islands == "nearest":
        extra = island_links(arr, border["i"], border["j"])
        if len(extra):
            logger.info(
                "Contiguity: %d island component(s) joined to their nearest unit "
                "(largest gap %.0f m).",
                len(extra),
                float(extra["gap_m"].max()),
            )
        frames.append(
            pd.DataFrame(
                {
                    "a": codes[extra["i"].to_numpy()],
                    "b": codes[extra["j"].to_numpy()],
                    "kind": "nearest",
                    "length_m": extra["gap_m"].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _first(codes: Sequence[str], k: int = 5) -> str:
    shown = ", ".join(list(codes)[:k])
    more = f" and {len(codes) - k} more" if len(codes) > k else ""
    return shown + more


def _check_feasible(
    pop: np.ndarray,
    comp: np.ndarray,
    codes: np.ndarray,
    *,
    floor: float,
    n_groups: int | None,
) -> None:
    """Raise InfeasibleGroupingError (with the numbers) for impossible settings."""
    n = len(pop)
    total = float(pop.sum())
    k = int(comp.max(initial=-1)) + 1
    if n == 0:
        msg = "No base unit to group: the selection is empty."
        raise InfeasibleGroupingError(msg)
    comp_pop = np.bincount(comp, weights=pop, minlength=k)
    low = np.flatnonzero(comp_pop < floor - _EPS)
    if len(low):
        c = int(low[0])
        members = [str(x) for x in codes[comp == c]]
        where = (
            "The whole territory"
            if k == 1
            else f"{len(low)} of the {k} contiguity components, e.g. the one of "
            f"{len(members)} unit(s) ({_first(members)}),"
        )
        msg = (
            f"{where} has population {comp_pop[c]:,.0f}, below the floor "
            f"{floor:,.0f}; no contiguous group can reach it. Lower the floor"
            + (
                ", or join islands to their nearest unit (islands='nearest')."
                if k > 1
                else "."
            )
        )
        raise InfeasibleGroupingError(msg)
    if n_groups is None:
        return
    if n_groups < k:
        msg = (
            f"n_groups={n_groups} is fewer than the {k} contiguity components "
            f"(islands kept apart): each needs its own group. Ask for at least {k} "
            f"groups, or join islands (islands='nearest')."
        )
        raise InfeasibleGroupingError(msg)
    if n_groups > n:
        msg = (
            f"n_groups={n_groups} is more than the {n} base units. Ask for at most "
            f"{n} groups."
        )
        raise InfeasibleGroupingError(msg)
    if floor > 0:
        cap = int(sum(math.floor(p / floor + _EPS) for p in comp_pop))
        if n_groups > cap:
            msg = (
                f"n_groups={n_groups} groups of at least {floor:,.0f} persons need "
                f"more than the population allows: {total:,.0f} persons in {k} "
                f"component(s) hold at most {cap} such groups. Lower n_groups or "
                f"the floor."
            )
            raise InfeasibleGroupingError(msg)


# ----------------------------------------------------------------------------
# the local solver


Pieces = list[tuple[int, float, float]]  # (key, population, area) per base unit
_TINY_AREA = 1e-6


class _State:
    """Groups with their piece sums and cached straddle counts.

    A group straddles unit :math:`u` of layer :math:`L` when its piece in
    :math:`u` holds more than ``tau`` of the group's weight in :math:`L`
    (population, or area when the group has nobody in :math:`L`); its dominant
    unit always counts.
    """

    def __init__(
        self,
        labels: np.ndarray,
        pop: np.ndarray,
        pieces: list[Pieces],
        key_layer: np.ndarray,
        n_layers: int,
        tau: float,
        use_pop: bool,
    ) -> None:
        self.pop_u = pop
        self.pieces = pieces
        self.key_layer = key_layer
        self.n_layers = n_layers
        self.tau = tau
        self.use_pop = use_pop
        self.lab = labels.copy()
        self.members: dict[int, set[int]] = {}
        self.pop: dict[int, float] = {}
        self.sums: dict[int, dict[int, list[float]]] = {}
        self._cache: dict[int, int] = {}
        for u, g in enumerate(self.lab.tolist()):
            self._add(u, g)

    # -- bookkeeping

    def _add(self, u: int, g: int) -> None:
        if g not in self.members:
            self.members[g] = set()
            self.pop[g] = 0.0
            self.sums[g] = {}
        self.members[g].add(u)
        self.pop[g] += float(self.pop_u[u])
        add_pieces(self.sums[g], self.pieces[u], 1.0)
        self._cache.pop(g, None)
        self.lab[u] = g

    def _remove(self, u: int, g: int) -> None:
        self.members[g].discard(u)
        self.pop[g] -= float(self.pop_u[u])
        add_pieces(self.sums[g], self.pieces[u], -1.0)
        self._cache.pop(g, None)
        if not self.members[g]:
            del self.members[g], self.pop[g], self.sums[g]

    def move(self, u: int, h: int) -> None:
        g = int(self.lab[u])
        self._remove(u, g)
        self._add(u, h)

    def merge(self, g: int, h: int) -> None:
        for u in list(self.members[h]):
            self._remove(u, h)
            self._add(u, g)

    # -- scores

    def straddle_of(self, sums: dict[int, list[float]]) -> int:
        """Extra units straddled by a group with these piece sums."""
        return int(np.clip(self.layer_counts(sums) - 1, 0, None).sum())

    def layer_counts(self, sums: dict[int, list[float]]) -> np.ndarray:
        """Units straddled per layer (the dominant one always counts)."""
        n = self.n_layers
        tot_p = np.zeros(n)
        tot_a = np.zeros(n)
        for k, (wp, wa) in sums.items():
            lay = self.key_layer[k]
            tot_p[lay] += wp
            tot_a[lay] += wa
        use_p = self.use_pop & (tot_p > 0)
        limit = self.tau * np.where(use_p, tot_p, tot_a) * (1 + 1e-12)
        count = np.zeros(n, dtype=np.int64)
        present = np.zeros(n, dtype=np.int64)
        for k, (wp, wa) in sums.items():
            lay = self.key_layer[k]
            present[lay] = 1
            if (wp if use_p[lay] else wa) > limit[lay]:
                count[lay] += 1
        return np.maximum(count, present)

    def straddle(self, g: int) -> int:
        if g not in self._cache:
            self._cache[g] = self.straddle_of(self.sums[g])
        return self._cache[g]

    def sums_of(self, members: Sequence[int] | set[int]) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {}
        for u in members:
            add_pieces(out, self.pieces[u], 1.0)
        return out

    def merge_delta(self, g: int, h: int) -> int:
        """Change of total straddles if g and h merge."""
        merged = {k: list(v) for k, v in self.sums[g].items()}
        for k, (wp, wa) in self.sums[h].items():
            cur = merged.setdefault(k, [0.0, 0.0])
            cur[0] += wp
            cur[1] += wa
        return self.straddle_of(merged) - self.straddle(g) - self.straddle(h)

    def move_delta(self, u: int, h: int) -> int:
        """Change of total straddles if unit u moves to group h."""
        g = int(self.lab[u])
        sg = {k: list(v) for k, v in self.sums[g].items()}
        sh = {k: list(v) for k, v in self.sums[h].items()}
        add_pieces(sg, self.pieces[u], -1.0)
        add_pieces(sh, self.pieces[u], 1.0)
        return (
            self.straddle_of(sg)
            + self.straddle_of(sh)
            - self.straddle(g)
            - self.straddle(h)
        )


def add_pieces(sums: dict[int, list[float]], pieces: Pieces, sign: float) -> None:
    """Add (sign=1) or remove (sign=-1) a unit's pieces from group sums."""
    for k, wp, wa in pieces:
        cur = sums.get(k)
        if cur is None:
            if sign < 0:
                continue
            cur = sums[k] = [0.0, 0.0]
        cur[0] += sign * wp
        cur[1] += sign * wa
        if sign < 0 and cur[1] <= _TINY_AREA:
            del sums[k]


def _balance(pops: Sequence[float], mean: float) -> float:
    if mean <= 0:
        return 0.0
    return float(sum(abs(p - mean) for p in pops) / mean)


def _neighbour_groups(state: _State, adj: list[list[int]], g: int) -> set[int]:
    out: set[int] = set()
    for u in state.members[g]:
        for v in adj[u]:
            h = int(state.lab[v])
            if h != g:
                out.add(h)
    return out


def _agglomerate(
    state: _State,
    adj: list[list[int]],
    floor: float,
    n_groups: int | None,
    tie: np.ndarray,
    mode: str,
) -> None:
    """Merge under-floor groups (then surplus groups) along the cheapest borders.

    ``mode="cost"`` merges an under-floor group into the neighbour that adds the
    fewest straddles; ``mode="size"`` first prefers neighbours that are under
    the floor too (groups end close to the floor: more groups, max-p style).
    """
    while True:
        small = [g for g in state.members if state.pop[g] < floor - _EPS]
        if not small:
            break
        g = min(small, key=lambda x: (state.pop[x], tie[x]))
        nbrs = _neighbour_groups(state, adj, g)
        if not nbrs:  # an isolated component below the floor: checked before
            msg = "internal: an under-floor group has no neighbour"
            raise RuntimeError(msg)
        if mode == "size":
            h = min(
                nbrs,
                key=lambda x: (
                    state.pop[x] >= floor - _EPS,
                    state.merge_delta(g, x),
                    state.pop[x],
                    tie[x],
                ),
            )
        else:
            h = min(
                nbrs,
                key=lambda x: (state.merge_delta(g, x), state.pop[x], tie[x]),
            )
        state.merge(h, g)
    if n_groups is None:
        return
    while len(state.members) > n_groups:
        best: tuple[float, float, float, int, int] | None = None
        for g in state.members:
            for h in _neighbour_groups(state, adj, g):
                if h < g:
                    continue
                key = (
                    float(state.merge_delta(g, h)),
                    state.pop[g] + state.pop[h],
                    float(min(tie[g], tie[h])),
                    g,
                    h,
                )
                if best is None or key < best:
                    best = key
        if best is None:
            break  # disconnected components: cannot merge further
        state.merge(best[3], best[4])


def _grow(
    state: _State,
    adj: list[list[int]],
    floor: float,
    rng: np.random.Generator,
    prefer: str = "straddle",
) -> np.ndarray:
    """Max-p style construction: grow regions from random seeds up to the floor.

    Each unassigned seed (random order) absorbs the unassigned neighbour adding
    the fewest straddles (then the smallest population, so regions stop just
    above the floor; ``prefer="small"`` swaps the two keys) until it reaches the
    floor; a region that cannot reach it becomes enclaves, which finally join
    the adjacent region adding the fewest straddles.
    """
    pop = state.pop_u
    n = len(pop)
    lab = np.full(n, -1, dtype=np.int64)
    gid = 0
    tie = rng.permutation(n)
    order = rng.permutation(n).tolist()
    if prefer == "edge":  # peripheral units first: fewer enclaves
        order.sort(key=lambda x: len(adj[x]))
    for u in order:
        if lab[u] != -1:
            continue
        region = [u]
        lab[u] = gid
        total = float(pop[u])
        sums = state.sums_of([u])
        current = state.straddle_of(sums)
        frontier = {v for v in adj[u] if lab[v] == -1}
        while total < floor - _EPS and frontier:
            cost = {}
            for x in frontier:
                trial = {k: list(v) for k, v in sums.items()}
                add_pieces(trial, state.pieces[x], 1.0)
                cost[x] = state.straddle_of(trial) - current
            if prefer == "straddle":
                v = min(frontier, key=lambda x: (cost[x], float(pop[x]), tie[x]))
            elif prefer == "edge":
                # the neighbour with the fewest free neighbours (it would be
                # stranded otherwise), then the one closing the gap best
                need = floor - total
                v = min(
                    frontier,
                    key=lambda x: (
                        sum(1 for w in adj[x] if lab[w] == -1),
                        abs(float(pop[x]) - need) if pop[x] >= need else need,
                        cost[x],
                        tie[x],
                    ),
                )
            else:
                v = min(frontier, key=lambda x: (float(pop[x]), cost[x], tie[x]))
            frontier.discard(v)
            region.append(v)
            lab[v] = gid
            total += float(pop[v])
            add_pieces(sums, state.pieces[v], 1.0)
            current += cost[v]
            frontier |= {w for w in adj[v] if lab[w] == -1}
        if total < floor - _EPS:
            lab[region] = -2  # enclaves
        else:
            gid += 1
    if gid == 0:
        return np.zeros(n, dtype=np.int64)
    grown = _State(
        np.where(lab >= 0, lab, gid),
        pop,
        state.pieces,
        state.key_layer,
        state.n_layers,
        state.tau,
        state.use_pop,
    )
    # temporary group `gid` holds all enclaves; hand them out one by one
    pending = [u for u in range(n) if lab[u] < 0]
    while pending:
        rest = []
        for u in pending:
            nbrs = {int(grown.lab[v]) for v in adj[u]} - {gid}
            if not nbrs:
                rest.append(u)
                continue
            h = min(nbrs, key=lambda x: (grown.move_delta(u, x), grown.pop[x], x))
            grown.move(u, h)
        if len(rest) == len(pending):  # unreachable enclaves: keep them together
            break
        pending = rest
    return grown.lab


def _split_set(
    state: _State,
    adj: list[list[int]],
    members: set[int],
    floor: float,
    rng: np.random.Generator,
    trials: int,
    balance: float = 0.0,
    mean: float = 0.0,
) -> tuple[float, list[int]] | None:
    """Best split of *members* in two contiguous parts above the floor.

    Candidate splits cut one edge of a random spanning tree of the members
    (``trials`` trees, the recombination move of redistricting samplers);
    cost = straddles of both parts (+ balance penalty). Returns
    ``(cost, side)`` or None when no edge gives two parts above the floor.
    """
    if len(members) < 2:
        return None
    total = float(sum(float(state.pop_u[u]) for u in members))
    if total < 2 * floor - _EPS:
        return None
    full = state.sums_of(members)
    mlist = sorted(members)
    best: tuple[float, float, list[int]] | None = None
    for _ in range(trials):
        root = mlist[int(rng.integers(len(mlist)))]
        parent = {root: -1}
        order = [root]
        head = 0
        while head < len(order):
            v = order[head]
            head += 1
            nb = [w for w in adj[v] if w in members and w not in parent]
            rng.shuffle(nb)
            for w in nb:
                if w not in parent:
                    parent[w] = v
                    order.append(w)
        if len(order) != len(members):
            return None  # not connected (callers only pass contiguous sets)
        children: dict[int, list[int]] = {v: [] for v in order}
        for v in order[1:]:
            children[parent[v]].append(v)
        sub_pop: dict[int, float] = {}
        for v in reversed(order):
            sub_pop[v] = float(state.pop_u[v]) + sum(sub_pop[c] for c in children[v])
        for v in order[1:]:
            sp = sub_pop[v]
            if sp < floor - _EPS or total - sp < floor - _EPS:
                continue
            side: list[int] = []
            stack = [v]
            while stack:
                x = stack.pop()
                side.append(x)
                stack.extend(children[x])
            side_sums = state.sums_of(side)
            rest = {k: list(w) for k, w in full.items()}
            for x in side:
                add_pieces(rest, state.pieces[x], -1.0)
            cost = float(state.straddle_of(side_sums) + state.straddle_of(rest))
            if balance > 0 and mean > 0:
                cost += balance * (abs(sp - mean) + abs(total - sp - mean)) / mean
            key = (cost, abs(total - 2 * sp))
            if best is None or key < (best[0], best[1]):
                best = (cost, abs(total - 2 * sp), side)
    if best is None:
        return None
    return best[0], best[2]


def _split_until(
    state: _State,
    adj: list[list[int]],
    floor: float,
    n_groups: int | None,
    rng: np.random.Generator,
    trials: int,
) -> None:
    """Split groups: to reach n_groups, or (free count) while a split costs nothing."""
    next_id = max(state.members) + 1
    failed: set[int] = set()
    while n_groups is None or len(state.members) < n_groups:
        cands = []
        for g in sorted(state.members, key=lambda x: (-state.pop[x], x)):
            if g in failed:
                continue
            found = _split_set(state, adj, state.members[g], floor, rng, trials)
            delta = None if found is None else found[0] - state.straddle(g)
            if delta is None or (n_groups is None and delta > 0):
                failed.add(g)
                continue
            cands.append((delta, -state.pop[g], g, found[1]))  # type: ignore[index]
            if delta <= 0:
                break  # a free split: take it now
        if not cands:
            break
        _, _, g, side = min(cands, key=lambda x: (x[0], x[1], x[2]))
        for u in side:
            state.move(u, next_id)
        failed.discard(g)
        next_id += 1


def _group_cost(state: _State, g: int, balance: float, mean: float) -> float:
    cost = float(state.straddle(g))
    if balance > 0 and mean > 0:
        cost += balance * abs(state.pop[g] - mean) / mean
    return cost


def _local_search(
    state: _State,
    adj: list[list[int]],
    floor: float,
    balance: float,
    rng: np.random.Generator,
    max_passes: int,
) -> bool:
    """Boundary moves that lower F, keeping groups contiguous and above the floor."""
    n_units = len(state.lab)
    changed = False
    for _ in range(max_passes):
        improved = False
        mean = sum(state.pop.values()) / len(state.members)
        for u in rng.permutation(n_units).tolist():
            g = int(state.lab[u])
            if len(state.members[g]) == 1:
                continue
            pu = float(state.pop_u[u])
            if state.pop[g] - pu < floor - _EPS:
                continue
            targets = {int(state.lab[v]) for v in adj[u]} - {g}
            if not targets:
                continue
            best: tuple[float, int] | None = None
            for h in sorted(targets):
                d = float(state.move_delta(u, h))
                if balance > 0 and mean > 0:
                    before = abs(state.pop[g] - mean) + abs(state.pop[h] - mean)
                    after = abs(state.pop[g] - pu - mean) + abs(
                        state.pop[h] + pu - mean
                    )
                    d += balance * (after - before) / mean
                if d < -_EPS and (best is None or d < best[0]):
                    best = (d, h)
            if best is None:
                continue
            if not is_connected_subset(state.members[g] - {u}, adj):
                continue
            state.move(u, best[1])
            improved = changed = True
        if not improved:
            break
    return changed


def _recombine(
    state: _State,
    adj: list[list[int]],
    floor: float,
    balance: float,
    rng: np.random.Generator,
    trials: int,
    max_passes: int,
) -> bool:
    """Merge two adjacent groups and re-split them better (ReCom-style move)."""
    changed = False
    for _ in range(max_passes):
        improved = False
        mean = sum(state.pop.values()) / len(state.members)
        pairs = sorted(
            {
                (min(g, h), max(g, h))
                for g in state.members
                for h in _neighbour_groups(state, adj, g)
            }
        )
        for idx in rng.permutation(len(pairs)).tolist():
            g, h = pairs[idx]
            if g not in state.members or h not in state.members:
                continue
            current = _group_cost(state, g, balance, mean) + _group_cost(
                state, h, balance, mean
            )
            merged = state.members[g] | state.members[h]
            found = _split_set(state, adj, merged, floor, rng, trials, balance, mean)
            if found is None or found[0] >= current - 1e-9:
                continue
            side = set(found[1])
            for u in merged:
                target = g if u in side else h
                if int(state.lab[u]) != target:
                    state.move(u, target)
            improved = changed = True
        if not improved:
            break
    return changed


def _score(state: _State, balance: float) -> float:
    mean = sum(state.pop.values()) / len(state.members)
    return sum(_group_cost(state, g, balance, mean) for g in state.members)


def _solve_local(
    base: _State,
    adj: list[list[int]],
    *,
    floor: float,
    n_groups: int | None,
    balance: float,
    seed: int,
    max_passes: int,
    split_trials: int,
    restarts: int,
) -> np.ndarray:
    pop = base.pop_u
    n = len(pop)
    best: tuple[float, int, np.ndarray] | None = None
    reached = 0
    plans = [(mode, start) for start in range(max(restarts, 1)) for mode in _MODES[:4]]
    extra = 0
    while plans:
        mode, start = plans.pop(0)
        rng = np.random.default_rng([seed, start, _MODES.index(mode)])
        tie = rng.permutation(n).astype(np.float64)
        init = (
            _grow(
                base,
                adj,
                floor,
                rng,
                prefer={"grow-small": "small", "grow-edge": "edge"}.get(
                    mode, "straddle"
                ),
            )
            if mode.startswith("grow")
            else np.arange(n)
        )
        state = _State(
            init,
            pop,
            base.pieces,
            base.key_layer,
            base.n_layers,
            base.tau,
            base.use_pop,
        )
        _agglomerate(
            state, adj, floor, n_groups, tie, "size" if mode == "size" else "cost"
        )
        _split_until(state, adj, floor, n_groups, rng, split_trials)
        reached = max(reached, len(state.members))
        if n_groups is not None and len(state.members) != n_groups:
            if not plans and best is None and extra < _MAX_EXTRA_STARTS:
                # the target count is hard to reach: more max-p style starts
                extra += 1
                plans.append((_MODES[2 + extra % 3], restarts + extra))
            continue
        for _ in range(max_passes):
            moved = _local_search(state, adj, floor, balance, rng, max_passes)
            recombined = _recombine(
                state, adj, floor, balance, rng, split_trials, max_passes
            )
            if not (moved or recombined):
                break
        if n_groups is None:
            _split_until(state, adj, floor, None, rng, split_trials)
        key = (_score(state, balance), -len(state.members))
        if best is None or key < (best[0], best[1]):
            best = (key[0], key[1], state.lab.copy())
    if best is None:
        msg = (
            f"Could not form {n_groups} contiguous groups of at least {floor:,.0f} "
            f"persons: the search reached at most {reached}. Lower n_groups or "
            f"the floor."
        )
        raise InfeasibleGroupingError(msg)
    return best[2]


# ----------------------------------------------------------------------------
# public table-level API


def straddle_objective(
    labels: pd.Series,
    pieces: pd.DataFrame,
    population: pd.Series,
    *,
    threshold: float = 0.01,
    weight: Weight = "population",
    balance: float = 0.0,
) -> tuple[float, int, float, pd.DataFrame]:
    """Score a grouping: :math:`F`, total straddles, balance term, per-group table.

    Parameters
    ----------
    labels
        Group per base unit.
    pieces
        Pieces table of the base units (``base``, ``layer``, ``unit``,
        ``area_m2``, ``population``).
    population
        Population per base unit.
    threshold, weight
        Significance rule: a group straddles a unit holding more than
        *threshold* of the group's weight in that layer (its dominant unit
        always counts).
    balance
        :math:`λ` of the balance penalty.

    Returns
    -------
    tuple
        ``(F, straddles, balance_term, groups)``; *groups* has ``n_units``,
        ``population``, ``n_<layer>`` (units straddled, dominant included) and
        ``straddles`` per group.

    Raises
    ------
    InvalidParameterError
        If *threshold* or *weight* is out of range.
    """
    tau = check_threshold(threshold)
    wkey = check_weight(weight)
    lab = labels.astype(str)
    p = pieces.assign(group=lab.reindex(pieces["base"].astype(str)).to_numpy())
    p = p[p["group"].notna()]
    g = p.groupby(["group", "layer", "unit"], sort=True)[
        ["population", "area_m2"]
    ].sum()
    g = g.reset_index()
    tot = g.groupby(["group", "layer"])[["population", "area_m2"]].transform("sum")
    use_pop = (wkey == "population") & (tot["population"] > 0)
    share = np.where(
        use_pop,
        g["population"] / tot["population"].where(tot["population"] > 0, 1.0),
        g["area_m2"] / tot["area_m2"].where(tot["area_m2"] > 0, 1.0),
    )
    g["sig"] = share > tau * (1 + 1e-12)
    counts = g.groupby(["group", "layer"])["sig"].sum().clip(lower=1)
    per = counts.unstack("layer", fill_value=0)
    per.columns = [f"n_{c}" for c in per.columns]
    groups = pd.DataFrame(
        {
            "n_units": lab.groupby(lab).size(),
            "population": population.reindex(lab.index).fillna(0.0).groupby(lab).sum(),
        }
    )
    groups = groups.join(per).fillna(0)
    ncols = [c for c in groups.columns if c.startswith("n_") and c != "n_units"]
    groups[ncols] = groups[ncols].astype("int64")
    groups["straddles"] = (groups[ncols] - 1).clip(lower=0).sum(axis=1).astype("int64")
    groups.index.name = "group"
    straddles = int(groups["straddles"].sum())
    mean = float(groups["population"].mean()) if len(groups) else 0.0
    bal = _balance(groups["population"].tolist(), mean)
    return straddles + balance * bal, straddles, bal, groups


def regionalise_tables(
    population: pd.Series,
    pieces: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    floor: float,
    n_groups: int | None = None,
    balance: float = 0.0,
    threshold: float = 0.01,
    weight: Weight = "population",
    method: Method = "local",
    seed: int = 0,
    max_passes: int = 50,
    split_trials: int = 8,
    restarts: int = 2,
) -> RegionSolution:
    """Regionalise base units given as tables (see the module docstring).

    Parameters
    ----------
    population
        Population per base unit (index: codes); defines the set of units.
    pieces
        Pieces table (``base``, ``layer``, ``unit``, ``area_m2``,
        ``population``): how each base unit sits in each institutional unit
        (rows for codes not in *population* are ignored).
    edges
        Contiguity: columns ``a``, ``b`` (codes). Components of this graph are
        kept apart (join islands beforehand, see :func:`contiguity_graph`).
    floor
        Minimum population of a group (>= 0).
    n_groups
        Exact number of groups, or None (as many as the floor allows once the
        straddles are minimised).
    balance
        :math:`λ` >= 0, weight of the population-balance penalty.
    threshold, weight
        A group straddles a unit when its piece there holds more than
        *threshold* of the group's weight (population by default; area where
        the group has nobody) in that layer.
    method
        ``"local"`` (ours), or ``"maxp"``, ``"azp"``, ``"skater"`` (spopt; needs
        ``pip install geodecoupage[grouping]``).
    seed
        Seed of :func:`numpy.random.default_rng` (and of spopt where it takes
        one): the same inputs and seed give the same partition.
    max_passes
        Maximum passes of the local search.
    split_trials
        Random spanning trees tried per split.
    restarts
        Independent starts per construction mode (seeded); the best is kept.

    Returns
    -------
    RegionSolution

    Raises
    ------
    InfeasibleGroupingError
        If no partition satisfies the settings (the message gives the numbers).
    InvalidParameterError
        For a parameter out of range.
    """
    if method not in get_args(Method):
        msg = f"method must be one of {', '.join(get_args(Method))}, got {method!r}."
        raise InvalidParameterError(msg)
    if not np.isfinite(floor) or floor < 0:
        msg = f"floor must be a population >= 0, got {floor!r}."
        raise InvalidParameterError(msg)
    if balance < 0 or not np.isfinite(balance):
        msg = f"balance must be >= 0, got {balance!r}."
        raise InvalidParameterError(msg)
    if n_groups is not None and (
        not isinstance(n_groups, int | np.integer) or n_groups < 1
    ):
        msg = f"n_groups must be a positive integer or None, got {n_groups!r}."
        raise InvalidParameterError(msg)
    tau = check_threshold(threshold)
    wkey = check_weight(weight)
    codes = np.array(sorted(population.index.astype(str)))
    index = {c: i for i, c in enumerate(codes)}
    pop_s = population.copy()
    pop_s.index = pop_s.index.astype(str)
    pop = pop_s.reindex(codes).fillna(0.0).to_numpy(dtype=np.float64)
    if (pop < 0).any():
        msg = "population has negative values."
        raise InvalidParameterError(msg)
    ea = edges["a"].astype(str).map(index)
    eb = edges["b"].astype(str).map(index)
    ok = ea.notna() & eb.notna() & (ea != eb)
    ei = ea[ok].astype(np.int64).to_numpy()
    ej = eb[ok].astype(np.int64).to_numpy()
    comp = component_labels(len(codes), ei, ej)
    _check_feasible(pop, comp, codes, floor=floor, n_groups=n_groups)
    adj: list[list[int]] = [[] for _ in codes]
    for x, y in zip(ei.tolist(), ej.tolist(), strict=True):
        adj[x].append(y)
        adj[y].append(x)
    adj = [sorted(set(a)) for a in adj]
    pc = pieces[pieces["base"].astype(str).isin(index)]
    layers = sorted(pc["layer"].astype(str).unique())
    key_of: dict[tuple[str, str], int] = {}
    key_layer_list: list[int] = []
    unit_pieces: list[Pieces] = [[] for _ in codes]
    for b, lay, u, wp, wa in zip(
        pc["base"].astype(str),
        pc["layer"].astype(str),
        pc["unit"].astype(str),
        pc["population"].fillna(0.0).to_numpy(dtype=np.float64),
        pc["area_m2"].to_numpy(dtype=np.float64),
        strict=True,
    ):
        k = key_of.get((lay, u))
        if k is None:
            k = key_of[(lay, u)] = len(key_layer_list)
            key_layer_list.append(layers.index(lay))
        unit_pieces[index[b]].append((k, float(wp), float(wa)))
    key_layer = np.array(key_layer_list, dtype=np.int64)
    start = _State(
        np.arange(len(codes)),
        pop,
        unit_pieces,
        key_layer,
        len(layers),
        tau,
        wkey == "population",
    )
    if method == "local":
        lab = _solve_local(
            start,
            adj,
            floor=floor,
            n_groups=n_groups,
            balance=balance,
            seed=seed,
            max_passes=max_passes,
            split_trials=split_trials,
            restarts=restarts,
        )
    else:
        from geodecoupage.grouping._spopt import solve_spopt

        touched = [tuple(sorted({k for k, _, _ in ps})) for ps in unit_pieces]
        lab = solve_spopt(
            method,
            pop,
            adj,
            touched,
            len(key_layer_list),
            floor=floor,
            n_groups=n_groups,
            seed=seed,
        )
    labels = _relabel(lab, pop, codes)
    obj, straddles, bal, groups = straddle_objective(
        labels,
        pc,
        pd.Series(pop, index=codes),
        threshold=tau,
        weight=wkey,
        balance=balance,
    )
    return RegionSolution(
        labels=labels,
        groups=groups,
        objective=float(obj),
        straddles=straddles,
        balance_term=bal,
        params={
            "method": method,
            "floor": float(floor),
            "n_groups": n_groups,
            "balance": float(balance),
            "threshold": tau,
            "weight": wkey,
            "seed": seed,
            "max_passes": max_passes,
            "split_trials": split_trials,
            "restarts": restarts,
        },
    )


def _relabel(lab: np.ndarray, pop: np.ndarray, codes: np.ndarray) -> pd.Series:
    """Canonical ids R001.. by decreasing population, then smallest member code."""
    frame = pd.DataFrame({"g": lab, "pop": pop, "code": codes})
    agg = frame.groupby("g").agg(pop=("pop", "sum"), first=("code", "min"))
    agg = agg.sort_values(["pop", "first"], ascending=[False, True], kind="mergesort")
    width = max(3, len(str(len(agg))))
    names = {g: f"R{k + 1:0{width}d}" for k, g in enumerate(agg.index)}
    return pd.Series(
        [names[g] for g in lab], index=pd.Index(codes, name="code"), name="group"
    )


# ----------------------------------------------------------------------------
# atlas-level API


def regionalise(
    atlas: AtlasLike,
    *,
    floor: float,
    base: str = "municipalites",
    layers: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    n_groups: int | None = None,
    balance: float = 0.0,
    threshold: float = 0.01,
    weight: Weight = "population",
    islands: IslandPolicy = "nearest",
    min_shared_border_m: float = 0.0,
    snap_m: float = 0.0,
    method: Method = "local",
    seed: int = 0,
    geometry: gpd.GeoSeries | None = None,
) -> GroupingProposal:
    """Propose contiguous groups of base units that straddle few institutions.

    Parameters
    ----------
    atlas
        An atlas holding *base* and *layers*.
    floor
        Minimum population per group.
    base
        Base layer key (e.g. ``"municipalites"``), or ``"atom"``.
    layers
        Institutional layers (default: every other layer of the atlas).
    units
        Base unit codes to group (e.g. the municipalities of one region);
        default: all.
    n_groups, balance, method, seed
        See :func:`regionalise_tables`.
    threshold, weight
        A group straddles a unit holding more than *threshold* of the group's
        weight (population; area where nobody lives) in that layer (see
        :func:`regionalise_tables`).
    islands, min_shared_border_m, snap_m
        Contiguity (see :func:`contiguity_graph`).
    geometry
        Base unit polygons (index: codes, EPSG:32198); default: the atoms
        dissolved by base unit.

    Returns
    -------
    GroupingProposal
        ``kind="regions"``; ``objective`` = :math:`F`; ``groups`` has
        ``n_units``, ``population``, ``area_m2``, ``straddles``,
        ``n_<layer>``; tables ``contiguity`` (the edges used, islands flagged).

    Raises
    ------
    InfeasibleGroupingError
        If no partition satisfies the settings.
    InvalidParameterError
        For a parameter out of range or a layer missing from the atlas.

    Examples
    --------
    >>> from geodecoupage.datasets.demo import demo_layers, demo_population
    >>> from geodecoupage.overlay.atlas import build_atlas
    >>> layers = demo_layers()
    >>> atlas = build_atlas(
    ...     {k: layers[k] for k in ("municipalites", "rls", "css")},
    ...     population=demo_population(),
    ... )
    >>> prop = regionalise(atlas, floor=20_000, layers=["rls", "css"], seed=0)
    >>> bool((prop.groups["population"] >= 20_000).all())
    True
    >>> prop.labels.index.is_unique and len(prop.labels) == 48
    True
    """
    from geodecoupage.grouping.envelopes import _layer_keys, dissolve_groups

    keys = _layer_keys(atlas, base, layers)
    sub = restrict_atoms(atlas.atoms, base, units)
    codes = base_codes(sub, base)
    ok = codes.notna().to_numpy(dtype=bool)
    sub = sub[ok]
    pieces = pieces_from_atoms(sub, base=base, layers=keys)
    sub_codes = codes[ok].astype(str)
    by_base = (
        pd.DataFrame(
            {
                "code": sub_codes.to_numpy(),
                "population": sub["population"].fillna(0.0).to_numpy(),
                "area_m2": sub["area_m2"].to_numpy(),
            }
        )
        .groupby("code")[["population", "area_m2"]]
        .sum()
    )
    if geometry is None:
        ident = pd.Series(by_base.index, index=by_base.index)
        geoms = dissolve_groups(sub, base, ident)
    else:
        geoms = geometry[geometry.index.astype(str).isin(by_base.index)]
        geoms.index = geoms.index.astype(str)
    geoms = geoms.reindex(by_base.index)
    edges = contiguity_graph(
        geoms,
        islands=islands,
        min_shared_border_m=min_shared_border_m,
        snap_m=snap_m,
    )
    sol = regionalise_tables(
        by_base["population"],
        pieces,
        edges,
        floor=floor,
        n_groups=n_groups,
        balance=balance,
        threshold=threshold,
        weight=weight,
        method=method,
        seed=seed,
    )
    dissolved = (
        gpd.GeoDataFrame(
            {"group": sol.labels.reindex(geoms.index).to_numpy()},
            geometry=geoms.to_numpy(),
            crs=sub.crs,
        )
        .dissolve("group")
        .geometry
    )
    area = by_base["area_m2"].groupby(sol.labels.reindex(by_base.index)).sum()
    groups = sol.groups.copy()
    groups.insert(2, "area_m2", area.reindex(groups.index).to_numpy())
    groups["meets_floor"] = groups["population"] >= floor - _EPS
    gdf = gpd.GeoDataFrame(
        groups, geometry=dissolved.reindex(groups.index).to_numpy(), crs=sub.crs
    )
    params: dict[str, object] = {
        "objective": "straddles + balance * balance_term",
        **sol.params,
        "base": base,
        "layers": list(keys),
        "islands": islands,
        "min_shared_border_m": float(min_shared_border_m),
        "snap_m": float(snap_m),
        "n_units": len(sol.labels),
        "straddles": sol.straddles,
        "balance_term": sol.balance_term,
        "atlas": dict(getattr(atlas, "params", {}) or {}),
        "summary_fr": (
            f"{sol.straddles} unité(s) institutionnelle(s) en trop chevauchée(s) ; "
            f"plancher {floor:,.0f} personnes".replace(",", "\u202f")
        ),
        "summary_en": (
            f"{sol.straddles} extra institutional unit(s) straddled; "
            f"floor {floor:,.0f} persons"
        ),
    }
    return GroupingProposal(
        kind="regions",
        labels=sol.labels,
        groups=gdf,
        objective=sol.objective,
        params=params,
        tables={"contiguity": edges},
    )


_COMPARED = (
    "straddles",
    "n_split",
    "nesting_index_pop",
    "nesting_index_area",
    "pop_outside_dominant",
    "nmi_area",
    "vi_area",
)


def compare_groupings(
    atlas: AtlasLike,
    proposal: GroupingProposal,
    *,
    reference: str | None = "mrc",
    layers: Sequence[str] | None = None,
    threshold: float = 0.01,
    weight: Weight = "population",
) -> pd.DataFrame:
    """Score a proposal against an existing grouping of the same base units.

    Parameters
    ----------
    atlas
        The atlas the proposal was computed on.
    proposal
        A :class:`GroupingProposal` (``labels`` per base unit; ``params`` with
        ``base`` and ``layers``).
    reference
        Layer whose units serve as the "before" grouping (each base unit in its
        dominant unit), e.g. ``"mrc"``; None: no "before" (NaN).
    layers
        Institutional layers to score against (default: the proposal's).
    threshold, weight
        Significance rule of the straddle counts.

    Returns
    -------
    pandas.DataFrame
        Long table ``layer``, ``metric``, ``before``, ``after``, ``change``:
        per institutional layer the straddles (:math:`\\sum_g (|T_L(g)| - 1)`)
        and the scores of :func:`geodecoupage.metrics.pair_scores` of the
        grouping against the layer (``n_split``, nesting indices, persons
        outside the dominant unit, NMI, VI); and for ``layer="all"``:
        ``n_groups``, ``straddles``, ``min_population``.

    Raises
    ------
    InvalidParameterError
        If a layer is not in the atlas.
    """
    from geodecoupage.grouping.envelopes import _layer_keys
    from geodecoupage.grouping.reassign import pair_scores

    base = str(proposal.params.get("base", "municipalites"))
    keys = list(layers) if layers is not None else list(proposal.params["layers"])  # type: ignore[call-overload]
    _layer_keys(atlas, base, keys)
    atoms = atlas.atoms
    codes = (
        atoms[base].astype("string")
        if base != "atom"
        else pd.Series(atoms.index.astype(str), index=atoms.index, dtype="string")
    )
    after_lab = proposal.labels.astype(str)
    inside = codes.isin(list(after_lab.index)).to_numpy()
    sub = atoms[inside].copy()
    sub_codes = codes[inside].astype(str)
    sub["_after"] = pd.array(after_lab.reindex(sub_codes).to_numpy(), dtype="string")
    pieces = pieces_from_atoms(sub, base=base, layers=keys)
    pop = (
        pd.Series(sub["population"].fillna(0.0).to_numpy(), index=sub_codes.to_numpy())
        .groupby(level=0)
        .sum()
    )
    labelings: dict[str, pd.Series] = {"after": after_lab}
    if reference is not None:
        if reference not in atlas.layers:
            msg = (
                f"Reference layer {reference!r} is not in the atlas (layers: "
                f"{', '.join(atlas.layers)})."
            )
            raise InvalidParameterError(msg)
        ref = score_pieces(
            pieces_from_atoms(sub, base=base, layers=[reference]), threshold=0.0
        )
        ref_lab = ref[ref["dominant_for_base"]].set_index("base")["unit"].astype(str)
        labelings["before"] = ref_lab.reindex(after_lab.index)
        sub["_before"] = pd.array(
            labelings["before"].reindex(sub_codes).to_numpy(), dtype="string"
        )
    values: dict[tuple[str, str], dict[str, float]] = {}
    for when, lab in labelings.items():
        lab = lab.dropna()
        _, total, _, groups = straddle_objective(
            lab, pieces, pop, threshold=threshold, weight=weight
        )
        values[("all", "n_groups")] = {
            **values.get(("all", "n_groups"), {}),
            when: float(len(groups)),
        }
        values[("all", "straddles")] = {
            **values.get(("all", "straddles"), {}),
            when: float(total),
        }
        values[("all", "min_population")] = {
            **values.get(("all", "min_population"), {}),
            when: float(groups["population"].min()),
        }
        col = "_after" if when == "after" else "_before"
        scores = pair_scores(sub, [(col, k) for k in keys], threshold=threshold)
        for key in keys:
            n_col = f"n_{key}"
            strad = (
                float((groups[n_col] - 1).clip(lower=0).sum())
                if n_col in groups
                else 0.0
            )
            values.setdefault((key, "straddles"), {})[when] = strad
            row = scores.loc[(col, key)]
            for metric in _COMPARED[1:]:
                if metric in row.index:
                    values.setdefault((key, metric), {})[when] = float(row[metric])
    rows = [
        {
            "layer": layer,
            "metric": metric,
            "before": v.get("before", float("nan")),
            "after": v.get("after", float("nan")),
        }
        for (layer, metric), v in values.items()
    ]
    out = pd.DataFrame(rows)
    out["change"] = out["after"] - out["before"]
    return out
