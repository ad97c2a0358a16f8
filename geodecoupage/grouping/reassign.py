"""Reassignment scenarios: make split base units whole in each institutional layer.

A base unit (a municipality) is *split* in a layer when it straddles two or more of
the layer's units (two CSS, two RLS). The proposal for each split ``(base unit,
layer)`` is to move the whole base unit to the unit holding most of its population.
Proposals are ranked by incoherence removed per person moved; a chosen set is then
applied to the atlas atoms, subject to the user's constraints, and every score is
recomputed with :mod:`geodecoupage.metrics` (before/after table).

Functions: :func:`reassignment_proposals` (tables), :func:`apply_reassignments`
(tables), :func:`propose_reassignments` (atlas → ranked proposals) and
:func:`reassign` (atlas → :class:`ReassignmentScenario`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

import geopandas as gpd

from geodecoupage._io import atomic_path, write_text
from geodecoupage.errors import InvalidParameterError
from geodecoupage.grouping._pieces import (
    AtlasLike,
    Weight,
    pieces_from_atoms,
    restrict_atoms,
    score_pieces,
)
from geodecoupage.i18n import fmt_int, fmt_pct, pick

logger = logging.getLogger(__name__)

__all__ = [
    "PROPOSAL_COLUMNS",
    "ReassignmentScenario",
    "apply_reassignments",
    "pair_scores",
    "propose_reassignments",
    "reassign",
    "reassignment_proposals",
]

#: Columns of :func:`reassignment_proposals`, in order.
PROPOSAL_COLUMNS = (
    "rank",
    "base",
    "layer",
    "to_unit",
    "from_units",
    "n_units_before",
    "incoherence_removed",
    "persons_moved",
    "area_moved_m2",
    "base_population",
    "kept_share",
    "removed_per_person",
    "region",
    "to_region",
    "crosses_region",
    "official_unit",
)


def reassignment_proposals(
    pieces: pd.DataFrame,
    *,
    threshold: float = 0.01,
    weight: Weight = "population",
    base_region: pd.Series | None = None,
    unit_region: pd.Series | None = None,
    official: pd.Series | None = None,
    min_population: float = 1.0,
) -> pd.DataFrame:
    """Propose moving each split base unit wholly into its dominant unit.

    Parameters
    ----------
    pieces
        Pieces table (``base``, ``layer``, ``unit``, ``area_m2``,
        ``population``).
    threshold, weight
        Significance rule (see
        :func:`~geodecoupage.grouping._pieces.score_pieces`, column
        ``touches``): a base unit is split in a layer when it touches two or
        more of its units.
    base_region
        Administrative region of each base unit (index: base codes).
    unit_region
        Region of each layer unit, indexed by ``(layer, unit)``.
    official
        The unit each base unit officially belongs to, indexed by ``(layer,
        base)`` (e.g. the ``mrc_code`` of a municipality); it fills
        ``official_unit``. A proposal whose ``to_unit`` equals it only corrects
        the geometry (the split is an artefact of misaligned boundaries).
    min_population
        Base units with fewer inhabitants rank after all the others.

    Returns
    -------
    pandas.DataFrame
        One row per split ``(base, layer)``, columns :data:`PROPOSAL_COLUMNS`,
        sorted by rank (1 = best).

    Raises
    ------
    InvalidParameterError
        If a column is missing or a parameter is out of range.

    Notes
    -----
    For base unit :math:`b` in layer :math:`L`, with :math:`T_L(b)` the units
    it touches (``touches``) and :math:`u^*` its dominant unit (largest share
    of its population; area if it has none), the proposal moves every piece of
    :math:`b` outside :math:`u^*` into :math:`u^*`.

    .. math::

        \\text{incoherence removed} = |T_L(b)| - 1, \\qquad
        \\text{persons moved} = p_b - p_{b u^*}, \\qquad
        \\text{rank key} = \\frac{|T_L(b)| - 1}{\\max(\\text{persons moved}, 1)}

    Ties: fewer persons moved, smaller area moved, then codes. Base units with
    fewer than *min_population* inhabitants (water TNO, uninhabited
    territories; default 1) come after
    every populated one: moving them costs nobody but changes nothing for
    residents, so they would otherwise fill the top of the list. The incoherence
    of the other base units and of the other layers' memberships of :math:`b` is
    unchanged by the move, so applying any set of proposals never increases
    :math:`\\sum_{b,L} (|T_L(b)| - 1)` nor the persons living outside their
    base unit's dominant unit (tested).
    """
    scored = score_pieces(pieces, threshold=threshold, weight=weight)
    n_touch = scored.groupby(["layer", "base"])["touches"].sum()
    split = n_touch[n_touch > 1]
    if split.empty:
        return _empty_proposals()
    key = pd.MultiIndex.from_arrays([scored["layer"], scored["base"]])
    sub = scored[key.isin(split.index)]
    rows = []
    for (layer, base), grp in sub.groupby(["layer", "base"], sort=True):
        dom = grp[grp["dominant_for_base"]].iloc[0]
        others = grp[~grp["dominant_for_base"]]
        rows.append(
            {
                "base": base,
                "layer": layer,
                "to_unit": dom["unit"],
                "from_units": ";".join(sorted(others["unit"])),
                "n_units_before": int(grp["touches"].sum()),
                "incoherence_removed": int(grp["touches"].sum()) - 1,
                "persons_moved": float(others["population"].sum()),
                "area_moved_m2": float(others["area_m2"].sum()),
                "base_population": float(grp["population"].sum()),
                "kept_share": float(dom["share_of_base"]),
            }
        )
    out = pd.DataFrame(rows)
    out["removed_per_person"] = out["incoherence_removed"] / np.maximum(
        out["persons_moved"], 1.0
    )
    region = (
        base_region.astype("string").reindex(out["base"].astype(str)).to_numpy()
        if base_region is not None
        else np.full(len(out), pd.NA, dtype=object)
    )
    to_region = (
        unit_region.astype("string")
        .reindex(pd.MultiIndex.from_arrays([out["layer"], out["to_unit"]]))
        .to_numpy()
        if unit_region is not None
        else np.full(len(out), pd.NA, dtype=object)
    )
    out["region"] = pd.array(region, dtype="string")
    out["to_region"] = pd.array(to_region, dtype="string")
    known = out["region"].notna() & out["to_region"].notna()
    out["crosses_region"] = (known & (out["region"] != out["to_region"])).astype(bool)
    off = (
        official.astype("string")
        .reindex(pd.MultiIndex.from_arrays([out["layer"], out["base"].astype(str)]))
        .to_numpy()
        if official is not None
        else np.full(len(out), pd.NA, dtype=object)
    )
    out["official_unit"] = pd.array(off, dtype="string")
    out["_unpopulated"] = out["base_population"] < float(min_population)
    out = (
        out.sort_values(
            [
                "_unpopulated",
                "removed_per_person",
                "persons_moved",
                "area_moved_m2",
                "base",
                "layer",
            ],
            ascending=[True, False, True, True, True, True],
            kind="mergesort",
        )
        .drop(columns="_unpopulated")
        .reset_index(drop=True)
    )
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out[list(PROPOSAL_COLUMNS)]


def _empty_proposals() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in PROPOSAL_COLUMNS})


def _select(
    proposals: pd.DataFrame,
    unit_population: pd.Series,
    moves: pd.DataFrame,
    *,
    n: int | None,
    same_region: bool,
    max_population_change: float | None,
) -> pd.Series:
    """Greedy selection in rank order; return a status per proposal."""
    status = pd.Series("not selected", index=proposals.index, dtype=object)
    change: dict[tuple[str, str], float] = {}
    taken = 0
    for idx, row in proposals.iterrows():
        if n is not None and taken >= n:
            break
        if same_region and bool(row["crosses_region"]):
            status[idx] = "skipped: crosses region"
            continue
        mv = moves[(moves["base"] == row["base"]) & (moves["layer"] == row["layer"])]
        delta: dict[tuple[str, str], float] = {}
        for unit, pop in zip(mv["unit"], mv["population"], strict=True):
            delta[(row["layer"], unit)] = delta.get((row["layer"], unit), 0.0) - pop
            key = (row["layer"], row["to_unit"])
            delta[key] = delta.get(key, 0.0) + pop
        if max_population_change is not None:
            bad = []
            for key, d in delta.items():
                before = float(unit_population.get(key, 0.0))
                after_change = change.get(key, 0.0) + d
                if (
                    before > 0
                    and abs(after_change) / before > max_population_change + 1e-12
                ):
                    bad.append(key[1])
            if bad:
                status[idx] = (
                    f"skipped: population change above ±{max_population_change:.0%} "
                    f"({', '.join(bad)})"
                )
                continue
        for key, d in delta.items():
            change[key] = change.get(key, 0.0) + d
        status[idx] = "applied"
        taken += 1
    return status


def apply_reassignments(
    atoms: pd.DataFrame,
    proposals: pd.DataFrame,
    *,
    base: str,
) -> pd.DataFrame:
    """Relabel the atoms: every atom of a moved base unit joins the target unit.

    Parameters
    ----------
    atoms
        Atlas atoms (one code column per layer).
    proposals
        Rows with ``base``, ``layer`` and ``to_unit`` (e.g. the applied rows of
        :func:`reassignment_proposals`).
    base
        Base layer column.

    Returns
    -------
    pandas.DataFrame
        A copy of *atoms* with the layer codes changed; atoms where the layer
        was missing stay missing (the move does not extend a layer's coverage).

    Raises
    ------
    InvalidParameterError
        If a column is missing.
    """
    for col in (base, *sorted(set(proposals["layer"]))):
        if col not in atoms:
            msg = f"The atoms have no column {col!r}; cannot apply the reassignment."
            raise InvalidParameterError(msg)
    out = atoms.copy()
    codes = out[base].astype("string")
    for layer, grp in proposals.groupby("layer"):
        target = dict(
            zip(grp["base"].astype(str), grp["to_unit"].astype(str), strict=True)
        )
        new = codes.map(target)
        hit = new.notna().to_numpy() & out[layer].notna().to_numpy()
        col = out[layer].astype(object).to_numpy(copy=True)
        col[hit] = new.to_numpy()[hit]
        out[layer] = pd.array(col, dtype=atoms[layer].dtype)
    return out


class _AtomsAtlas:
    """An atlas stand-in over a (relabelled) atoms table, for the metrics package.

    Crosswalks are group-bys of the atoms, as in the atlas itself, so the
    scores before and after a reassignment come from the same code path.
    """

    def __init__(self, atoms: pd.DataFrame, layers: Sequence[str]) -> None:
        self.atoms = atoms
        self.layers = tuple(layers)
        self.params: Mapping[str, object] = {}

    def crosswalk(
        self,
        source: str,
        target: str,
        *,
        weight: str = "area",
        include_gaps: bool = False,
    ) -> pd.DataFrame:
        from geodecoupage.metrics._contingency import atom_contingency

        area = atom_contingency(self.atoms, source, target, column="area_m2")
        out = area.to_frame("area_m2")
        if weight == "population":
            pop = atom_contingency(self.atoms, source, target, column="population")
            out["population"] = pop.reindex(out.index).fillna(0.0)
        return out


def pair_scores(
    atoms: pd.DataFrame,
    pairs: Sequence[tuple[str, str]],
    *,
    threshold: float = 0.01,
    tolerance_m: float = 100.0,
    edges: object | None = None,
) -> pd.DataFrame:
    """Score each ordered pair of layers with :mod:`geodecoupage.metrics`.

    Parameters
    ----------
    atoms
        Atlas atoms (possibly relabelled by :func:`apply_reassignments`).
    pairs
        Ordered ``(source, target)`` layer keys.
    threshold
        Significance threshold of the nesting indices.
    tolerance_m
        Boundary coincidence tolerance (atoms with geometry only).
    edges
        Pre-computed atom edges (:func:`geodecoupage.metrics._edges.atom_edges`),
        reused across calls on atoms with the same geometry.

    Returns
    -------
    pandas.DataFrame
        Index ``(source, target)``; one numeric column per score of
        :func:`geodecoupage.metrics.pair_scores` (nesting indices, entropies,
        NMI, VI, coverage, boundary coincidence) when *atoms* has geometry;
        without geometry, the nesting indices and population entropies only.
    """
    from geodecoupage.metrics._contingency import atom_contingency
    from geodecoupage.metrics.agreement import information_scores, nesting_indices

    layers = sorted({k for pair in pairs for k in pair})
    rows = []
    geo = isinstance(atoms, gpd.GeoDataFrame) and atoms.geometry.name in atoms
    if geo:
        from geodecoupage.metrics import pair_scores as metric_pair_scores
        from geodecoupage.metrics._edges import atom_edges

        stand_in = _AtomsAtlas(atoms, layers)
        e = edges if edges is not None else atom_edges(atoms)
        for a, b in pairs:
            row = metric_pair_scores(
                stand_in,
                a,
                b,
                threshold=threshold,
                tolerance_m=tolerance_m,
                edges=e,  # type: ignore[arg-type]
            )
            rows.append(
                {
                    "source": a,
                    "target": b,
                    **{k: v for k, v in row.items() if k not in ("layer_a", "layer_b")},
                }
            )
    else:
        for a, b in pairs:
            area = atom_contingency(atoms, a, b, column="area_m2")
            pop = atom_contingency(atoms, a, b, column="population")
            ni = nesting_indices(area, population=pop, threshold=threshold)
            info = information_scores(pop)
            rows.append(
                {
                    "source": a,
                    "target": b,
                    **ni.to_dict(),
                    "h_b_given_a_pop": info.h_b_given_a,
                    "h_a_given_b_pop": info.h_a_given_b,
                    "nmi_pop": info.nmi,
                    "vi_pop": info.vi,
                }
            )
    out = pd.DataFrame(rows).set_index(["source", "target"])
    numeric = [c for c in out.columns if pd.api.types.is_numeric_dtype(out[c])]
    return out[numeric].astype("float64")


def _frozen(mapping: Mapping[str, object] | None) -> Mapping[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, eq=False)
class ReassignmentScenario:
    """Ranked proposals, the applied set, and every score before and after.

    Attributes
    ----------
    proposals
        Every proposal (:data:`PROPOSAL_COLUMNS`) plus ``status``
        (``"applied"``, ``"skipped: ..."``, ``"not selected"``).
    scores
        Long table: ``source``, ``target``, ``metric``, ``before``, ``after``,
        ``change`` (see :func:`pair_scores`).
    populations
        Per layer unit (index ``(layer, unit)``): ``population_before``,
        ``population_after``, ``change``, ``change_share``.
    atoms_after
        The atoms with the applied moves (same columns as the atlas atoms).
    params
        Every parameter of the scenario.
    """

    proposals: pd.DataFrame
    scores: pd.DataFrame
    populations: pd.DataFrame
    atoms_after: pd.DataFrame
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))

    @property
    def applied(self) -> pd.DataFrame:
        """The applied proposals, in rank order."""
        return self.proposals[self.proposals["status"] == "applied"]

    def to_frame(self) -> pd.DataFrame:
        """Return the proposals table (with status)."""
        return self.proposals.copy()

    def summary(self, lang: str = "fr") -> str:
        """Return a few human-readable lines (French by default)."""
        ap = self.applied
        moved = float(ap["persons_moved"].sum()) if len(ap) else 0.0
        removed = int(ap["incoherence_removed"].sum()) if len(ap) else 0
        lines = [
            pick(lang, fr="Réaffectations proposées : ", en="Reassignments proposed: ")
            + fmt_int(len(self.proposals), lang)
            + pick(lang, fr=" ; appliquées : ", en="; applied: ")
            + fmt_int(len(ap), lang),
            pick(lang, fr="Personnes déplacées : ", en="Persons moved: ")
            + fmt_int(moved, lang)
            + pick(
                lang,
                fr=" ; chevauchements supprimés : ",
                en="; straddles removed: ",
            )
            + fmt_int(removed, lang),
        ]
        sc = self.scores
        for metric in ("n_split", "pop_outside_dominant"):
            part = sc[
                (sc["metric"] == metric) & (sc["source"] == self.params.get("base"))
            ]
            if part.empty:
                continue
            before = float(part["before"].sum())
            after = float(part["after"].sum())
            label = {
                "n_split": pick(
                    lang, fr="Unités de base scindées", en="Split base units"
                ),
                "pop_outside_dominant": pick(
                    lang,
                    fr="Personnes hors de l'institution dominante",
                    en="Persons outside the dominant institution",
                ),
            }[metric]
            lines.append(f"{label} : {fmt_int(before, lang)} → {fmt_int(after, lang)}")
        if len(self.populations):
            worst = float(self.populations["change_share"].abs().max())
            lines.append(
                pick(
                    lang,
                    fr="Plus grande variation de population d'une institution : ",
                    en="Largest population change of an institution: ",
                )
                + fmt_pct(worst, 1, lang)
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def to_files(
        self, directory: str | os.PathLike[str], *, overwrite: bool = False
    ) -> list[Path]:
        """Write ``reassign_proposals.csv``, ``reassign_scores.csv``,
        ``reassign_populations.csv`` and ``reassign_summary.txt``.

        Returns
        -------
        list of pathlib.Path
            The files written.

        Raises
        ------
        OutputExistsError
            If a file exists and *overwrite* is false.
        """
        out = Path(directory)
        written = []
        for name, table in (
            ("reassign_proposals.csv", self.proposals),
            ("reassign_scores.csv", self.scores),
            ("reassign_populations.csv", self.populations.reset_index()),
        ):
            with atomic_path(out / name, overwrite=overwrite) as tmp:
                table.to_csv(tmp, index=False, lineterminator="\n")
            written.append(out / name)
        written.append(
            write_text(
                out / "reassign_summary.txt", self.summary() + "\n", overwrite=overwrite
            )
        )
        return written


def _unit_population(atoms: pd.DataFrame, layers: Sequence[str]) -> pd.Series:
    parts = []
    for key in layers:
        s = atoms.groupby(atoms[key].astype("string"))["population"].sum()
        s.index = pd.MultiIndex.from_arrays(
            [[key] * len(s), s.index.astype(str)], names=["layer", "unit"]
        )
        parts.append(s)
    return pd.concat(parts) if parts else pd.Series(dtype="float64")


def _regions(
    atoms: pd.DataFrame, base: str, layers: Sequence[str], region_layer: str | None
) -> tuple[pd.Series | None, pd.Series | None]:
    """Population-dominant region of each base unit and of each layer unit."""
    if region_layer is None or region_layer not in atoms:
        return None, None
    pieces = pieces_from_atoms(atoms, base=base, layers=[region_layer])
    scored = score_pieces(pieces, threshold=0.0, weight="population")
    dom = scored[scored["dominant_for_base"]].set_index("base")["unit"]
    unit_parts = []
    for key in layers:
        p = pieces_from_atoms(atoms, base=key, layers=[region_layer])
        s = score_pieces(p, threshold=0.0, weight="population")
        d = s[s["dominant_for_base"]]
        unit_parts.append(
            pd.Series(
                d["unit"].to_numpy(),
                index=pd.MultiIndex.from_arrays(
                    [[key] * len(d), d["base"].to_numpy()], names=["layer", "unit"]
                ),
            )
        )
    return dom, pd.concat(unit_parts)


def propose_reassignments(
    atlas: AtlasLike,
    *,
    base: str = "municipalites",
    layers: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    threshold: float = 0.01,
    weight: Weight = "population",
    region_layer: str | None = "regions",
    parents: pd.DataFrame | None = None,
    min_population: float = 1.0,
) -> pd.DataFrame:
    """Ranked reassignment proposals for an atlas (see :func:`reassignment_proposals`).

    Parameters
    ----------
    atlas
        Atlas holding *base* and *layers* (and *region_layer* for the region
        columns).
    base, layers, threshold, weight
        As in :func:`reassignment_proposals`; *layers* defaults to every other
        atlas layer except *region_layer*.
    units
        Base unit codes that may move (e.g. the municipalities of one region);
        default: all.
    parents
        The base layer's attribute table (index: codes), whose ``<layer>_code``
        columns (e.g. ``mrc_code`` of the municipal layer) give the official
        unit of each base unit (column ``official_unit``).
    min_population
        See :func:`reassignment_proposals`.
    region_layer
        Layer giving the administrative region (population-dominant region of
        each base unit and of each target unit), or None.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`PROPOSAL_COLUMNS`.

    Raises
    ------
    InvalidParameterError
        If a layer is missing from the atlas.
    """
    from geodecoupage.grouping.envelopes import _layer_keys

    keys = _layer_keys(atlas, base, layers)
    if layers is None and region_layer in keys:
        keys.remove(str(region_layer))
    atoms = atlas.atoms
    pieces = pieces_from_atoms(
        restrict_atoms(atoms, base, units), base=base, layers=keys
    )
    base_region, unit_region = _regions(atoms, base, keys, region_layer)
    return reassignment_proposals(
        pieces,
        threshold=threshold,
        weight=weight,
        base_region=base_region,
        unit_region=unit_region,
        official=_official(parents, keys),
        min_population=min_population,
    )


def _official(parents: pd.DataFrame | None, keys: Sequence[str]) -> pd.Series | None:
    """Official unit per (layer, base) from the ``<layer>_code`` columns."""
    if parents is None:
        return None
    parts = []
    for key in keys:
        col = f"{key}_code"
        if col not in parents.columns:
            continue
        codes = parents[col].dropna().astype(str)
        parts.append(
            pd.Series(
                codes.to_numpy(),
                index=pd.MultiIndex.from_arrays(
                    [[key] * len(codes), codes.index.astype(str)],
                    names=["layer", "base"],
                ),
            )
        )
    return pd.concat(parts) if parts else None


def reassign(
    atlas: AtlasLike,
    *,
    base: str = "municipalites",
    layers: Sequence[str] | None = None,
    units: Sequence[str] | None = None,
    n: int | None = 20,
    select: Sequence[int] | None = None,
    threshold: float = 0.01,
    weight: Weight = "population",
    region_layer: str | None = "regions",
    same_region: bool = True,
    max_population_change: float | None = None,
    tolerance_m: float = 100.0,
    parents: pd.DataFrame | None = None,
    min_population: float = 1.0,
) -> ReassignmentScenario:
    """Rank reassignment proposals, apply a set, and rescore everything.

    Parameters
    ----------
    atlas
        Atlas with *base*, *layers* (and *region_layer*).
    base, layers, units, threshold, weight, region_layer
        See :func:`propose_reassignments`.
    n
        Apply the *n* best admissible proposals (None: all admissible).
    select
        Ranks to consider instead of all proposals (still subject to the
        constraints and to *n*).
    same_region
        Never move a base unit into a unit whose region differs from its own
        (needs *region_layer* in the atlas).
    max_population_change
        Keep every unit's population within ``±max_population_change`` (a
        share, e.g. 0.05) of its current population; proposals that would break
        it (given those already accepted) are skipped.
    tolerance_m
        Boundary coincidence tolerance of the rescoring (metres).
    parents, min_population
        See :func:`propose_reassignments`.

    Returns
    -------
    ReassignmentScenario

    Raises
    ------
    InvalidParameterError
        For parameters out of range or layers missing from the atlas.

    Examples
    --------
    The demo territory has three municipalities split above 1 % (two in the
    RLS layer, one in the CSS layer); making them whole removes every split:

    >>> from geodecoupage.datasets.demo import demo_layers, demo_population
    >>> from geodecoupage.overlay.atlas import build_atlas
    >>> layers = demo_layers()
    >>> atlas = build_atlas(
    ...     {k: layers[k] for k in ("municipalites", "rls", "css")},
    ...     population=demo_population(),
    ... )
    >>> sc = reassign(atlas, layers=["rls", "css"], region_layer=None)
    >>> sorted(zip(sc.applied["base"], sc.applied["layer"], sc.applied["to_unit"]))
    [('99020', 'rls', '9102'), ('99029', 'css', '794000'), ('99034', 'rls', '9101')]
    >>> s = sc.scores.set_index(["source", "target", "metric"])
    >>> int(s.loc[("municipalites", "rls", "n_split"), "after"])
    0
    """
    if n is not None and n < 0:
        msg = f"n must be >= 0 or None, got {n}."
        raise InvalidParameterError(msg)
    if max_population_change is not None and not max_population_change >= 0:
        msg = (
            f"max_population_change must be a share >= 0, got {max_population_change}."
        )
        raise InvalidParameterError(msg)
    from geodecoupage.grouping.envelopes import _layer_keys

    keys = _layer_keys(atlas, base, layers)
    if layers is None and region_layer in keys:
        keys.remove(str(region_layer))
    if same_region and region_layer is not None and region_layer not in atlas.atoms:
        logger.warning(
            "same_region=True but the atlas has no %r layer: the region constraint "
            "is not checked.",
            region_layer,
        )
    atoms = atlas.atoms
    proposals = propose_reassignments(
        atlas,
        base=base,
        layers=keys,
        units=units,
        threshold=threshold,
        weight=weight,
        region_layer=region_layer,
        parents=parents,
        min_population=min_population,
    )
    pieces = pieces_from_atoms(
        restrict_atoms(atoms, base, units), base=base, layers=keys
    )
    scored = score_pieces(pieces, threshold=threshold, weight=weight)
    moves = scored.loc[
        ~scored["dominant_for_base"], ["base", "layer", "unit", "population"]
    ]
    unit_pop = _unit_population(atoms, keys)
    pool = (
        proposals if select is None else proposals[proposals["rank"].isin(list(select))]
    )
    status = _select(
        pool,
        unit_pop,
        moves,
        n=n,
        same_region=same_region,
        max_population_change=max_population_change,
    )
    proposals = proposals.copy()
    proposals["status"] = (
        status.reindex(proposals.index).fillna("not selected").to_numpy()
    )
    applied = proposals[proposals["status"] == "applied"]
    after = apply_reassignments(atoms, applied, base=base)
    pairs = [(base, k) for k in keys] + [(a, b) for a in keys for b in keys if a != b]
    edges = None
    if isinstance(atoms, gpd.GeoDataFrame) and len(atoms):
        from geodecoupage.metrics._edges import atom_edges

        edges = atom_edges(atoms)  # geometry is unchanged by a reassignment
    before_scores = pair_scores(
        atoms, pairs, threshold=threshold, tolerance_m=tolerance_m, edges=edges
    )
    after_scores = pair_scores(
        after, pairs, threshold=threshold, tolerance_m=tolerance_m, edges=edges
    )
    long_b = before_scores.stack().rename("before")
    long_a = after_scores.stack().rename("after")
    scores = pd.concat([long_b, long_a], axis=1)
    scores.index.names = ["source", "target", "metric"]
    scores["change"] = scores["after"] - scores["before"]
    scores = scores.reset_index()
    pop_after = _unit_population(after, keys)
    populations = pd.DataFrame(
        {
            "population_before": unit_pop,
            "population_after": pop_after.reindex(unit_pop.index).fillna(0.0),
        }
    )
    populations["change"] = (
        populations["population_after"] - populations["population_before"]
    )
    populations["change_share"] = np.where(
        populations["population_before"] > 0,
        populations["change"]
        / populations["population_before"].where(
            populations["population_before"] > 0, 1.0
        ),
        0.0,
    )
    params: dict[str, object] = {
        "base": base,
        "layers": list(keys),
        "units": None if units is None else len(units),
        "n": n,
        "select": list(select) if select is not None else None,
        "threshold": float(threshold),
        "weight": weight,
        "region_layer": region_layer,
        "same_region": same_region,
        "max_population_change": max_population_change,
        "tolerance_m": float(tolerance_m),
        "min_population": float(min_population),
        "atlas": dict(getattr(atlas, "params", {}) or {}),
    }
    return ReassignmentScenario(
        proposals=proposals,
        scores=scores,
        populations=populations,
        atoms_after=after,
        params=params,
    )


def moved_units(
    scenario: ReassignmentScenario, geometry: gpd.GeoSeries
) -> gpd.GeoDataFrame:
    """The applied proposals with the base unit polygons (for maps and GeoPackage)."""
    ap = scenario.applied.copy()
    geoms = geometry.copy()
    geoms.index = geoms.index.astype(str)
    return gpd.GeoDataFrame(
        ap, geometry=geoms.reindex(ap["base"].astype(str)).to_numpy(), crs=geometry.crs
    )
