"""Coherent envelopes: the finest grouping of base units in which every layer nests.

Given a base layer (municipalities, or atlas atoms) and institutional layers (MRC,
RLS, CSS, ...), an *envelope* is a group of base units such that every unit of
every layer lies inside one envelope, up to the significance threshold. The finest
such grouping (the finest common coarsening) is the set of connected components of
the overlap graph between base units and layer units. Large envelopes are chained
together by a few overlaps; :func:`chaining_cuts` finds the sets of overlaps whose
removal would split them most.

:func:`envelopes_from_pieces` works on a plain pieces table (see
:mod:`geodecoupage.grouping._pieces`); :func:`coherent_envelopes` reads an atlas.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import pandas as pd

import geopandas as gpd

from geodecoupage.errors import InvalidParameterError
from geodecoupage.grouping._graph import component_labels, min_st_cut, small_cuts
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
from geodecoupage.i18n import fmt_int

logger = logging.getLogger(__name__)

__all__ = [
    "EnvelopeTables",
    "LinkTier",
    "chaining_cuts",
    "coherent_envelopes",
    "envelope_sensitivity",
    "envelopes_from_pieces",
]

LinkTier = Literal["pieces", "memberships"]

#: Capacity added to every link in the min-cut search: one person, so that among
#: cuts moving the same population the one with fewer links wins.
_LINK_EPS = 1.0


@dataclass(frozen=True, eq=False)
class EnvelopeTables:
    """Envelopes of a pieces table, without geometry.

    Attributes
    ----------
    labels
        Envelope id per base unit (index ``code``, name ``group``).
    units
        Envelope id per layer unit: index ``(layer, unit)``, columns
        ``group`` and ``share_inside`` (share of the unit's weight inside its
        envelope).
    groups
        Metrics per envelope (index ``group``): ``n_units``, ``population``,
        ``area_m2``, ``n_<layer>`` and ``leak_<layer>`` (largest share of a
        unit of that layer lying outside the envelope, at most the threshold).
    links
        The chaining cuts of the largest envelopes (see :func:`chaining_cuts`).
    scored
        The scored pieces (see :func:`~geodecoupage.grouping._pieces.score_pieces`).
    """

    labels: pd.Series
    units: pd.DataFrame
    groups: pd.DataFrame
    links: pd.DataFrame
    scored: pd.DataFrame


def _ids(prefix: str, n: int) -> list[str]:
    width = max(3, len(str(n)))
    return [f"{prefix}{k + 1:0{width}d}" for k in range(n)]


def _graph(
    scored: pd.DataFrame, bases: Sequence[str]
) -> tuple[dict[str, int], dict[tuple[str, str], int], np.ndarray, np.ndarray]:
    """Node numbering: base units first, then (layer, unit) nodes."""
    base_id = {b: k for k, b in enumerate(bases)}
    unit_keys = sorted(set(zip(scored["layer"], scored["unit"], strict=True)))
    unit_id = {u: len(bases) + k for k, u in enumerate(unit_keys)}
    ei = scored["base"].map(base_id).to_numpy(dtype=np.int64)
    ej = np.array(
        [unit_id[u] for u in zip(scored["layer"], scored["unit"], strict=True)],
        dtype=np.int64,
    )
    return base_id, unit_id, ei, ej


def envelopes_from_pieces(
    pieces: pd.DataFrame,
    *,
    threshold: float = 0.01,
    weight: Weight = "population",
    base_population: pd.Series | None = None,
    base_area: pd.Series | None = None,
    n_cuts: int = 10,
    top_envelopes: int = 3,
    links: LinkTier = "pieces",
    seed: int = 0,
) -> EnvelopeTables:
    """Finest common coarsening of the base units in which every layer nests.

    Parameters
    ----------
    pieces
        Pieces table (columns ``base``, ``layer``, ``unit``, ``area_m2``,
        ``population``).
    threshold
        Significance threshold ``τ`` in ``[0, 0.5)``.
    weight
        ``"population"`` or ``"area"``: the weight of the shares.
    base_population, base_area
        Population and area per base unit (index: base code). Default: sums of
        the pieces of the first layer; base units listed here but absent from
        *pieces* (covered by no layer) become one-unit envelopes.
    n_cuts
        Number of chaining cuts reported per large envelope (0: none).
    top_envelopes
        Number of the most populated envelopes searched for chaining cuts.
    links
        Which overlaps a cut may remove (see :func:`chaining_cuts`).
    seed
        Seed of the cut search (only the order of equal candidates).

    Returns
    -------
    EnvelopeTables

    Raises
    ------
    InvalidParameterError
        If a parameter is out of range or a pieces column is missing.

    Notes
    -----
    Overlap graph: one node per base unit :math:`b` and per layer unit
    :math:`u`; an edge for every piece that is a *link* (see
    :func:`~geodecoupage.grouping._pieces.score_pieces`): :math:`u` is the
    dominant unit of :math:`b`, :math:`b` the dominant base unit of :math:`u`,
    or the piece holds more than :math:`τ` of :math:`u`. Envelopes are the
    connected components that hold base units. Each base unit is in exactly
    one envelope by construction; each layer unit has at most :math:`τ` of its
    weight outside its envelope *per piece left out* (``leak_<layer>`` reports
    the total). With :math:`τ = 0` and area weights the layers nest exactly.
    Envelopes are numbered ``E001, E002, ...`` by decreasing population (ties:
    area, then smallest base code). The envelopes of a layer with itself are
    the layer's units.
    """
    scored = score_pieces(pieces, threshold=threshold, weight=weight)
    if n_cuts < 0 or top_envelopes < 0:
        msg = (
            f"n_cuts and top_envelopes must be >= 0, got {n_cuts} and {top_envelopes}."
        )
        raise InvalidParameterError(msg)
    if links not in get_args(LinkTier):
        msg = f"links must be one of {', '.join(get_args(LinkTier))}, got {links!r}."
        raise InvalidParameterError(msg)
    first = (
        scored[scored["layer"] == scored["layer"].iloc[0]] if len(scored) else scored
    )
    pop = (
        base_population.astype("float64")
        if base_population is not None
        else first.groupby("base")["population"].sum()
    )
    area = (
        base_area.astype("float64")
        if base_area is not None
        else first.groupby("base")["area_m2"].sum()
    )
    pop.index = pop.index.astype(str)
    area.index = area.index.astype(str)
    bases = sorted(set(scored["base"]) | set(pop.index) | set(area.index))
    pop = pop.reindex(bases).fillna(0.0)
    area = area.reindex(bases).fillna(0.0)
    _, unit_id, ei, ej = _graph(scored, bases)
    n_nodes = len(bases) + len(unit_id)
    is_link = scored["link"].to_numpy(dtype=bool)
    comp = component_labels(n_nodes, ei, ej, keep=is_link)

    # envelope ids: by decreasing population, then area, then smallest base code
    comp_base = comp[: len(bases)]
    frame = pd.DataFrame(
        {"comp": comp_base, "pop": pop.to_numpy(), "area": area.to_numpy()},
        index=pd.Index(bases, name="code"),
    )
    agg = frame.groupby("comp").agg(
        population=("pop", "sum"), area_m2=("area", "sum"), n_units=("pop", "size")
    )
    agg["first"] = frame.reset_index().groupby("comp")["code"].min()
    agg = agg.sort_values(
        ["population", "area_m2", "first"],
        ascending=[False, False, True],
        kind="mergesort",
    )
    names = dict(zip(agg.index, _ids("E", len(agg)), strict=True))
    labels = pd.Series(
        [names[c] for c in comp_base], index=pd.Index(bases, name="code"), name="group"
    )

    # layer units: envelope and share inside
    unit_keys = list(unit_id)
    unit_group = [names.get(int(comp[unit_id[u]])) for u in unit_keys]
    units = pd.DataFrame(
        {"group": unit_group},
        index=pd.MultiIndex.from_tuples(unit_keys, names=["layer", "unit"]),
    )
    piece_group = labels.reindex(scored["base"]).to_numpy()
    group_of_unit = dict(zip(unit_keys, unit_group, strict=True))
    own = np.array(
        [group_of_unit[u] for u in zip(scored["layer"], scored["unit"], strict=True)],
        dtype=object,
    )
    inside = np.where(piece_group == own, scored["share_of_unit"].to_numpy(), 0.0)
    units["share_inside"] = (
        pd.Series(
            inside, index=pd.MultiIndex.from_arrays([scored["layer"], scored["unit"]])
        )
        .groupby(level=[0, 1])
        .sum()
        .reindex(units.index)
        .to_numpy()
    )

    groups = agg.rename(index=names)[["n_units", "population", "area_m2"]].copy()
    groups.index.name = "group"
    for key in sorted(scored["layer"].unique()):
        sub = units.loc[key]
        groups[f"n_{key}"] = (
            sub.groupby("group").size().reindex(groups.index).fillna(0).astype("int64")
        )
        groups[f"leak_{key}"] = (
            (1.0 - sub["share_inside"])
            .clip(lower=0.0)
            .groupby(sub["group"])
            .max()
            .reindex(groups.index)
            .fillna(0.0)
        )

    link_table = chaining_cuts(
        scored,
        labels,
        pop,
        n_cuts=n_cuts,
        top_envelopes=top_envelopes,
        links=links,
        seed=seed,
    )
    return EnvelopeTables(
        labels=labels, units=units, groups=groups, links=link_table, scored=scored
    )


_LINK_COLUMNS = (
    "group",
    "cut",
    "n_links",
    "split_off_population",
    "moved_population",
    "net_population",
    "parts_population",
    "base",
    "layer",
    "unit",
    "piece_population",
    "piece_area_m2",
    "share_of_base",
    "share_of_unit",
)


def chaining_cuts(
    scored: pd.DataFrame,
    labels: pd.Series,
    base_population: pd.Series,
    *,
    n_cuts: int = 10,
    top_envelopes: int = 3,
    links: LinkTier = "pieces",
    seed: int = 0,
) -> pd.DataFrame:
    """Find the sets of overlaps whose removal would split large envelopes most.

    Parameters
    ----------
    scored
        Scored pieces (:func:`~geodecoupage.grouping._pieces.score_pieces`).
    labels
        Envelope per base unit.
    base_population
        Population per base unit.
    n_cuts
        Cuts reported per envelope.
    top_envelopes
        How many of the most populated envelopes to search.
    links
        ``"pieces"``: a cut may only remove *minority pieces* (links where
        :math:`u` is neither the dominant unit of :math:`b` nor :math:`b` the
        dominant base unit of :math:`u`): removing one means moving that piece
        to the base unit's dominant institution. ``"memberships"``: a cut may
        also remove the tie of a whole base unit to its dominant institution
        (moving the whole base unit elsewhere), except the tie of each unit to
        its own dominant base unit.
    seed
        Seed of the cycle-space signatures used to list small cuts.

    Returns
    -------
    pandas.DataFrame
        One row per link of each reported cut: ``group`` (envelope), ``cut``
        (rank within the envelope, 1 = best), ``n_links``,
        ``split_off_population`` (population of the envelope outside its
        largest part once the cut is removed), ``moved_population`` (persons
        living in the removed pieces), ``net_population`` (split off minus
        moved, the ranking key), ``parts_population`` (populations of the
        parts, largest first, ``;``-separated), then the link itself:
        ``base``, ``layer``, ``unit``, ``piece_population``,
        ``piece_area_m2``, ``share_of_base``, ``share_of_unit``.

    Notes
    -----
    The links that may not be removed are contracted first, so each envelope
    becomes a small multigraph whose nodes weigh the population of their base
    units. Candidate cuts are (1) every minimal cut of at most 2 links
    (cycle-space signatures, :func:`~geodecoupage.grouping._graph.small_cuts`)
    and (2) the minimum cut separating each pair of the 8 most populated
    contracted nodes, with capacity = piece population + 1 (so that, at equal
    population, fewer links win). Each candidate is evaluated exactly by
    removing its links; candidates are ranked by ``net_population`` (then
    split-off population, then fewer links). The analysis is first-order: it
    does not recompute shares after a piece moves.
    """
    cols = {c: pd.Series(dtype=object) for c in _LINK_COLUMNS}
    empty = pd.DataFrame(cols)
    if n_cuts == 0 or top_envelopes == 0 or scored.empty:
        return empty
    link = scored[scored["link"]].reset_index(drop=True)
    if links == "pieces":
        hard = (link["dominant_for_base"] | link["dominant_for_unit"]).to_numpy()
    else:
        hard = link["dominant_for_unit"].to_numpy()
    bases = list(labels.index)
    _, unit_id, ei, ej = _graph(link, bases)
    n_nodes = len(bases) + len(unit_id)
    node_pop = np.zeros(n_nodes)
    node_pop[: len(bases)] = base_population.reindex(bases).fillna(0.0).to_numpy()
    sup = component_labels(n_nodes, ei, ej, keep=hard)
    n_sup = int(sup.max(initial=-1)) + 1
    sup_pop = np.bincount(sup, weights=node_pop, minlength=n_sup)
    sup_group = np.empty(n_sup, dtype=object)
    sup_group[sup[: len(bases)]] = labels.to_numpy()
    soft = np.flatnonzero(~hard & (sup[ei] != sup[ej]))
    order = labels.groupby(labels).size()  # ids are ordered by population already
    rows: list[dict[str, object]] = []
    for group in list(order.index.sort_values())[:top_envelopes]:
        nodes = np.flatnonzero(sup_group == group)
        if len(nodes) < 2:
            continue
        local = {int(x): k for k, x in enumerate(nodes)}
        edges = [e for e in soft if int(sup[ei[e]]) in local]
        if not edges:
            continue
        ea = np.array([local[int(sup[ei[e]])] for e in edges], dtype=np.int64)
        eb = np.array([local[int(sup[ej[e]])] for e in edges], dtype=np.int64)
        w = link["population"].to_numpy()[edges]
        npop = sup_pop[nodes]
        cands: set[tuple[int, ...]] = set(
            small_cuts(len(nodes), ea, eb, max_size=2, seed=seed)
        )
        heavy = list(np.argsort(-npop, kind="mergesort")[: min(8, len(nodes))])
        for s, t in itertools.combinations(heavy, 2):
            _, side = min_st_cut(len(nodes), ea, eb, w + _LINK_EPS, int(s), int(t))
            cut = tuple(int(k) for k in np.flatnonzero(side[ea] != side[eb]))
            if cut:
                cands.add(cut)
        scored_cuts = []
        for cut in cands:
            keep = np.ones(len(ea), dtype=bool)
            keep[list(cut)] = False
            parts = component_labels(len(nodes), ea, eb, keep=keep)
            part_pop = np.sort(np.bincount(parts, weights=npop))[::-1]
            split = float(part_pop[1:].sum())
            moved = float(w[list(cut)].sum())
            scored_cuts.append((-(split - moved), -split, len(cut), cut, part_pop))
        scored_cuts.sort(key=lambda x: (x[0], x[1], x[2], x[3]))
        for rank, (_, _, size, cut, part_pop) in enumerate(scored_cuts[:n_cuts], 1):
            split = float(part_pop[1:].sum())
            moved = float(w[list(cut)].sum())
            for k in cut:
                piece = link.iloc[edges[k]]
                rows.append(
                    {
                        "group": group,
                        "cut": rank,
                        "n_links": size,
                        "split_off_population": split,
                        "moved_population": moved,
                        "net_population": split - moved,
                        "parts_population": ";".join(str(round(p)) for p in part_pop),
                        "base": piece["base"],
                        "layer": piece["layer"],
                        "unit": piece["unit"],
                        "piece_population": float(piece["population"]),
                        "piece_area_m2": float(piece["area_m2"]),
                        "share_of_base": float(piece["share_of_base"]),
                        "share_of_unit": float(piece["share_of_unit"]),
                    }
                )
    if not rows:
        return empty
    return pd.DataFrame(rows, columns=list(_LINK_COLUMNS))


def envelope_sensitivity(
    pieces: pd.DataFrame,
    *,
    thresholds: Sequence[float] = (0.0, 0.001, 0.01, 0.05, 0.1),
    weight: Weight = "population",
) -> pd.DataFrame:
    """Number and size of envelopes as the significance threshold varies.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``threshold``: ``n_envelopes``, ``largest_population``,
        ``largest_share`` (of the total population), ``largest_n_units``.

    Raises
    ------
    InvalidParameterError
        If a threshold or *weight* is out of range.
    """
    rows = []
    for tau in thresholds:
        env = envelopes_from_pieces(
            pieces,
            threshold=check_threshold(tau),
            weight=check_weight(weight),
            n_cuts=0,
        )
        g = env.groups
        total = float(g["population"].sum())
        rows.append(
            {
                "threshold": float(tau),
                "n_envelopes": len(g),
                "largest_population": float(g["population"].iloc[0]) if len(g) else 0.0,
                "largest_share": float(g["population"].iloc[0]) / total
                if total
                else 0.0,
                "largest_n_units": int(g["n_units"].iloc[0]) if len(g) else 0,
            }
        )
    return pd.DataFrame(rows).set_index("threshold")


def dissolve_groups(
    atoms: gpd.GeoDataFrame, base: str, labels: pd.Series
) -> gpd.GeoSeries:
    """Dissolve the atoms into one geometry per group (via their base unit)."""
    codes = base_codes(atoms, base)
    grp = labels.reindex(codes.to_numpy()).to_numpy()
    ok = pd.notna(grp)
    sub = gpd.GeoDataFrame(
        {"group": grp[ok]}, geometry=atoms.geometry.to_numpy()[ok], crs=atoms.crs
    )
    merged = sub.dissolve("group")
    return merged.geometry


def coherent_envelopes(
    atlas: AtlasLike,
    *,
    base: str = "municipalites",
    layers: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    threshold: float = 0.01,
    weight: Weight = "population",
    n_cuts: int = 10,
    top_envelopes: int = 3,
    links: LinkTier = "pieces",
    geometry: bool = True,
    seed: int = 0,
) -> GroupingProposal:
    """Coherent envelopes of an atlas: groups of base units where every layer nests.

    Parameters
    ----------
    atlas
        An :class:`~geodecoupage.overlay.atlas.Atlas` holding *base* and *layers*.
    base
        Base layer key, or ``"atom"`` to group the atoms themselves.
    layers
        Layers that must nest (default: every other layer of the atlas).
    units
        Base unit codes to group (e.g. the municipalities of one region);
        default: all. Shares are then measured inside these units only.
    threshold, weight, n_cuts, top_envelopes, links, seed
        See :func:`envelopes_from_pieces` and :func:`chaining_cuts`.
    geometry
        Dissolve the atoms into one polygon per envelope (EPSG:32198).

    Returns
    -------
    GroupingProposal
        ``kind="envelopes"``; ``objective`` = number of envelopes (more is
        finer); tables ``links`` (chaining cuts), ``units`` (envelope of each
        layer unit) and ``sensitivity`` (envelopes vs threshold).

    Raises
    ------
    InvalidParameterError
        If a layer is not in the atlas or a parameter is out of range.

    Examples
    --------
    On the generated demo territory, the RLS and CSS chain all six MRC into one
    envelope; one minority piece of Lac-Vermeil (99034) in RLS 9102 holds the
    best cut:

    >>> from geodecoupage.datasets.demo import demo_layers, demo_population
    >>> from geodecoupage.overlay.atlas import build_atlas
    >>> layers = demo_layers()
    >>> atlas = build_atlas(
    ...     {k: layers[k] for k in ("municipalites", "mrc", "rls", "css")},
    ...     population=demo_population(),
    ... )
    >>> env = coherent_envelopes(atlas, layers=["mrc", "rls", "css"])
    >>> env.n_groups
    1
    >>> best = env.tables["links"].query("cut == 1")
    >>> best[["base", "layer", "unit"]].values.tolist()
    [['99034', 'rls', '9102']]
    """
    keys = _layer_keys(atlas, base, layers)
    atoms = restrict_atoms(atlas.atoms, base, units)
    pieces = pieces_from_atoms(atoms, base=base, layers=keys)
    codes = base_codes(atoms, base)
    ok = codes.notna().to_numpy(dtype=bool)
    by_base = (
        pd.DataFrame(
            {
                "code": codes[ok].astype(str).to_numpy(),
                "population": atoms["population"].fillna(0.0).to_numpy()[ok],
                "area_m2": atoms["area_m2"].to_numpy()[ok],
            }
        )
        .groupby("code")[["population", "area_m2"]]
        .sum()
    )
    env = envelopes_from_pieces(
        pieces,
        threshold=threshold,
        weight=weight,
        base_population=by_base["population"],
        base_area=by_base["area_m2"],
        n_cuts=n_cuts,
        top_envelopes=top_envelopes,
        links=links,
        seed=seed,
    )
    geoms = dissolve_groups(atoms, base, env.labels) if geometry else None
    groups = gpd.GeoDataFrame(
        env.groups,
        geometry=(
            geoms.reindex(env.groups.index).to_numpy()
            if geoms is not None
            else [None] * len(env.groups)
        ),
        crs=atoms.crs,
    )
    sens = envelope_sensitivity(pieces, weight=weight)
    largest = env.groups.iloc[0] if len(env.groups) else None
    total = float(env.groups["population"].sum())
    params: dict[str, object] = {
        "objective": "n_envelopes",
        "base": base,
        "layers": list(keys),
        "units": None if units is None else len(units),
        "threshold": float(threshold),
        "weight": weight,
        "links": links,
        "n_cuts": n_cuts,
        "top_envelopes": top_envelopes,
        "seed": seed,
        "atlas": dict(getattr(atlas, "params", {}) or {}),
    }
    if largest is not None and total > 0:
        share = float(largest["population"]) / total
        params["summary_fr"] = (
            f"La plus grande enveloppe ({env.groups.index[0]}) réunit "
            f"{fmt_int(largest['n_units'])} unités et {share:.0%} de la population."
        ).replace("%", "\u202f%")
        params["summary_en"] = (
            f"The largest envelope ({env.groups.index[0]}) holds "
            f"{fmt_int(largest['n_units'], 'en')} units and {share:.0%} of the "
            f"population."
        )
    return GroupingProposal(
        kind="envelopes",
        labels=env.labels,
        groups=groups,
        objective=float(len(env.groups)),
        params=params,
        tables={
            "links": env.links,
            "units": env.units.reset_index(),
            "sensitivity": sens.reset_index(),
        },
    )


def _layer_keys(atlas: AtlasLike, base: str, layers: Sequence[str] | None) -> list[str]:
    available = list(getattr(atlas, "layers", ()))
    if base != "atom" and base not in available:
        msg = (
            f"Base layer {base!r} is not in the atlas (layers: "
            f"{', '.join(available)}). Build the atlas with it, or use base='atom'."
        )
        raise InvalidParameterError(msg)
    keys = [k for k in available if k != base] if layers is None else list(layers)
    missing = [k for k in keys if k not in available]
    if missing:
        msg = (
            f"Layer(s) {', '.join(missing)} not in the atlas (layers: "
            f"{', '.join(available)}). Build the atlas with them."
        )
        raise InvalidParameterError(msg)
    if not keys:
        msg = "Give at least one layer other than the base layer."
        raise InvalidParameterError(msg)
    return keys
