"""Over-concertation (surconcertation) risk: coordination tables vs institutions.

A *table* layer (MRC, a démarche's territories, Montréal neighbourhoods) is where
plans are drawn; *institution* layers (CISSS, RLS, CSS, school boards,
municipalities…) must sit at those tables. The crosswalk of the table layer with
each institution layer is read as a weighted bipartite incidence: who must meet
whom, and how much of each lies outside the other. Formulas are in
:func:`concertation_from_tables` and ``docs/methodologie.md`` (section *Scores*).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import check_lang, fmt_float, fmt_pct, pick
from geodecoupage.metrics._contingency import check_contingency, check_threshold
from geodecoupage.metrics._labels import count_phrase, label, list_phrase

__all__ = [
    "Basis",
    "ConcertationRisk",
    "RiskWeights",
    "concertation_from_tables",
]

Basis = Literal["auto", "area", "population"]
_TOL = 1e-12

#: Columns of ``ConcertationRisk.links``, in order.
LINK_COLUMNS = (
    "sector",
    "table",
    "institution",
    "area_m2",
    "population",
    "share_of_table",
    "share_of_institution",
    "significant",
    "table_inside",
    "institution_inside",
    "straddling",
    "mostly_elsewhere",
)


@dataclass(frozen=True)
class RiskWeights:
    """Weights of the composite over-concertation score.

    Parameters
    ----------
    extra_partner
        :math:`β_n`, cost of each *effective* partner beyond the first in a
        sector (:math:`N_{eff} - 1`, so a partner holding a few % of the unit
        weighs little). Default 0.5: a partner that contains the unit or lies
        inside it is a coordination cost, not a misalignment.
    straddling_partner
        :math:`β_m`, extra cost of each partner that straddles the boundary
        (neither contains nor is contained in the other unit).
    straddled_share
        :math:`β_q`, cost of the share of the unit served through straddling
        partners (in ``[0, 1]`` per sector).
    sectors
        :math:`w_L` per institution layer key; missing keys weigh 1.
    """

    extra_partner: float = 0.5
    straddling_partner: float = 1.0
    straddled_share: float = 1.0
    sectors: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = {
            "extra_partner": self.extra_partner,
            "straddling_partner": self.straddling_partner,
            "straddled_share": self.straddled_share,
            **{f"sectors[{k!r}]": v for k, v in self.sectors.items()},
        }
        bad = {k: v for k, v in values.items() if not (np.isfinite(v) and v >= 0)}
        if bad:
            msg = (
                f"Risk weights must be finite and non-negative; got {bad}. "
                f"Use 0 to switch a component or a sector off."
            )
            raise InvalidParameterError(msg)
        object.__setattr__(self, "sectors", MappingProxyType(dict(self.sectors)))

    def sector(self, key: str) -> float:
        """Return :math:`w_L` for institution layer *key* (1 by default)."""
        return float(self.sectors.get(key, 1.0))

    def to_dict(self) -> dict[str, Any]:
        """Return the weights as plain, JSON-ready data."""
        return {
            "extra_partner": self.extra_partner,
            "straddling_partner": self.straddling_partner,
            "straddled_share": self.straddled_share,
            "sectors": dict(sorted(self.sectors.items())),
        }


def _load(neff: pd.Series, m: pd.Series, q: pd.Series, w: RiskWeights) -> pd.Series:
    return (
        w.extra_partner * (neff.fillna(1.0) - 1.0).clip(lower=0.0)
        + w.straddling_partner * m
        + w.straddled_share * q
    )


def _share(values: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shares of *values* within groups *keys*, and each group's total per row."""
    totals = pd.Series(values).groupby(keys).transform("sum").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(totals > 0, values / totals, np.nan)
    return share, totals


def _is_max(share: np.ndarray, keys: np.ndarray, other: np.ndarray) -> np.ndarray:
    """True on the row holding each group's largest share (ties: smallest other)."""
    frame = pd.DataFrame({"k": keys, "s": share, "o": other, "i": np.arange(len(keys))})
    frame = frame.sort_values(
        ["k", "s", "o"], ascending=[True, False, True], kind="mergesort"
    )
    first = frame.groupby("k", sort=False).head(1)["i"].to_numpy()
    out = np.zeros(len(keys), dtype=bool)
    out[first] = True
    return out


