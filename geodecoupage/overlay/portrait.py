"""Portraits: an indicator table by census or municipal code, moved to any layer.

:func:`portrait` aggregates a table keyed by census subdivision (CSD, ``24xxxxx``),
municipal code (``xxxxx``) or census tract (CTUID ``xxxxxxx.xx``) to any layer of
the catalogue or any user territory, through the population-weighted crosswalk of
an :class:`~geodecoupage.overlay.atlas.Atlas`:

* **extensive** variables (counts: persons, dwellings, jobs) are split between the
  target units in proportion to the source unit's population in each, and summed;
* **intensive** variables (rates, shares, means) are averaged, weighted by the
  population each source unit contributes to the target.

The allocation error is stated, not hidden: a source unit that lies in several
target units is *apportioned* by the atlas population (the census population
surface, uniform density inside each of its polygons), so its values are an
estimate in each part. :attr:`Portrait.values` gives, per target unit, the share
of its population that comes from such split units (``allocated_share``), and
:meth:`Portrait.summary` the share of the whole population concerned.

Method and limits: ``docs/methodologie.md`` (section *portraits*).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

import geopandas as gpd

from geodecoupage._io import write_text
from geodecoupage.crs import to_work_crs
from geodecoupage.errors import InvalidParameterError, LayerUnavailableError
from geodecoupage.i18n import check_lang, fmt_int, fmt_pct, pick

logger = logging.getLogger(__name__)

__all__ = [
    "PORTRAIT_COLUMNS",
    "SOURCE_KINDS",
    "Portrait",
    "detect_code_kind",
    "normalise_codes",
    "portrait",
]

SourceKind = Literal["auto", "csd", "municipal", "ct"]
#: Code kinds :func:`portrait` understands (``"auto"`` detects them).
SOURCE_KINDS: tuple[str, ...] = ("auto", "csd", "municipal", "ct")
#: Columns :func:`portrait` adds to the indicator's columns in
#: :attr:`Portrait.values`.
PORTRAIT_COLUMNS: tuple[str, ...] = (
    "atlas_population",
    "allocated_share",
    "moved_share",
    "n_sources",
    "n_split_sources",
)
#: Atlas layer key of each source kind.
_SOURCE_KEY = {"csd": "municipalites", "municipal": "municipalites", "ct": "ct"}
_CT_POLYGONS = "statcan/ct_qc_2016.shp"
_CSD = re.compile(r"^24\d{5}$")
_MUN = re.compile(r"^\d{5}$")
_DA = re.compile(r"^24\d{6}$")
_CT = re.compile(r"^\d{7}\.\d{2}$")


class _AtlasLike(Protocol):
    @property
    def atoms(self) -> Any: ...

    @property
    def layers(self) -> tuple[str, ...]: ...


# ---------------------------------------------------------------------------
# Codes
# ---------------------------------------------------------------------------


def _text(code: object) -> str:
    if isinstance(code, float) and code.is_integer():
        return str(int(code))
    return str(code).strip()


def detect_code_kind(codes: pd.Series | Sequence[object]) -> str:
    """Return the kind of *codes*: ``"csd"``, ``"municipal"`` or ``"ct"``.

    CSD codes are ``24`` + the 5-digit municipal code (``"2466023"``); municipal
    codes have 5 digits (``"66023"``, or an integer whose leading zero was lost,
    ``1023``); census tracts are ``"4620014.02"``.

    Raises
    ------
    InvalidParameterError
        For dissemination-area codes (no DA polygons in the data), unknown
        codes, or a mix of kinds.
    """
    texts = [_text(c) for c in codes if not pd.isna(c)]
    if not texts:
        msg = "The code column is empty; give one code per row."
        raise InvalidParameterError(msg)
    kinds: dict[str, int] = {}
    odd: list[str] = []
    for t in texts:
        if _CSD.match(t):
            kind = "csd"
        elif _DA.match(t):
            kind = "da"
        elif _CT.match(t) or re.fullmatch(r"\d{9}", t):
            kind = "ct"
        elif t.isdigit() and len(t) <= 5:
            kind = "municipal"
        else:
            odd.append(t)
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
    if "da" in kinds:
        msg = (
            "The codes look like dissemination areas (DA, 24xxxxxx); the data "
            "directory has no DA polygons. Aggregate the table to census "
            "subdivisions (CSD) or tracts (CT) first, or pass your own source "
            "polygons."
        )
        raise InvalidParameterError(msg)
    if odd or len(kinds) != 1:
        shown = ", ".join(repr(t) for t in odd[:5])
        msg = (
            "Cannot tell the kind of codes: "
            + (f"unrecognised codes {shown}; " if odd else "")
            + (f"mixed kinds {sorted(kinds)}; " if len(kinds) > 1 else "")
            + "expected CSD codes ('2466023'), 5-digit municipal codes ('66023') "
            "or census tracts ('4620014.02'). Pass source= to say which."
        )
        raise InvalidParameterError(msg)
    return next(iter(kinds))


def normalise_codes(codes: pd.Series, kind: str) -> pd.Series:
    """Return *codes* as the atlas source codes of *kind* (same index).

    ``"csd"`` and ``"municipal"`` become 5-digit municipal codes (``"2466023"``
    and ``66023`` -> ``"66023"``); ``"ct"`` becomes ``"4620014.02"``.

    Raises
    ------
    InvalidParameterError
        If a code does not fit *kind*.
    """
    from geodecoupage.errors import DataIntegrityError
    from geodecoupage.overlay.population import normalise_ctuid

    out = []
    bad = []
    for c in codes:
        t = _text(c)
        if kind == "csd" and _CSD.match(t):
            out.append(t[2:])
        elif kind in ("csd", "municipal") and t.isdigit() and len(t) <= 5:
            out.append(t.zfill(5))
        elif kind == "ct":
            try:
                out.append(normalise_ctuid(t))
            except DataIntegrityError:
                bad.append(t)
                out.append("")
        else:
            bad.append(t)
            out.append("")
    if bad:
        msg = (
            f"{len(bad)} code(s) are not {kind} codes: "
            f"{', '.join(map(repr, bad[:5]))}. Check code_col and source=."
        )
        raise InvalidParameterError(msg)
    return pd.Series(out, index=codes.index, dtype=object)


# ---------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Portrait:
    """An indicator aggregated to a target layer, with its allocation error.

    Attributes
    ----------
    values
        One row per target unit (index ``code``): ``nom``, the extensive and
        intensive columns, then ``atlas_population`` (atlas population of the
        target that comes from the indicator's source units), ``allocated_share``
        (share of that population coming from source units split between several
        target units, hence apportioned), ``moved_share`` (share of that
        population that the apportioning added to or removed from the target, see
        Notes of :func:`portrait`), ``n_sources`` and ``n_split_sources``.
    target, source
        Atlas keys of the target layer and of the source units
        (``"municipalites"`` or ``"ct"``).
    code_kind
        Kind of the input codes (``"csd"``, ``"municipal"``, ``"ct"``).
    extensive, intensive
        The indicator columns, by kind.
    totals
        One row per extensive column: ``input`` (sum of the table), ``allocated``
        (sum over the target units), ``outside`` (part of source units the target
        layer does not cover), ``unmatched`` (rows whose code has no polygon) and
        ``missing_rows`` (empty cells). ``input = allocated + outside + unmatched``.
    sources
        One row per source unit of the table found in the atlas: ``population``,
        ``n_targets``, ``dominant_share``, ``split`` (bool).
    unmatched
        Codes of the table without a source polygon (index ``code``) and the reason.
    params
        Parameters, JSON-ready.
    notes
        Choices and anomalies (codes remapped, weights used).
    """

    values: pd.DataFrame
    target: str
    source: str
    code_kind: str
    extensive: tuple[str, ...]
    intensive: tuple[str, ...]
    totals: pd.DataFrame
    sources: pd.DataFrame
    unmatched: pd.DataFrame
    params: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def split_population_share(self) -> float:
        """Share of the source units' population that lies in split units."""
        pop = self.sources["population"].to_numpy(dtype="float64")
        total = float(np.nansum(pop))
        if total <= 0:
            return math.nan
        split = self.sources["split"].to_numpy(dtype=bool)
        return float(np.nansum(pop[split]) / total)

    @property
    def outside_dominant_share(self) -> float:
        """Share of the population outside its source unit's dominant target.

        The part of the population whose target depends on the apportioning:
        :math:`\\sum_s (p_s - \\max_t p_{st}) / \\sum_s p_s`.
        """
        pop = self.sources["population"].to_numpy(dtype="float64")
        dom = self.sources["dominant_share"].to_numpy(dtype="float64")
        total = float(np.nansum(pop))
        if total <= 0:
            return math.nan
        return float(np.nansum(pop * (1.0 - dom)) / total)

    def to_frame(self) -> pd.DataFrame:
        """Return :attr:`values` (a copy)."""
        return self.values.copy()

    def summary_dict(self) -> dict[str, Any]:
        """Headline figures as JSON-ready data."""
        worst = self.values["allocated_share"].dropna()
        top = worst.sort_values(ascending=False, kind="mergesort").head(5)
        return _jsonable(
            {
                "target": self.target,
                "source": self.source,
                "code_kind": self.code_kind,
                "extensive": list(self.extensive),
                "intensive": list(self.intensive),
                "n_targets": len(self.values),
                "n_sources": len(self.sources),
                "n_split_sources": int(self.sources["split"].sum()),
                "split_population_share": self.split_population_share,
                "outside_dominant_share": self.outside_dominant_share,
                "most_allocated": {str(k): float(v) for k, v in top.items()},
                "totals": self.totals.to_dict(orient="index"),
                "unmatched": {
                    str(k): str(v) for k, v in self.unmatched["reason"].items()
                },
                "params": dict(self.params),
                "notes": list(self.notes),
            }
        )

    def to_json(self) -> str:
        """Return the summary and the per-unit values as stable JSON."""
        values = self.values.reset_index()
        records = json.loads(
            values.to_json(orient="records", force_ascii=False, double_precision=10)
        )
        data = self.summary_dict() | {"values": records}
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n"

    def to_csv(self) -> str:
        """Return :attr:`values` as CSV text (stable float format)."""
        return self.values.to_csv(float_format="%.10g", lineterminator="\n")

    def write(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the values (``.csv``) or everything (``.json``) atomically.

        Raises
        ------
        InvalidParameterError
            If the suffix is neither ``.csv`` nor ``.json``.
        OutputExistsError
            If *path* exists and *overwrite* is false.
        """
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix == ".csv":
            return write_text(p, self.to_csv(), overwrite=overwrite)
        if suffix == ".json":
            return write_text(p, self.to_json(), overwrite=overwrite)
        msg = f"Write a portrait to a .csv or .json file, not {p.name!r}."
        raise InvalidParameterError(msg)

    def summary(self, lang: str = "fr") -> str:
        """Return a few lines: what was aggregated, and the allocation error."""
        lang = check_lang(lang)
        cols = ", ".join([*self.extensive, *self.intensive])
        share = self.split_population_share
        moved = self.outside_dominant_share
        n_split = int(self.sources["split"].sum())
        lines = [
            pick(
                lang,
                fr=f"Portrait de {cols} : {fmt_int(len(self.sources), lang)} unités "
                f"sources ({self.code_kind}) vers {fmt_int(len(self.values), lang)} "
                f"unités de « {self.target} ».",
                en=f"Portrait of {cols}: {fmt_int(len(self.sources), lang)} source "
                f"units ({self.code_kind}) to {fmt_int(len(self.values), lang)} "
                f"units of '{self.target}'.",
            ),
            pick(
                lang,
                fr=f"Erreur d'allocation : {fmt_int(n_split, lang)} unités sources "
                f"sont réparties entre plusieurs unités cibles "
                f"({_pct(share, lang)} de la population), réparties selon la "
                f"population de l'atlas ; les autres sont comptées entières. "
                f"La répartition place {_pct(moved, lang)} de la population hors "
                f"de l'unité cible dominante de son unité source.",
                en=f"Allocation error: {fmt_int(n_split, lang)} source units lie "
                f"in several target units ({_pct(share, lang)} of the population) "
                f"and are apportioned by the atlas population; the others are "
                f"counted whole. Apportioning puts {_pct(moved, lang)} of the "
                f"population outside its source unit's dominant target.",
            ),
        ]
        worst = self.values["allocated_share"].dropna()
        if not worst.empty and worst.max() > 0:
            code = str(worst.idxmax())
            nom = str(self.values.loc[code, "nom"]) if "nom" in self.values else ""
            unit = f"{nom} ({code})" if nom else code
            lines.append(
                pick(
                    lang,
                    fr=f"Unité cible la plus estimée : {unit}, "
                    f"{_pct(float(worst.max()), lang)} de sa population répartie.",
                    en=f"Most estimated target unit: {unit}, "
                    f"{_pct(float(worst.max()), lang)} of its population "
                    f"apportioned.",
                )
            )
        if len(self.unmatched):
            lines.append(
                pick(
                    lang,
                    fr=f"{fmt_int(len(self.unmatched), lang)} code(s) sans polygone, "
                    f"non alloués : {', '.join(self.unmatched.index[:5])}.",
                    en=f"{fmt_int(len(self.unmatched), lang)} code(s) without a "
                    f"polygon, not allocated: {', '.join(self.unmatched.index[:5])}.",
                )
            )
        for col, row in self.totals.iterrows():
            lines.append(
                pick(
                    lang,
                    fr=f"  {col} : {fmt_int(row['input'], lang)} en entrée = "
                    f"{fmt_int(row['allocated'], lang)} alloués + "
                    f"{fmt_int(row['outside'], lang)} hors couche + "
                    f"{fmt_int(row['unmatched'], lang)} sans polygone",
                    en=f"  {col}: {fmt_int(row['input'], lang)} in = "
                    f"{fmt_int(row['allocated'], lang)} allocated + "
                    f"{fmt_int(row['outside'], lang)} outside the layer + "
                    f"{fmt_int(row['unmatched'], lang)} without a polygon",
                )
            )
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from geodecoupage.maps.html import html_table

        head = self.summary().replace("\n", "<br>")
        return f"<div>{head}</div>" + html_table(self.values, max_rows=20)


def _pct(x: float, lang: str) -> str:
    return "—" if not math.isfinite(x) else fmt_pct(x, 1, lang)


def _jsonable(value: Any) -> Any:
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
        return float(f"{f:.10g}") if math.isfinite(f) else None
    if value is None or value is pd.NA:
        return None
    return str(value)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def _columns(
    indicator: pd.DataFrame,
    code_col: str,
    extensive: Sequence[str] | None,
    intensive: Sequence[str] | None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    problems = []
    if code_col not in indicator.columns:
        problems.append(
            f"code column {code_col!r} not in the table (columns: "
            f"{', '.join(map(str, indicator.columns))})"
        )
    if extensive is None and intensive is None:
        ext = tuple(
            str(c)
            for c in indicator.columns
            if c != code_col and pd.api.types.is_numeric_dtype(indicator[c])
        )
        inte: tuple[str, ...] = ()
    else:
        ext = tuple(extensive or ())
        inte = tuple(intensive or ())
    if not ext and not inte:
        problems.append("no numeric column to aggregate; name them with extensive=")
    both = sorted(set(ext) & set(inte))
    if both:
        problems.append(f"{both} listed as both extensive and intensive")
    for col in (*ext, *inte):
        if col not in indicator.columns:
            problems.append(f"column {col!r} not in the table")
        elif not pd.api.types.is_numeric_dtype(indicator[col]):
            problems.append(f"column {col!r} is not numeric")
        elif col == code_col:
            problems.append(f"{col!r} is the code column")
    clash = [c for c in (*ext, *inte) if c in (*PORTRAIT_COLUMNS, "nom")]
    if clash:
        problems.append(f"column name(s) {clash} are reserved; rename them")
    if problems:
        msg = "portrait: " + "; ".join(problems) + "."
        raise InvalidParameterError(msg)
    return ext, inte


def _target(
    to: str | gpd.GeoDataFrame, data_dir: str | os.PathLike[str] | None
) -> tuple[str, gpd.GeoDataFrame | None]:
    if isinstance(to, str):
        return to, None
    if not isinstance(to, gpd.GeoDataFrame):
        msg = (
            f"to= must be a layer key (e.g. 'rls') or a GeoDataFrame of units "
            f"indexed by code (see read_territory), not {type(to).__name__}."
        )
        raise InvalidParameterError(msg)
    key = str(to.attrs.get("layer") or "territoire")
    return key, to_work_crs(to, name=key)


def _read_source(kind: str, data_dir: str | os.PathLike[str] | None) -> Any:
    from geodecoupage.layers import read_layer, read_territory, resolve_data_dir

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if _SOURCE_KEY[kind] == "municipalites":
            layer = read_layer("municipalites", data_dir=data_dir)
        else:
            path = resolve_data_dir(data_dir) / _CT_POLYGONS
            if not path.is_file():
                msg = (
                    f"{_CT_POLYGONS} not found in the data directory: census-tract "
                    f"codes need the tract polygons (see PROVENANCE.md)."
                )
                raise LayerUnavailableError(msg)
            layer = read_territory(
                path, code_col="CTUID", name_col="CTNAME", key="ct", tiles=False
            )
    for w in caught:
        logger.info("source polygons: %s", w.message)
    return layer


# ---------------------------------------------------------------------------
# The portrait
# ---------------------------------------------------------------------------


def portrait(
    indicator: pd.DataFrame,
    *,
    code_col: str,
    to: str | gpd.GeoDataFrame,
    atlas: Any = None,
    extensive: Sequence[str] | None = None,
    intensive: Sequence[str] | None = None,
    source: SourceKind = "auto",
    population: Any = None,
    tolerance: float = 0.01,
    renormalise: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
) -> Portrait:
    """Aggregate an indicator table keyed by census or municipal code to a layer.

    Parameters
    ----------
    indicator
        One row per source unit: a code column and numeric columns.
    code_col
        The code column: CSD (``"2466023"``), municipal (``"66023"`` or
        ``66023``) or census tract (``"4620014.02"``) codes.
    to
        Target: a layer key (``"rls"``, ``"mtl_quartiers"``…) or a GeoDataFrame
        of units indexed by code (e.g. from
        :func:`~geodecoupage.layers.read_territory`).
    atlas
        An atlas holding the source layer (``"municipalites"`` for CSD and
        municipal codes, ``"ct"`` for tracts) and the target layer (key *to*),
        with population. None builds one from the data directory (source
        polygons, target, census population surface).
    extensive
        Count columns (split in proportion to population, then summed). Default,
        when *intensive* is None too: every numeric column but *code_col*.
    intensive
        Rate or mean columns (population-weighted mean).
    source
        Kind of codes (``"auto"`` detects it).
    population
        Population surface for the atlas built here (default: the census
        surface of the data directory,
        :func:`~geodecoupage.overlay.population.population_surface`).
    tolerance
        A source unit counts as *split* when less than ``1 - tolerance`` of its
        population lies in one target unit (default 1 %, the significance
        threshold of the audit; only the error statement uses it, values always
        use the exact shares).
    renormalise
        Give the part of a source unit that the target layer does not cover
        (water, generalisation gaps along coasts) to its covered parts, in
        proportion (default). With False, that part is reported as ``outside``.
    data_dir
        Data directory (layers, tract polygons, population).

    Returns
    -------
    Portrait
        Values per target unit, totals, the allocation error and the codes that
        could not be placed.

    Raises
    ------
    InvalidParameterError
        If a column is missing or not numeric, the codes are of no known kind
        (or are dissemination areas, which have no polygons), a layer is not in
        *atlas*, or *tolerance* is outside ``[0, 0.5)``.
    LayerUnavailableError
        If a needed file is missing from the data directory.

    Notes
    -----
    With :math:`p_{st}` the atlas population of source unit :math:`s` inside
    target unit :math:`t`, :math:`p_s = \\sum_t p_{st}` (over the target units;
    with ``renormalise=False`` the part outside the target layer is included and
    reported as ``outside``) and :math:`w_{st} = p_{st} / p_s`:

    .. math::

        X_t = \\sum_s w_{st} X_s \\qquad
        R_t = \\frac{\\sum_s p_{st} R_s}{\\sum_s p_{st}}

    for an extensive variable :math:`X` and an intensive one :math:`R` (sources
    with a missing :math:`R_s` left out of both sums). A source unit without
    atlas population is split by area instead (noted). Totals are conserved:
    :math:`\\sum_t X_t + X_{outside} + X_{unmatched} = \\sum_s X_s`.

    The allocation error of target :math:`t` is stated as
    ``allocated_share`` :math:`= \\sum_{s \\in S} p_{st} / \\sum_s p_{st}`, with
    :math:`S` the source units whose largest share is below
    :math:`1 - \\text{tolerance}`: these values are estimated by assuming the
    indicator is spread like the population inside the source unit (census
    population surface, uniform density inside each of its polygons); the
    others are exact. A source unit whose second share is a sliver below the
    tolerance (coarse municipal polygons against finer boundaries) counts as
    whole for this statement. The magnitude is ``moved_share``
    :math:`= \\sum_s \\min(p_{st}, p_s - p_{st}) / \\sum_s p_{st}`: the population
    the apportioning removed from the target (for a source unit whose dominant
    target it is) or added to it (otherwise); no tolerance is involved. Over all
    targets, :attr:`Portrait.outside_dominant_share` gives the population
    outside its source unit's dominant target.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.read_csv(
    ...     "population/census2016_pop_by_csd_qc.csv", dtype={"geo_uid": str}
    ... )  # doctest: +SKIP
    >>> p = portrait(table, code_col="geo_uid", to="rls")  # doctest: +SKIP
    >>> p.values[["pop_0_14", "allocated_share"]].head()  # doctest: +SKIP
    """
    if not (0.0 <= tolerance < 0.5):
        msg = f"tolerance must be in [0, 0.5), got {tolerance}."
        raise InvalidParameterError(msg)
    ext, inte = _columns(indicator, code_col, extensive, intensive)
    if source not in SOURCE_KINDS:
        msg = f"source must be one of {', '.join(SOURCE_KINDS)}, got {source!r}."
        raise InvalidParameterError(msg)
    kind = detect_code_kind(indicator[code_col]) if source == "auto" else source
    table = indicator[[code_col, *ext, *inte]].copy()
    table = table[table[code_col].notna()]
    table["_code"] = normalise_codes(table[code_col], kind)
    notes: list[str] = []
    target_key, target_gdf = _target(to, data_dir)
    source_key = _SOURCE_KEY[kind]
    if target_key == source_key:
        msg = (
            f"The table is already by {source_key}: nothing to aggregate. Choose "
            f"another target layer."
        )
        raise InvalidParameterError(msg)

    if atlas is None:
        # Only the source units of the table enter the atlas.
        source_layer = _read_source(kind, data_dir)
        table, remap_notes = _apply_successors(
            table, kind, set(map(str, source_layer.index))
        )
        notes.extend(remap_notes)
        keep = source_layer.index.astype(str).isin(set(table["_code"]))
        atlas, target_gdf, build_notes = _build_atlas(
            source_layer[keep],
            _SOURCE_KEY[kind],
            target_key,
            target_gdf,
            population=population,
            data_dir=data_dir,
        )
        notes.extend(build_notes)
    else:
        missing = [k for k in (source_key, target_key) if k not in atlas.layers]
        if missing:
            msg = (
                f"The atlas has no layer {', '.join(map(repr, missing))} (it holds "
                f"{', '.join(atlas.layers)}); build it with the source layer "
                f"{source_key!r} and the target {target_key!r}, or pass atlas=None."
            )
            raise InvalidParameterError(msg)

    atoms = atlas.atoms
    src = atoms[source_key].to_numpy(dtype=object)
    tgt = atoms[target_key].to_numpy(dtype=object)
    area = pd.to_numeric(atoms["area_m2"], errors="coerce").to_numpy("float64")
    pop = (
        pd.to_numeric(atoms["population"], errors="coerce").to_numpy("float64")
        if "population" in atoms.columns
        else np.full(len(atoms), np.nan)
    )
    has_src = ~pd.isna(src)
    pieces = pd.DataFrame(
        {
            "s": src[has_src].astype(str),
            "t": np.where(pd.isna(tgt[has_src]), "", tgt[has_src]).astype(str),
            "area": area[has_src],
            "pop": np.nan_to_num(pop[has_src], nan=0.0),
        }
    )
    pieces = pieces.groupby(["s", "t"], sort=True, as_index=False).sum()

    # Codes of the table that the atlas does not know: successors, then unmatched.
    known = set(pieces["s"])
    table, remap_notes = _apply_successors(table, kind, known)
    notes.extend(remap_notes)
    in_atlas = table["_code"].isin(known)
    unmatched = pd.DataFrame(
        {"reason": f"no {source_key} polygon with this code in the atlas"},
        index=pd.Index(table.loc[~in_atlas, "_code"].astype(str), name="code"),
    )
    unmatched = unmatched[~unmatched.index.duplicated()].sort_index()
    data = table[in_atlas]
    dup = data["_code"].duplicated(keep=False)
    if dup.any():
        notes.append(
            f"{int(dup.sum())} rows share a source code (after remapping); their "
            f"extensive values are summed and intensive values averaged."
        )
    agg: dict[str, str] = dict.fromkeys(ext, "sum") | dict.fromkeys(inte, "mean")
    values_by_src = data.groupby("_code", sort=True).agg(
        {c: agg[c] for c in (*ext, *inte)}
    )
    if ext:
        # A sum over only missing cells stays missing.
        counts = data.groupby("_code", sort=True)[list(ext)].count()
        values_by_src[list(ext)] = values_by_src[list(ext)].where(counts > 0)

    pieces = pieces[pieces["s"].isin(values_by_src.index)]
    covered = pieces["t"] != ""
    if renormalise:
        # Parts outside the target layer (water, generalisation gaps) are given to
        # the covered parts of the same source unit; a unit with no covered part
        # stays outside.
        has_cover = pieces.groupby("s")["t"].transform(lambda t: (t != "").any())
        outside_pop = float(pieces.loc[~covered & has_cover, "pop"].sum())
        pieces = pieces[covered | ~has_cover]
        if outside_pop > 0:
            notes.append(
                f"{outside_pop:,.0f} persons of the atlas population lie in parts "
                f"of source units outside the {target_key} layer; their share was "
                f"given to the covered parts of the same unit (renormalise=True)."
            )
    else:
        outside_pop = 0.0
    s_pop = pieces.groupby("s")["pop"].transform("sum").to_numpy()
    s_area = pieces.groupby("s")["area"].transform("sum").to_numpy()
    by_area = ~(s_pop > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(by_area, pieces["area"] / s_area, pieces["pop"] / s_pop)
    pieces["w"] = np.nan_to_num(w, nan=0.0)
    n_area = int(pieces.loc[by_area, "s"].nunique())
    if n_area:
        notes.append(
            f"{n_area} source unit(s) have no atlas population; split by area."
        )

    # Source units: split or whole.
    inside = pieces[pieces["t"] != ""]
    dominant = pieces.groupby("s")["w"].max()
    n_targets = inside.groupby("s")["t"].nunique().reindex(dominant.index).fillna(0)
    split = dominant < 1.0 - tolerance
    sources = pd.DataFrame(
        {
            "population": pieces.groupby("s")["pop"].sum(),
            "n_targets": n_targets.astype("int64"),
            "dominant_share": dominant,
            "split": split,
        }
    )
    sources.index.name = "code"

    # Extensive: shares times values, summed per target.
    out = pd.DataFrame(index=pd.Index(sorted(set(inside["t"])), name="code"))
    vals = values_by_src.reindex(pieces["s"]).reset_index(drop=True)
    totals_rows = {}
    for col in ext:
        x = vals[col].to_numpy("float64")
        contrib = pieces["w"].to_numpy() * np.nan_to_num(x, nan=0.0)
        per_t = pd.Series(contrib, index=pieces["t"].to_numpy()).groupby(level=0).sum()
        out[col] = per_t.reindex(out.index).fillna(0.0)
        totals_rows[col] = {
            "input": float(np.nansum(pd.to_numeric(table[col], errors="coerce"))),
            "allocated": float(per_t.drop("", errors="ignore").sum()),
            "outside": float(per_t.get("", 0.0)),
            "unmatched": float(
                np.nansum(pd.to_numeric(table.loc[~in_atlas, col], errors="coerce"))
            ),
            "missing_rows": int(table[col].isna().sum()),
        }
    # Intensive: population-weighted means per target (area-weighted in a target
    # without population).
    t_codes = inside["t"].to_numpy()
    t_has_pop = (inside.groupby("t")["pop"].transform("sum") > 0).to_numpy()
    wts = np.where(t_has_pop, inside["pop"].to_numpy(), inside["area"].to_numpy())
    for col in inte:
        r = values_by_src[col].reindex(inside["s"]).to_numpy("float64")
        ok = np.isfinite(r)
        num = pd.Series(np.where(ok, r * wts, 0.0)).groupby(t_codes).sum()
        den = pd.Series(np.where(ok, wts, 0.0)).groupby(t_codes).sum()
        out[col] = (num / den.where(den > 0)).reindex(out.index)

    # Error statement per target.
    t_pop = inside.groupby("t")["pop"].sum()
    is_split = inside["s"].map(split).fillna(False).to_numpy(dtype=bool)
    split_pop = inside.loc[is_split].groupby("t")["pop"].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        allocated = (split_pop.reindex(t_pop.index).fillna(0.0) / t_pop).where(
            t_pop > 0
        )
    out["atlas_population"] = t_pop.reindex(out.index).fillna(0.0)
    out["allocated_share"] = allocated.reindex(out.index)
    s_cov = inside.groupby("s")["pop"].transform("sum").to_numpy()
    moved_pop = (
        pd.Series(
            np.minimum(inside["pop"].to_numpy(), s_cov - inside["pop"].to_numpy()),
            index=inside["t"].to_numpy(),
        )
        .groupby(level=0)
        .sum()
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        moved = (moved_pop.reindex(t_pop.index).fillna(0.0) / t_pop).where(t_pop > 0)
    out["moved_share"] = moved.reindex(out.index).clip(lower=0.0)
    out["n_sources"] = (
        inside.groupby("t")["s"].nunique().reindex(out.index).fillna(0).astype("int64")
    )
    out["n_split_sources"] = (
        inside.loc[is_split]
        .groupby("t")["s"]
        .nunique()
        .reindex(out.index)
        .fillna(0)
        .astype("int64")
    )
    names = _target_names(target_key, target_gdf, data_dir)
    out.insert(0, "nom", [names.get(str(c), "") for c in out.index])

    totals = pd.DataFrame.from_dict(totals_rows, orient="index")
    if not totals.empty:
        totals.index.name = "column"
    params = {
        "code_col": code_col,
        "code_kind": kind,
        "source": source_key,
        "target": target_key,
        "extensive": list(ext),
        "intensive": list(inte),
        "tolerance": tolerance,
        "renormalise": renormalise,
        "outside_population_renormalised": outside_pop,
        "weights": "population" if (~by_area).any() else "area",
    }
    logger.info(
        "Portrait %s -> %s: %d sources, %d targets, %.1f %% of the population in "
        "split units.",
        source_key,
        target_key,
        len(sources),
        len(out),
        100
        * float(sources.loc[sources["split"], "population"].sum())
        / max(float(sources["population"].sum()), 1e-12),
    )
    return Portrait(
        values=out,
        target=target_key,
        source=source_key,
        code_kind=kind,
        extensive=ext,
        intensive=inte,
        totals=totals,
        sources=sources,
        unmatched=unmatched,
        params=MappingProxyType(params),
        notes=tuple(notes),
    )


def _apply_successors(
    table: pd.DataFrame, kind: str, known: set[str]
) -> tuple[pd.DataFrame, list[str]]:
    if kind not in ("csd", "municipal"):
        return table, []
    from geodecoupage.overlay.population import CSD_2016_SUCCESSORS

    codes = table["_code"]
    remap = {
        c: CSD_2016_SUCCESSORS[c]
        for c in set(codes)
        if c not in known and CSD_2016_SUCCESSORS.get(c) in known
    }
    if not remap:
        return table, []
    out = table.copy()
    out["_code"] = codes.map(lambda c: remap.get(c, c))
    note = (
        "Codes merged or renumbered since 2016 mapped to today's municipal code: "
        + ", ".join(f"{a}->{b}" for a, b in sorted(remap.items()))
        + "."
    )
    return out, [note]


def _target_names(
    key: str, gdf: gpd.GeoDataFrame | None, data_dir: str | os.PathLike[str] | None
) -> dict[str, str]:
    if gdf is not None:
        if "nom" in gdf.columns:
            return {str(c): str(n) for c, n in gdf["nom"].items()}
        return {}
    from geodecoupage.layers import LAYER_KEYS, read_layer

    if key not in LAYER_KEYS:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = read_layer(key, data_dir=data_dir)
    except (LayerUnavailableError, OSError):
        return {}
    return {str(c): str(n) for c, n in layer["nom"].items()}


def _build_atlas(
    source_layer: gpd.GeoDataFrame,
    source_key: str,
    target_key: str,
    target_gdf: gpd.GeoDataFrame | None,
    *,
    population: Any,
    data_dir: str | os.PathLike[str] | None,
) -> tuple[Any, gpd.GeoDataFrame, list[str]]:
    from geodecoupage.layers import read_layer
    from geodecoupage.overlay.atlas import build_atlas

    notes = []
    if target_gdf is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            target_gdf = read_layer(target_key, data_dir=data_dir)
        for w in caught:
            logger.info("%s: %s", target_key, w.message)
    if population is None:
        from geodecoupage.overlay.population import population_surface

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                population = population_surface(data_dir=data_dir)
            for w in caught:
                logger.info("population: %s", w.message)
        except LayerUnavailableError as err:
            notes.append(f"No population surface ({err}); shares by area.")
    kwargs: dict[str, Any] = {}
    if population is not None:
        kwargs["population"] = population
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        atlas = build_atlas(
            {source_key: source_layer, target_key: target_gdf}, **kwargs
        )
    for w in caught:
        logger.info("atlas: %s", w.message)
    return atlas, target_gdf, notes
