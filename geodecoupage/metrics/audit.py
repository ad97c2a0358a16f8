"""Atlas-level scores and the full audit: incoherence, pairs, matrix, risk, sensitivity.

Every function here reads an :class:`~geodecoupage.overlay.atlas.Atlas` (its atoms
and crosswalks) and delegates the formulas to the pure modules
(:mod:`~geodecoupage.metrics.incoherence`, :mod:`~geodecoupage.metrics.agreement`,
:mod:`~geodecoupage.metrics.concertation`, :mod:`~geodecoupage.metrics.boundaries`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from geodecoupage._io import check_writable, write_text
from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import check_lang, fmt_float, fmt_pct, pick
from geodecoupage.metrics._atlas import (
    AtlasLike,
    MemoAtlas,
    Territory,
    check_layers,
    has_population,
    territory_mask,
    weights,
)
from geodecoupage.metrics._contingency import check_threshold, restrict_sources
from geodecoupage.metrics._edges import AtomEdges, atom_edges
from geodecoupage.metrics.agreement import information_scores, nesting_indices
from geodecoupage.metrics.boundaries import boundary_coincidence, fragment_counts
from geodecoupage.metrics.concertation import (
    Basis,
    ConcertationRisk,
    RiskWeights,
    concertation_from_tables,
)
from geodecoupage.metrics.incoherence import unit_incoherence

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MATRIX_MEASURES",
    "AuditResult",
    "agreement_matrix",
    "audit",
    "concertation_risk",
    "incoherence_scores",
    "pair_scores",
    "sensitivity",
]

#: Thresholds of the default sensitivity sweep.
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.0, 0.001, 0.01, 0.05, 0.1)
#: Pair measures written to ``matrix.csv`` (row layer A, column layer B).
MATRIX_MEASURES: tuple[str, ...] = (
    "nesting_index_area",
    "nesting_index_pop",
    "h_b_given_a_area",
    "nmi_area",
    "vi_area",
    "boundary_coincidence",
)
#: Output files of :meth:`AuditResult.write`.
OUTPUT_FILES: tuple[str, ...] = (
    "incoherence.csv",
    "pairs.csv",
    "matrix.csv",
    "risk_tables.csv",
    "risk_institutions.csv",
    "sensitivity.csv",
    "summary.json",
)

Names = Mapping[str, Mapping[str, str]]


def _unit_codes(atlas: AtlasLike, key: str, mask: np.ndarray | None) -> list[str]:
    col = atlas.atoms[key].to_numpy(dtype=object)
    keep = ~pd.isna(col)
    if mask is not None:
        keep &= mask
    return sorted({str(c) for c in col[keep]})


def _unit_area(atlas: AtlasLike, key: str) -> pd.Series:
    atoms = atlas.atoms
    col = atoms[key].to_numpy(dtype=object)
    keep = ~pd.isna(col)
    area = pd.to_numeric(atoms["area_m2"], errors="coerce").to_numpy("float64")
    return pd.Series(area[keep], index=col[keep].astype(str)).groupby(level=0).sum()


def _population(
    atlas: AtlasLike, a: str, b: str, mask: np.ndarray | None = None
) -> pd.Series | None:
    if not has_population(atlas):
        return None
    return weights(atlas, a, b, weight="population", mask=mask)


def incoherence_scores(
    atlas: AtlasLike,
    layer: str,
    reference: str,
    *,
    threshold: float = 0.01,
    min_piece_m2: float = 0.0,
    fragments: bool = True,
    within: Territory | None = None,
    edges: AtomEdges | None = None,
    names: Names | None = None,
) -> pd.DataFrame:
    """Score how each unit of *layer* sits across the units of *reference*.

    Parameters
    ----------
    atlas
        The atlas (built with both layers).
    layer, reference
        Layer keys: the units scored, and the layer they should nest in.
    threshold
        Significance threshold ``τ`` (share of the unit), in ``[0, 0.5)``.
    min_piece_m2
        Overlaps smaller than this never count.
    fragments
        Also count connected pieces (needs one pass over the atom rings).
    within
        Study territory ``{layer: codes}``: only units with atoms inside are
        reported (their scores still use their whole territory).
    edges
        Pre-computed :func:`~geodecoupage.metrics._edges.atom_edges` (reused).
    names
        ``{layer: {code: nom}}``, for the ``nom`` column.

    Returns
    -------
    pandas.DataFrame
        Index ``code`` (every unit of *layer*, sorted); ``nom``, ``coverage``
        (share of the unit's area the reference covers) and the columns of
        :func:`~geodecoupage.metrics.incoherence.unit_incoherence`, plus
        ``n_parts``, ``n_fragments``, ``n_fragments_dominant`` when *fragments*.
        Units the reference does not cover at all have ``coverage`` 0,
        ``n_touched`` 0 and missing scores.

    Raises
    ------
    InvalidParameterError
        If a layer is not in the atlas or a parameter is out of range.
    """
    check_layers(atlas, [layer, reference], what="incoherence_scores")
    check_threshold(threshold)
    mask = territory_mask(atlas, within)
    area = weights(atlas, layer, reference, weight="area")
    units = unit_incoherence(
        area,
        population=_population(atlas, layer, reference),
        threshold=threshold,
        min_piece_m2=min_piece_m2,
    )
    codes = _unit_codes(atlas, layer, mask)
    index = pd.Index(codes, name="code", dtype="str")
    out = units.reindex(index)
    out["n_touched"] = out["n_touched"].fillna(0).astype("int64")
    out["nested"] = out["nested"].astype("boolean")
    totals = _unit_area(atlas, layer).reindex(index)
    out.insert(0, "coverage", (out["area_m2"].fillna(0.0) / totals).clip(upper=1.0))
    nom = (names or {}).get(layer, {})
    out.insert(0, "nom", [nom.get(c, "") for c in index])
    if fragments:
        e = edges if edges is not None else atom_edges(atlas.atoms)
        f = fragment_counts(
            atlas.atoms,
            e,
            layer,
            reference,
            dominant=units["dominant"],
            threshold=threshold,
            min_piece_m2=min_piece_m2,
        )
        for col in f.columns:
            out[col] = f[col].reindex(index).fillna(0).astype("int64")
    return out


def pair_scores(
    atlas: AtlasLike,
    layer_a: str,
    layer_b: str,
    *,
    threshold: float = 0.01,
    min_piece_m2: float = 0.0,
    tolerance_m: float = 100.0,
    within: Territory | None = None,
    edges: AtomEdges | None = None,
) -> dict[str, Any]:
    """Score how layer A nests in layer B and how much they agree.

    Parameters
    ----------
    atlas
        The atlas.
    layer_a, layer_b
        Layer keys (ordered: "A in B").
    threshold, min_piece_m2
        As in :func:`incoherence_scores`.
    tolerance_m
        Boundary coincidence tolerance, in metres (0 = exact coincidence).
    within
        Study territory: nesting indices average over A's units inside it;
        entropies and boundaries are measured on its atoms only.
    edges
        Pre-computed atom edges (reused), or None to compute them.

    Returns
    -------
    dict
        ``layer_a``, ``layer_b``, the fields of
        :class:`~geodecoupage.metrics.agreement.NestingIndices`, entropies with
        suffix ``_area`` and ``_pop`` (see
        :class:`~geodecoupage.metrics.agreement.InformationScores`),
        ``coverage_a`` (share of A's area covered by B),
        ``boundary_coincidence`` and ``internal_boundary_km``.

    Raises
    ------
    InvalidParameterError
        If a layer is not in the atlas or a parameter is out of range.
    """
    check_layers(atlas, [layer_a, layer_b], what="pair_scores")
    mask = territory_mask(atlas, within)
    area = weights(atlas, layer_a, layer_b, weight="area")
    pop = _population(atlas, layer_a, layer_b)
    codes = _unit_codes(atlas, layer_a, mask) if mask is not None else None
    ni = nesting_indices(
        restrict_sources(area, codes),
        population=None if pop is None else restrict_sources(pop, codes),
        threshold=threshold,
        min_piece_m2=min_piece_m2,
    )
    row: dict[str, Any] = {"layer_a": layer_a, "layer_b": layer_b}
    row.update(ni.to_dict())
    local_area = area if mask is None else weights(atlas, layer_a, layer_b, mask=mask)
    for suffix, table in (
        ("area", local_area),
        ("pop", _population(atlas, layer_a, layer_b, mask)),
    ):
        info = information_scores(table) if table is not None else None
        for key in ("h_b_given_a", "h_a_given_b", "nmi", "vi", "vi_normalized"):
            row[f"{key}_{suffix}"] = (
                float("nan") if info is None else float(getattr(info, key))
            )
        row[f"v_measure_{suffix}"] = float("nan") if info is None else info.v_measure
    unit_area = _unit_area(atlas, layer_a)
    if codes is not None:
        unit_area = unit_area.reindex(codes)
    covered = float(restrict_sources(area, codes).sum())
    total = float(unit_area.sum())
    row["coverage_a"] = covered / total if total > 0 else float("nan")
    e = edges if edges is not None else atom_edges(atlas.atoms)
    bc = boundary_coincidence(
        atlas.atoms, e, layer_a, layer_b, tolerance_m=tolerance_m, atom_mask=mask
    )
    row["boundary_coincidence"] = bc.share
    row["internal_boundary_km"] = bc.internal_length_m / 1000.0
    return row


def agreement_matrix(pairs: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Pivot pair scores into a layer × layer matrix of one measure.

    Parameters
    ----------
    pairs
        :attr:`AuditResult.pairs` (columns ``layer_a``, ``layer_b`` and measures).
    measure
        A measure column, e.g. ``"nesting_index_area"`` (row layer in column
        layer) or ``"nmi_area"``.

    Returns
    -------
    pandas.DataFrame
        Rows ``layer_a``, columns ``layer_b``, in first-seen order; the diagonal
        and missing pairs are NaN.

    Raises
    ------
    InvalidParameterError
        If *measure* is not a column of *pairs*.
    """
    if measure not in pairs.columns:
        numeric = [c for c in pairs.columns if c not in ("layer_a", "layer_b")]
        msg = f"Unknown measure {measure!r}; choose one of: {', '.join(numeric)}."
        raise InvalidParameterError(msg)
    order = list(dict.fromkeys([*pairs["layer_a"], *pairs["layer_b"]]))
    wide = pairs.pivot(index="layer_a", columns="layer_b", values=measure)
    wide = wide.reindex(index=order, columns=order).astype("float64")
    wide.index.name = "layer_a"
    wide.columns.name = "layer_b"
    return wide


def concertation_risk(
    atlas: AtlasLike,
    *,
    tables: str,
    institutions: Sequence[str],
    threshold: float = 0.01,
    min_piece_m2: float = 0.0,
    basis: Basis = "auto",
    weights_: RiskWeights | None = None,
    within: Territory | None = None,
    names: Names | None = None,
) -> ConcertationRisk:
    """Score the over-concertation load of *tables* against *institutions*.

    Parameters
    ----------
    atlas
        The atlas (built with the table layer and every institution layer).
    tables
        Table layer key (e.g. ``"mrc"``).
    institutions
        Institution layer keys (e.g. ``["cisss", "rls", "css", "cs_anglo"]``).
    threshold, min_piece_m2, basis
        See :func:`~geodecoupage.metrics.concertation.concertation_from_tables`.
    weights_
        Composite-score weights (:class:`RiskWeights`).
    within
        Study territory: only its tables are reported, and the institutions that
        sit at their tables; all shares still use whole territories.
    names
        ``{layer: {code: nom}}`` for explanations.

    Returns
    -------
    ConcertationRisk
        Ranked tables and institutions with explanations.

    Raises
    ------
    InvalidParameterError
        If a layer is missing, *tables* is also an institution layer, or a
        parameter is out of range.
    """
    inst = [k for k in institutions if k != tables]
    if not inst:
        msg = (
            f"Over-concertation needs at least one institution layer other than the "
            f"table layer {tables!r}; got {list(institutions)}."
        )
        raise InvalidParameterError(msg)
    check_layers(atlas, [tables, *inst], what="concertation_risk")
    mask = territory_mask(atlas, within)
    pop_ok = has_population(atlas)
    risk = concertation_from_tables(
        {k: weights(atlas, tables, k, weight="area") for k in inst},
        population={k: weights(atlas, tables, k, weight="population") for k in inst}
        if pop_ok
        else None,
        table_layer=tables,
        table_codes=_unit_codes(atlas, tables, None),
        basis=basis,
        threshold=threshold,
        min_piece_m2=min_piece_m2,
        weights=weights_,
        names=names,
    )
    if mask is None:
        return risk
    return _restrict_risk(risk, _unit_codes(atlas, tables, mask))


def _rerank(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["rank"] = (
        out["score"].round(12).rank(method="min", ascending=False).astype("int64")
    )
    return out


def _restrict_risk(risk: ConcertationRisk, codes: list[str]) -> ConcertationRisk:
    keep = set(codes)
    links = risk.links[risk.links["table"].isin(keep)].reset_index(drop=True)
    tables = _rerank(risk.tables[risk.tables.index.isin(keep)])
    sig = links[links["significant"]]
    summoned = set(zip(sig["sector"], sig["institution"], strict=True))
    inst = risk.institutions[[(k, c) in summoned for k, c in risk.institutions.index]]
    params = dict(risk.params)
    params["within_tables"] = sorted(keep)
    return dataclasses.replace(
        risk,
        links=links,
        tables=tables,
        institutions=_rerank(inst),
        params=MappingProxyType(params),
    )


def sensitivity(
    atlas: AtlasLike,
    *,
    layers: Sequence[str],
    tables: str | None = None,
    institutions: Sequence[str] = (),
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    min_piece_m2: float = 0.0,
    basis: Basis = "auto",
    weights_: RiskWeights | None = None,
    within: Territory | None = None,
) -> pd.DataFrame:
    """Recompute the key counts across significance thresholds.

    Parameters
    ----------
    atlas
        The atlas.
    layers
        Layers whose ordered pairs are counted.
    tables, institutions
        Table and institution layers of the over-concertation counts (optional).
    thresholds
        Thresholds ``τ`` to sweep (each in ``[0, 0.5)``).
    min_piece_m2, basis, weights_, within
        As in :func:`audit`.

    Returns
    -------
    pandas.DataFrame
        Long table: ``threshold``, ``measure``, ``subject`` (``"a->b"`` for a
        pair, the table layer for concertation counts), ``value``, and ``code``
        (for ``max_table_score``: the heaviest table at that threshold).
        Pair measures: ``n_nested``, ``n_split``, ``n_pieces``,
        ``nesting_index_area``. Concertation measures: ``n_links``,
        ``n_straddling_links``, ``mean_institutions_per_table``,
        ``max_table_score``.

    Raises
    ------
    InvalidParameterError
        If a threshold or a layer is invalid.
    """
    taus = [check_threshold(t) for t in thresholds]
    if not taus:
        msg = "thresholds is empty: give at least one, e.g. (0, 0.001, 0.01, 0.05)."
        raise InvalidParameterError(msg)
    check_layers(atlas, list(layers), what="sensitivity")
    mask = territory_mask(atlas, within)
    tables_in = (
        _unit_codes(atlas, tables, mask) if tables and mask is not None else None
    )
    pairs = [(a, b) for a in layers for b in layers if a != b]
    cache = {
        (a, b): (
            restrict_sources(
                weights(atlas, a, b),
                _unit_codes(atlas, a, mask) if mask is not None else None,
            ),
        )
        for a, b in pairs
    }
    rows: list[dict[str, Any]] = []
    for tau in taus:
        for (a, b), (area,) in cache.items():
            ni = nesting_indices(area, threshold=tau, min_piece_m2=min_piece_m2)
            subject = f"{a}->{b}"
            for measure in ("n_nested", "n_split", "n_pieces", "nesting_index_area"):
                rows.append(
                    {
                        "threshold": tau,
                        "measure": measure,
                        "subject": subject,
                        "value": float(getattr(ni, measure)),
                        "code": "",
                    }
                )
        if tables and institutions:
            risk = concertation_risk(
                atlas,
                tables=tables,
                institutions=institutions,
                threshold=tau,
                min_piece_m2=min_piece_m2,
                basis=basis,
                weights_=weights_,
            )
            if tables_in is not None:
                risk = _restrict_risk(risk, tables_in)
            sig = risk.links[risk.links["significant"]]
            top = risk.tables.index[0] if len(risk.tables) else ""
            values = {
                "n_links": float(len(sig)),
                "n_straddling_links": float(sig["straddling"].sum()),
                "mean_institutions_per_table": float(
                    risk.tables["n_institutions"].mean()
                ),
                "max_table_score": float(risk.tables["score"].max()),
            }
            for measure, value in values.items():
                rows.append(
                    {
                        "threshold": tau,
                        "measure": measure,
                        "subject": tables,
                        "value": value,
                        "code": str(top) if measure == "max_table_score" else "",
                    }
                )
    return pd.DataFrame(
        rows, columns=["threshold", "measure", "subject", "value", "code"]
    )


def sensitivity_curves(sens: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Return one measure of :func:`sensitivity` as threshold × subject.

    Raises
    ------
    InvalidParameterError
        If *measure* is not in *sens*.
    """
    sub = sens[sens["measure"] == measure]
    if sub.empty:
        known = ", ".join(sorted(sens["measure"].unique()))
        msg = f"Unknown sensitivity measure {measure!r}; choose one of: {known}."
        raise InvalidParameterError(msg)
    wide = sub.pivot(index="threshold", columns="subject", values="value")
    wide.columns.name = None
    return wide.sort_index()


# --------------------------------------------------------------------------------
# The full audit
# --------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    """Plain JSON values with stable float rounding (10 significant digits)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        if not math.isfinite(f):
            return None
        return float(f"{f:.10g}")
    if value is None or value is pd.NA:
        return None
    return str(value)


def _csv(frame: pd.DataFrame, *, index: bool) -> str:
    return frame.to_csv(index=index, float_format="%.10g", lineterminator="\n")


@dataclass(frozen=True)
class AuditResult:
    """Everything :func:`audit` measured, with its parameters.

    Attributes
    ----------
    layers
        Layers compared, in the order given.
    table_layer, institution_layers
        Over-concertation layers (None / empty when not asked).
    incoherence
        Per-unit scores of every ordered pair: columns ``layer``, ``reference``,
        ``code``, then :func:`incoherence_scores` columns.
    pairs
        One row per ordered pair (:func:`pair_scores`).
    risk
        :class:`~geodecoupage.metrics.concertation.ConcertationRisk` or None.
    sensitivity
        :func:`sensitivity` table.
    params
        Every parameter, JSON-ready.
    """

    layers: tuple[str, ...]
    table_layer: str | None
    institution_layers: tuple[str, ...]
    incoherence: pd.DataFrame
    pairs: pd.DataFrame
    risk: ConcertationRisk | None
    sensitivity: pd.DataFrame
    params: Mapping[str, Any] = field(default_factory=dict)

    def matrix(self, measure: str = "nesting_index_area") -> pd.DataFrame:
        """Return the layer × layer matrix of one pair measure."""
        return agreement_matrix(self.pairs, measure)

    def matrix_long(self) -> pd.DataFrame:
        """All :data:`MATRIX_MEASURES` stacked: ``measure``, ``layer``, one column
        per layer (the content of ``matrix.csv``)."""
        frames = []
        for m in MATRIX_MEASURES:
            wide = self.matrix(m)
            wide.insert(0, "measure", m)
            frames.append(wide.rename_axis("layer").reset_index())
        out = pd.concat(frames, ignore_index=True)
        out.columns.name = None
        return out

    def frames(self, *, lang: str = "fr") -> dict[str, pd.DataFrame]:
        """Return every output table by file stem (``incoherence``, ``pairs``…)."""
        check_lang(lang)
        out = {
            "incoherence": self.incoherence,
            "pairs": self.pairs,
            "matrix": self.matrix_long(),
            "sensitivity": self.sensitivity,
        }
        if self.risk is not None:
            out["risk_tables"] = self.risk.tables_frame(lang=lang).reset_index()
            out["risk_institutions"] = self.risk.institutions_frame(
                lang=lang
            ).reset_index()
        else:
            out["risk_tables"] = pd.DataFrame(columns=["code", "score", "rank"])
            out["risk_institutions"] = pd.DataFrame(
                columns=["layer", "code", "score", "rank"]
            )
        return out

    def to_frame(self, name: str = "pairs", *, lang: str = "fr") -> pd.DataFrame:
        """Return one output table by name.

        Raises
        ------
        InvalidParameterError
            If *name* is not an output table.
        """
        frames = self.frames(lang=lang)
        if name not in frames:
            msg = f"Unknown table {name!r}; choose one of: {', '.join(frames)}."
            raise InvalidParameterError(msg)
        return frames[name]

    def heaviest_table(self) -> str | None:
        """Code of the table with the highest over-concertation score."""
        if self.risk is None or self.risk.tables.empty:
            return None
        return self.risk.heaviest_table()

    def most_summoned(self) -> tuple[str, str] | None:
        """``(layer, code)`` of the institution summoned by the most tables
        (ties: higher score, then layer and code)."""
        if self.risk is None or self.risk.institutions.empty:
            return None
        inst = self.risk.institutions.reset_index()
        inst = inst.sort_values(
            ["n_tables", "score", "layer", "code"],
            ascending=[False, False, True, True],
            kind="mergesort",
        )
        first = inst.iloc[0]
        return str(first["layer"]), str(first["code"])

    def summary_dict(self, *, lang: str = "fr") -> dict[str, Any]:
        """Headline figures and parameters as JSON-ready data (``summary.json``)."""
        lang = check_lang(lang)
        pairs = {}
        for _, row in self.pairs.iterrows():
            key = f"{row['layer_a']}->{row['layer_b']}"
            pairs[key] = {
                k: row[k]
                for k in (
                    "n_units",
                    "n_nested",
                    "n_split",
                    "nesting_index_count",
                    "nesting_index_area",
                    "nesting_index_pop",
                    "rn_area",
                    "rn_alt_area",
                    "h_b_given_a_area",
                    "nmi_area",
                    "vi_area",
                    "nmi_pop",
                    "vi_pop",
                    "pop_outside_dominant",
                    "boundary_coincidence",
                )
            }
        out: dict[str, Any] = {
            "layers": list(self.layers),
            "params": dict(self.params),
            "pairs": pairs,
        }
        if self.risk is not None and not self.risk.tables.empty:
            top = self.risk.heaviest_table()
            row = self.risk.tables.loc[top]
            out["heaviest_table"] = {
                "layer": self.risk.table_layer,
                "code": top,
                "nom": self.risk.names.get(self.risk.table_layer, {}).get(top, ""),
                "score": row["score"],
                "n_institutions": row["n_institutions"],
                "n_straddling": row["n_straddling"],
                "explanation": self.risk.explain_table(top, lang=lang),
            }
            ms = self.most_summoned()
            if ms is not None:
                irow = self.risk.institutions.loc[ms]
                out["most_summoned_institution"] = {
                    "layer": ms[0],
                    "code": ms[1],
                    "nom": self.risk.names.get(ms[0], {}).get(ms[1], ""),
                    "n_tables": irow["n_tables"],
                    "n_eff_tables": irow["n_eff_tables"],
                    "score": irow["score"],
                    "explanation": self.risk.explain_institution(*ms, lang=lang),
                }
            out["risk_params"] = dict(self.risk.params)
            out["top_tables"] = [
                {"code": c, "score": self.risk.tables.loc[c, "score"]}
                for c in self.risk.tables.index[:5]
            ]
        result: dict[str, Any] = _jsonable(out)
        return result

    def to_json(self, *, lang: str = "fr") -> str:
        """Return :meth:`summary_dict` as stable JSON (sorted keys, no timestamp)."""
        return (
            json.dumps(
                self.summary_dict(lang=lang),
                ensure_ascii=False,
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )

    def summary(self, *, lang: str = "fr") -> str:
        """Return a short plain-text summary table (French by default)."""
        lang = check_lang(lang)
        tau = float(self.params.get("threshold", float("nan")))
        head = pick(
            lang,
            fr=f"Audit geodecoupage — couches : {', '.join(self.layers)} ; seuil "
            f"{fmt_pct(tau, 1, lang)}",
            en=f"geodecoupage audit — layers: {', '.join(self.layers)}; threshold "
            f"{fmt_pct(tau, 1, lang)}",
        )
        cols: tuple[str, ...] = (
            ("paire", "emboîtées", "indice (aire)", "NMI", "VI", "frontières")
            if lang == "fr"
            else ("pair", "nested", "index (area)", "NMI", "VI", "borders")
        )
        rows: list[tuple[str, ...]] = [cols]
        for _, r in self.pairs.iterrows():
            rows.append(
                (
                    f"{r['layer_a']} → {r['layer_b']}",
                    f"{int(r['n_nested'])}/{int(r['n_units'])}",
                    _num(r["nesting_index_area"], lang),
                    _num(r["nmi_area"], lang),
                    _num(r["vi_area"], lang),
                    _num(r["boundary_coincidence"], lang),
                )
            )
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(cols))]
        lines = [head, ""]
        for row in rows:
            lines.append(
                "  ".join(
                    str(v).ljust(w) if i == 0 else str(v).rjust(w)
                    for i, (v, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
        top = self.heaviest_table()
        if top is not None and self.risk is not None:
            score = fmt_float(float(self.risk.tables.loc[top, "score"]), 2, lang)
            lines += [
                "",
                pick(
                    lang,
                    fr=f"Table la plus chargée (score {score}) :",
                    en=f"Heaviest table (score {score}):",
                ),
                "  " + self.risk.explain_table(top, lang=lang),
            ]
            ms = self.most_summoned()
            if ms is not None:
                lines += [
                    pick(
                        lang,
                        fr="Institution la plus convoquée :",
                        en="Most summoned institution:",
                    ),
                    "  " + self.risk.explain_institution(*ms, lang=lang),
                ]
        return "\n".join(lines) + "\n"

    def write(
        self,
        directory: str | os.PathLike[str],
        *,
        overwrite: bool = False,
        lang: str = "fr",
    ) -> tuple[Path, ...]:
        """Write the CSV tables and ``summary.json`` into *directory*.

        Files: :data:`OUTPUT_FILES`. Content is stable: the same inputs give
        byte-identical files (sorted rows, no timestamp).

        Raises
        ------
        OutputExistsError
            If a file exists and *overwrite* is false (nothing is written then).
        """
        root = Path(directory)
        for name in OUTPUT_FILES:
            check_writable(root / name, overwrite=overwrite)
        frames = self.frames(lang=lang)
        written = []
        for name in OUTPUT_FILES:
            stem = name.removesuffix(".csv").removesuffix(".json")
            path = root / name
            if name.endswith(".json"):
                write_text(path, self.to_json(lang=lang), overwrite=overwrite)
            else:
                write_text(path, _csv(frames[stem], index=False), overwrite=overwrite)
            written.append(path)
        logger.info("Audit written to %s (%d files).", root, len(written))
        return tuple(written)


def _num(x: Any, lang: str) -> str:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return "—"
    return "—" if not math.isfinite(f) else fmt_float(f, 2, lang)


def audit(
    atlas: AtlasLike,
    *,
    layers: Sequence[str] | None = None,
    tables: str | None = None,
    institutions: Sequence[str] | None = None,
    threshold: float = 0.01,
    min_piece_m2: float = 0.0,
    tolerance_m: float = 100.0,
    basis: Basis = "auto",
    weights_: RiskWeights | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    fragments: bool = True,
    within: Territory | None = None,
    names: Names | None = None,
) -> AuditResult:
    """Run every score on an atlas: incoherence, pairs, matrix, risk, sensitivity.

    Parameters
    ----------
    atlas
        The atlas (see :func:`geodecoupage.overlay.atlas.build_atlas`).
    layers
        Layers to compare (default: all atlas layers, minus those only in
        *within*).
    tables
        Table layer of the over-concertation risk (e.g. ``"mrc"``), or None.
    institutions
        Institution layers (default: the other *layers*).
    threshold
        Significance threshold ``τ`` (share), in ``[0, 0.5)``; default 1 %.
    min_piece_m2
        Overlaps smaller than this never count (default 0: the atlas already
        merged its slivers).
    tolerance_m
        Boundary coincidence tolerance in metres (default 100 m).
    basis
        Shares of the risk: ``"auto"`` (population when the atlas has it),
        ``"area"`` or ``"population"``.
    weights_
        Composite risk weights (default: all 1).
    thresholds
        Sensitivity sweep.
    fragments
        Count connected pieces (one pass over the atom rings).
    within
        Study territory ``{layer: codes}`` (e.g. the MRC of one region): rows
        are restricted to it, scores use whole units (see ``docs/methodologie.md``).
    names
        ``{layer: {code: nom}}``.

    Returns
    -------
    AuditResult
        Tables, parameters, summary and writers.

    Raises
    ------
    InvalidParameterError
        If fewer than two layers are given, a layer is not in the atlas, or a
        parameter is out of range.
    """
    tau = check_threshold(threshold)
    keys = tuple(layers) if layers is not None else tuple(atlas.layers)
    if len(keys) < 2:
        msg = f"An audit compares at least two layers; got {list(keys)}."
        raise InvalidParameterError(msg)
    if len(set(keys)) != len(keys):
        msg = f"Layers are listed twice: {list(keys)}."
        raise InvalidParameterError(msg)
    check_layers(atlas, keys, what="audit")
    atlas = MemoAtlas(atlas)
    inst: tuple[str, ...] = ()
    if tables is not None:
        inst = tuple(
            k
            for k in (institutions if institutions is not None else keys)
            if k != tables
        )
        check_layers(atlas, [tables, *inst], what="audit tables/institutions")
    edges = atom_edges(atlas.atoms)
    frames = []
    pair_rows = []
    for a in keys:
        for b in keys:
            if a == b:
                continue
            logger.info("Scoring %s in %s.", a, b)
            inc = incoherence_scores(
                atlas,
                a,
                b,
                threshold=tau,
                min_piece_m2=min_piece_m2,
                fragments=fragments,
                within=within,
                edges=edges,
                names=names,
            )
            inc = inc.reset_index()
            inc.insert(0, "reference", b)
            inc.insert(0, "layer", a)
            frames.append(inc)
            pair_rows.append(
                pair_scores(
                    atlas,
                    a,
                    b,
                    threshold=tau,
                    min_piece_m2=min_piece_m2,
                    tolerance_m=tolerance_m,
                    within=within,
                    edges=edges,
                )
            )
    incoherence = pd.concat(frames, ignore_index=True)
    pairs = pd.DataFrame(pair_rows)
    risk = (
        concertation_risk(
            atlas,
            tables=tables,
            institutions=inst,
            threshold=tau,
            min_piece_m2=min_piece_m2,
            basis=basis,
            weights_=weights_,
            within=within,
            names=names,
        )
        if tables is not None and inst
        else None
    )
    sens = sensitivity(
        atlas,
        layers=keys,
        tables=tables if inst else None,
        institutions=inst,
        thresholds=thresholds,
        min_piece_m2=min_piece_m2,
        basis=basis,
        weights_=weights_,
        within=within,
    )
    params: dict[str, Any] = {
        "layers": list(keys),
        "tables": tables,
        "institutions": list(inst),
        "threshold": tau,
        "min_piece_m2": float(min_piece_m2),
        "tolerance_m": float(tolerance_m),
        "basis": risk.basis if risk is not None else basis,
        "weights": (weights_ or RiskWeights()).to_dict(),
        "thresholds": [float(t) for t in thresholds],
        "fragments": fragments,
        "within": {k: sorted(map(str, v)) for k, v in within.items()}
        if within
        else None,
        "population": has_population(atlas),
        "edges": {"eps_m": edges.eps_m, "max_segment_m": edges.max_segment_m},
    }
    return AuditResult(
        layers=keys,
        table_layer=tables if inst else None,
        institution_layers=inst,
        incoherence=incoherence,
        pairs=pairs,
        risk=risk,
        sensitivity=sens,
        params=MappingProxyType(_jsonable(params)),
    )