def _links_for_sector(
    sector: str,
    area: pd.Series,
    population: pd.Series | None,
    *,
    use_pop: bool,
    tau: float,
    min_piece_m2: float,
) -> pd.DataFrame:
    a = check_contingency(area, name=f"area[{sector!r}]")
    frame = pd.DataFrame(
        {
            "sector": sector,
            "table": a.index.get_level_values(0).astype(str),
            "institution": a.index.get_level_values(1).astype(str),
            "area_m2": a.to_numpy(),
        }
    )
    if population is not None:
        p = check_contingency(population, name=f"population[{sector!r}]")
        frame["population"] = (
            p.reindex(a.index).fillna(0.0).to_numpy() if len(p) else 0.0
        )
    else:
        frame["population"] = np.nan
    t = frame["table"].to_numpy()
    i = frame["institution"].to_numpy()
    s, _ = _share(frame["area_m2"].to_numpy(), t)
    u, _ = _share(frame["area_m2"].to_numpy(), i)
    if use_pop:
        pop = frame["population"].fillna(0.0).to_numpy()
        sp, tot_t = _share(pop, t)
        up, tot_i = _share(pop, i)
        # An unpopulated unit falls back on area shares.
        s = np.where(tot_t > 0, sp, s)
        u = np.where(tot_i > 0, up, u)
    frame["share_of_table"] = s
    frame["share_of_institution"] = u
    big = frame["area_m2"].to_numpy() >= min_piece_m2
    dom = _is_max(s, t, i) | _is_max(u, i, t)
    frame["significant"] = (((s > tau + _TOL) | (u > tau + _TOL)) & big) | dom
    frame["table_inside"] = s >= 1.0 - tau - _TOL
    frame["institution_inside"] = u >= 1.0 - tau - _TOL
    frame["straddling"] = (
        frame["significant"] & ~frame["table_inside"] & ~frame["institution_inside"]
    )
    frame["mostly_elsewhere"] = frame["straddling"] & (u < 0.5)
    return frame


@dataclass(frozen=True)
class ConcertationRisk:
    """Over-concertation risk of a table layer against institution layers.

    Attributes
    ----------
    table_layer
        Key of the table layer (e.g. ``"mrc"``).
    sectors
        Institution layer keys, in the order given.
    links
        One row per (sector, table, institution) overlap: see ``LINK_COLUMNS``.
    tables
        One row per table (index ``code``), ranked: per-sector counts and shares,
        totals, ``score`` and ``rank`` (1 = heaviest load).
    institutions
        One row per institution (index ``(layer, code)``): tables it is
        summoned by, effective number, dominant table, ``score``, ``rank``.
    params
        Every parameter used (threshold, basis, weights…).
    names
        ``{layer: {code: nom}}`` used in explanations (may be empty).
    """

    table_layer: str
    sectors: tuple[str, ...]
    links: pd.DataFrame
    tables: pd.DataFrame
    institutions: pd.DataFrame
    params: Mapping[str, Any]
    names: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def basis(self) -> str:
        """Shares are of ``"area"`` or ``"population"``."""
        return str(self.params["basis"])

    def _name(self, layer: str, code: str) -> str:
        nom = self.names.get(layer, {}).get(code)
        return f"{nom} ({code})" if nom and nom != code else str(code)

    def heaviest_table(self) -> str:
        """Return the code of the table with the highest score."""
        if self.tables.empty:
            msg = "No table to rank: the table layer has no unit in the atlas."
            raise InvalidParameterError(msg)
        return str(self.tables.index[0])

    def explain_table(self, code: str, *, lang: str = "fr") -> str:
        """Explain in plain language why table *code* has its score.

        Raises
        ------
        InvalidParameterError
            If *code* is not a table of this result, or *lang* is unknown.
        """
        lang = check_lang(lang)
        if code not in self.tables.index:
            msg = (
                f"{code!r} is not a unit of table layer {self.table_layer!r}; "
                f"first codes: {', '.join(map(str, self.tables.index[:5]))}."
            )
            raise InvalidParameterError(msg)
        row = self.tables.loc[code]
        tl = label(self.table_layer)
        head = tl.named(lang, self._name(self.table_layer, code))
        head = head[:1].upper() + head[1:]
        parts = [
            count_phrase(k, int(row[f"n_{k}"]), lang)
            for k in self.sectors
            if int(row[f"n_{k}"]) > 0
        ]
        n_tot = int(row["n_institutions"])
        if not parts:
            return pick(
                lang,
                fr=f"{head} ne recoupe aucune des institutions étudiées.",
                en=f"{head} overlaps none of the institutions studied.",
            )
        s1 = pick(
            lang,
            fr=f"{head} doit se coordonner avec {list_phrase(parts, lang)} "
            f"({n_tot} institution{'s' if n_tot > 1 else ''}).",
            en=f"{head} must coordinate with {list_phrase(parts, lang)} "
            f"({n_tot} institution{'s' if n_tot > 1 else ''}).",
        )
        m = int(row["n_straddling"])
        if m == 0:
            s2 = pick(
                lang,
                fr="Chacune l'englobe ou s'y trouve entièrement : aucune ne "
                "chevauche sa limite.",
                en="Each either contains it or lies wholly inside it: none "
                "straddles its boundary.",
            )
            return f"{s1} {s2}"
        whose = pick(
            lang,
            fr="de sa population"
            if self.basis == "population"
            else "de son territoire",
            en="of its population" if self.basis == "population" else "of its area",
        )
        s2 = pick(
            lang,
            fr=f"{m} d'entre elles chevauche{'nt' if m > 1 else ''} sa limite",
            en=f"{m} of them straddle{'' if m > 1 else 's'} its boundary",
        )
        shares = {k: float(row[f"elsewhere_share_{k}"]) for k in self.sectors}
        worst = max(self.sectors, key=lambda k: (shares[k], -self.sectors.index(k)))
        if shares[worst] > 0:
            what = pick(
                lang,
                fr="la majeure partie de la population"
                if self.basis == "population"
                else "la majeure partie du territoire",
                en="most of whose population"
                if self.basis == "population"
                else "most of whose territory",
            )
            links = self.links
            k_else = int(
                (
                    (links["sector"] == worst)
                    & (links["table"] == code)
                    & links["mostly_elsewhere"]
                ).sum()
            )
            pct = fmt_pct(shares[worst], 0, lang)
            if k_else <= 1:
                inst = label(worst).indefinite(lang)
                s2 += pick(
                    lang,
                    fr=f" ; {pct} {whose} relève d'{inst} dont {what} est ailleurs.",
                    en=f"; {pct} {whose} is served by {inst} {what} lies elsewhere.",
                )
            else:
                insts = count_phrase(worst, k_else, lang)
                s2 += pick(
                    lang,
                    fr=f" ; {pct} {whose} relève de {insts} dont {what} est ailleurs.",
                    en=f"; {pct} {whose} is served by {insts} {what} lies elsewhere.",
                )
        else:
            q = float(row["straddled_share"])
            s2 += pick(
                lang,
                fr=f" ; ces institutions à cheval servent {fmt_pct(q, 0, lang)} "
                f"{whose} (moyenne par secteur).",
                en=f"; these straddling institutions serve {fmt_pct(q, 0, lang)} "
                f"{whose} (mean per sector).",
            )
        return f"{s1} {s2}"

    def explain_institution(self, layer: str, code: str, *, lang: str = "fr") -> str:
        """Explain in plain language the load of institution *code* of *layer*.

        Raises
        ------
        InvalidParameterError
            If (*layer*, *code*) is not an institution of this result.
        """
        lang = check_lang(lang)
        if (layer, code) not in self.institutions.index:
            msg = (
                f"({layer!r}, {code!r}) is not an institution of this result; "
                f"layers: {', '.join(self.sectors)}."
            )
            raise InvalidParameterError(msg)
        row = self.institutions.loc[(layer, code)]
        il, tl = label(layer), label(self.table_layer)
        head = il.named(lang, self._name(layer, code))
        head = head[:1].upper() + head[1:]
        n = int(row["n_tables"])
        neff = fmt_float(float(row["n_eff_tables"]), 1, lang)
        s1 = pick(
            lang,
            fr=f"{head} est convoqué{'e' if il.feminine else ''} par "
            f"{count_phrase(self.table_layer, n, lang)} (nombre effectif {neff}).",
            en=f"{head} is summoned by {count_phrase(self.table_layer, n, lang)} "
            f"(effective number {neff}).",
        )
        out = float(row["outside_dominant_share"])
        if out <= 0:
            return s1
        whose = pick(
            lang,
            fr="de sa population"
            if self.basis == "population"
            else "de son territoire",
            en="of its population" if self.basis == "population" else "of its area",
        )
        poss = "sa" if tl.feminine and tl.fr[:1].lower() not in "aeiouéh" else "son"
        main = "principale" if tl.feminine else "principal"
        dom = self._name(self.table_layer, str(row["dominant_table"]))
        s2 = pick(
            lang,
            fr=f"{fmt_pct(out, 0, lang)} {whose} est hors de {poss} {tl.fr} {main}, "
            f"{dom}",
            en=f"{fmt_pct(out, 0, lang)} {whose} lies outside its main {tl.en}, {dom}",
        )
        m = int(row["n_straddling"])
        if m > 0:
            s2 += pick(
                lang,
                fr=f" ; {m} de ces {tl.noun('fr', 2)} chevauche"
                f"{'nt' if m > 1 else ''} sa limite.",
                en=f"; {m} of these {tl.noun('en', m)} straddle"
                f"{'' if m > 1 else 's'} its boundary.",
            )
        else:
            s2 += "."
        return f"{s1} {s2}"

    def tables_frame(self, *, lang: str = "fr") -> pd.DataFrame:
        """Return :attr:`tables` with ``nom`` and an ``explanation`` column."""
        out = self.tables.copy()
        names = self.names.get(self.table_layer, {})
        out.insert(0, "nom", [names.get(c, "") for c in out.index])
        out["explanation"] = [self.explain_table(c, lang=lang) for c in out.index]
        return out

    def institutions_frame(self, *, lang: str = "fr") -> pd.DataFrame:
        """Return :attr:`institutions` with ``nom`` and an ``explanation`` column."""
        out = self.institutions.copy()
        out.insert(0, "nom", [self.names.get(k, {}).get(c, "") for k, c in out.index])
        out["explanation"] = [
            self.explain_institution(k, c, lang=lang) for k, c in out.index
        ]
        return out


def concertation_from_tables(
    area: Mapping[str, pd.Series],
    *,
    population: Mapping[str, pd.Series] | None = None,
    table_layer: str = "tables",
    table_codes: Sequence[str] | None = None,
    basis: Basis = "auto",
    threshold: float = 0.01,
    min_piece_m2: float = 0.0,
    weights: RiskWeights | None = None,
    names: Mapping[str, Mapping[str, str]] | None = None,
) -> ConcertationRisk:
    """Score the over-concertation load of tables and institutions.

    Parameters
    ----------
    area
        ``{institution layer key: contingency}``; each contingency is an area
        table indexed by ``(table_code, institution_code)``.
    population
        Population tables on the same pairs (same keys), or None.
    table_layer
        Key of the table layer (used in explanations).
    table_codes
        Every table code to report (tables that overlap no institution get
        zeros); default: the tables present in *area*.
    basis
        Shares of ``"area"`` or ``"population"``; ``"auto"`` uses population
        when *population* is given and holds people, else area.
    threshold
        Significance threshold ``τ`` in ``[0, 0.5)``.
    min_piece_m2
        Overlaps smaller than this area never count.
    weights
        Composite-score weights (:class:`RiskWeights`); defaults to all ones.
    names
        ``{layer: {code: nom}}`` for explanations.

    Returns
    -------
    ConcertationRisk
        Links, ranked tables and institutions, parameters.

    Raises
    ------
    InvalidParameterError
        If *area* is empty, *basis* is unknown, or a parameter is out of range.

    Notes
    -----
    For table :math:`t` and institution :math:`j` of sector (layer) :math:`L`,
    with :math:`x_{tj}` the basis weight of :math:`t \\cap j`:
    :math:`s_{tj} = x_{tj} / \\sum_{j'} x_{tj'}` (share of the table) and
    :math:`u_{tj} = x_{tj} / \\sum_{t'} x_{t'j}` (share of the institution), both
    over the territory the two layers cover. A unit with no population falls
    back on area shares.

    - *Significant* link: :math:`(s_{tj} > τ \\lor u_{tj} > τ) \\land
      a_{tj} \\ge m` (dual test: a piece is a sliver only if it is small for
      *both* sides), plus each table's and each institution's dominant link.
    - *Straddling* link: significant, and neither :math:`s_{tj} \\ge 1-τ` (table
      inside the institution) nor :math:`u_{tj} \\ge 1-τ` (institution inside the
      table).
    - *Mostly elsewhere*: straddling and :math:`u_{tj} < 1/2`.

    Per table and sector: :math:`n_{tL}` significant partners, :math:`m_{tL}`
    straddling partners, :math:`q_{tL} = \\sum_{j\\,straddling} s_{tj}`,
    :math:`f_{tL} = \\sum_{j\\,mostly\\,elsewhere} s_{tj}`,
    :math:`N_{eff,tL} = 1/\\sum_j s_{tj}^2`. The load and score are

    .. math::

        \\ell_{tL} = β_n (N_{eff,tL} - 1) + β_m m_{tL} + β_q q_{tL}, \\qquad
        R_t = \\sum_L w_L \\, \\ell_{tL}.

    Per institution :math:`j` of sector :math:`L`, the same formula on the
    transposed table: :math:`R_j = w_L [β_n (N_{eff,j} - 1) + β_m m_j + β_q
    q_j]` with :math:`N_{eff,j} = 1/\\sum_t u_{tj}^2` over the tables,
    :math:`m_j` straddling tables and :math:`q_j = \\sum_{t\\,straddling}
    u_{tj}`. Defaults :math:`β_n = 0.5`, :math:`β_m = β_q = 1`, :math:`w_L = 1`.
    With perfect nesting (every table inside one institution per sector, or
    every institution inside one table) :math:`m = q = 0` and only the
    effective extra partners count. Ranks: 1 = highest
    score; ties share the rank.
    """
    tau = check_threshold(threshold)
    if basis not in ("auto", "area", "population"):
        msg = f"basis must be 'auto', 'area' or 'population', got {basis!r}."
        raise InvalidParameterError(msg)
    if not area:
        msg = "concertation needs at least one institution layer; got none."
        raise InvalidParameterError(msg)
    w = weights if weights is not None else RiskWeights()
    sectors = tuple(area)
    has_pop = population is not None and any(
        float(check_contingency(population[k]).sum()) > 0
        for k in sectors
        if k in population
    )
    if basis == "population" and not has_pop:
        msg = (
            "basis='population' needs population tables holding people; none "
            "were given (build the atlas with population=..., or use basis='area')."
        )
        raise InvalidParameterError(msg)
    use_pop = basis == "population" or (basis == "auto" and has_pop)
    links = pd.concat(
        [
            _links_for_sector(
                k,
                area[k],
                None if population is None else population.get(k),
                use_pop=use_pop,
                tau=tau,
                min_piece_m2=float(min_piece_m2),
            )
            for k in sectors
        ],
        ignore_index=True,
    )[list(LINK_COLUMNS)]
    codes = sorted(set(links["table"]) | set(map(str, table_codes or ())), key=str)
    tables = _table_rows(links, sectors, codes, w)
    institutions = _institution_rows(links, sectors, w)
    params = {
        "table_layer": table_layer,
        "sectors": list(sectors),
        "threshold": tau,
        "min_piece_m2": float(min_piece_m2),
        "basis": "population" if use_pop else "area",
        "weights": w.to_dict(),
    }
    return ConcertationRisk(
        table_layer=table_layer,
        sectors=sectors,
        links=links,
        tables=tables,
        institutions=institutions,
        params=MappingProxyType(params),
        names=MappingProxyType(
            {k: MappingProxyType(dict(v)) for k, v in (names or {}).items()}
        ),
    )


def _rank(score: pd.Series) -> pd.Series:
    return score.round(12).rank(method="min", ascending=False).astype("int64")


def _table_rows(
    links: pd.DataFrame, sectors: tuple[str, ...], codes: list[str], w: RiskWeights
) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.Index(codes, name="code", dtype="str"))
    total_n = pd.Series(0, index=out.index, dtype="int64")
    total_m = pd.Series(0, index=out.index, dtype="int64")
    score = pd.Series(0.0, index=out.index)
    q_sum = pd.Series(0.0, index=out.index)
    for k in sectors:
        lk = links[links["sector"] == k]
        sig = lk[lk["significant"]]
        g = sig.groupby("table")
        n = g.size().reindex(out.index, fill_value=0).astype("int64")
        m = g["straddling"].sum().reindex(out.index, fill_value=0).astype("int64")
        q = (
            sig["share_of_table"]
            .where(sig["straddling"], 0.0)
            .groupby(sig["table"])
            .sum()
            .reindex(out.index, fill_value=0.0)
        )
        f = (
            sig["share_of_table"]
            .where(sig["mostly_elsewhere"], 0.0)
            .groupby(sig["table"])
            .sum()
            .reindex(out.index, fill_value=0.0)
        )
        hhi = (lk["share_of_table"] ** 2).groupby(lk["table"]).sum()
        neff = (1.0 / hhi).reindex(out.index)
        load = _load(neff, m, q, w)
        out[f"n_{k}"] = n
        out[f"n_eff_{k}"] = neff
        out[f"straddling_{k}"] = m
        out[f"straddled_share_{k}"] = q
        out[f"elsewhere_share_{k}"] = f
        out[f"load_{k}"] = load
        total_n += n
        total_m += m
        q_sum += q
        score += w.sector(k) * load
    out["n_institutions"] = total_n
    out["n_straddling"] = total_m
    out["straddled_share"] = q_sum / len(sectors)
    out["score"] = score
    out["rank"] = _rank(score)
    order = np.lexsort((np.asarray(out.index, dtype=str), -out["score"].round(12)))
    return out.iloc[order]


def _institution_rows(
    links: pd.DataFrame, sectors: tuple[str, ...], w: RiskWeights
) -> pd.DataFrame:
    frames = []
    for k in sectors:
        lk = links[links["sector"] == k]
        if lk.empty:
            continue
        sig = lk[lk["significant"]]
        idx = pd.Index(sorted(lk["institution"].unique()), name="code", dtype="str")
        g = sig.groupby("institution")
        n = g.size().reindex(idx, fill_value=0).astype("int64")
        m = g["straddling"].sum().reindex(idx, fill_value=0).astype("int64")
        q = (
            sig["share_of_institution"]
            .where(sig["straddling"], 0.0)
            .groupby(sig["institution"])
            .sum()
            .reindex(idx, fill_value=0.0)
        )
        hhi = (lk["share_of_institution"] ** 2).groupby(lk["institution"]).sum()
        srt = lk.sort_values(
            ["institution", "share_of_institution", "table"],
            ascending=[True, False, True],
            kind="mergesort",
        )
        dom = srt.groupby("institution").head(1).set_index("institution")
        frame = pd.DataFrame(
            {
                "layer": k,
                "code": idx,
                "n_tables": n.to_numpy(),
                "n_eff_tables": (1.0 / hhi).reindex(idx).to_numpy(),
                "dominant_table": dom["table"].reindex(idx).to_numpy(),
                "dominant_share": dom["share_of_institution"].reindex(idx).to_numpy(),
                "n_straddling": m.to_numpy(),
                "straddled_share": q.to_numpy(),
            }
        )
        frame["outside_dominant_share"] = (1.0 - frame["dominant_share"]).clip(
            lower=0.0
        )
        frame["score"] = w.sector(k) * _load(
            frame["n_eff_tables"], frame["n_straddling"], frame["straddled_share"], w
        )
        frames.append(frame)
    if not frames:
        empty = pd.DataFrame(
            columns=[
                "n_tables",
                "n_eff_tables",
                "dominant_table",
                "dominant_share",
                "n_straddling",
                "straddled_share",
                "outside_dominant_share",
                "score",
                "rank",
            ],
            index=pd.MultiIndex.from_arrays([[], []], names=["layer", "code"]),
        )
        return empty
    out = pd.concat(frames, ignore_index=True)
    out["rank"] = _rank(out["score"])
    out = out.sort_values(
        ["score", "layer", "code"], ascending=[False, True, True], kind="mergesort"
    )
    return out.set_index(["layer", "code"])
