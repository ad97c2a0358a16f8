"""Population surface: census counts placed on polygons, for the atlas.

The atlas (:func:`geodecoupage.overlay.atlas.build_atlas`) allocates a population
surface to its atoms by area, assuming a uniform density inside each polygon of the
surface. This module builds that surface from the finest real counts available in
the data directory, and gives the tools to check it against published totals:

* :func:`population_surface` reads the census 2016 counts of the data directory:
  census subdivisions (CSD, i.e. municipalities) on the municipal polygons, refined by
  census tracts (CT) inside the metropolitan areas that have them;
* :func:`surface_from_counts` is the same method on counts and polygons the caller
  supplies (pure, no file access);
* :func:`reconcile_to` rescales a surface so that each zone (e.g. RLS) sums to a
  published total;
* :func:`compare_totals` states the error: allocated vs published total per zone;
* :func:`published_totals` reads the published totals of the data directory (MSSS
  per RLS / RTS / RSS, census per MRC).

The method, its defaults and the errors measured on the real data are in
``docs/methodologie.md`` (section *population*).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage.crs import WORK_CRS, area_m2, to_work_crs
from geodecoupage.errors import (
    DataIntegrityError,
    InvalidParameterError,
    LayerUnavailableError,
)
from geodecoupage.i18n import fmt_int, fmt_pct, pick

logger = logging.getLogger(__name__)

__all__ = [
    "CENSUS_YEARS",
    "CSD_2016_SUCCESSORS",
    "PopulationSurface",
    "TractControl",
    "compare_totals",
    "error_summary",
    "normalise_ctuid",
    "population_surface",
    "published_totals",
    "reconcile_to",
    "surface_from_counts",
]

#: Census years whose counts the data directory holds.
CENSUS_YEARS: tuple[int, ...] = (2016,)

TractControl = Literal["cma", "municipality"]
Level = Literal["rls", "cisss", "rss", "mrc"]

#: Files read by :func:`population_surface` and :func:`published_totals`, relative
#: to the data directory (see ``PROVENANCE.md`` of the data mirror).
CSD_COUNTS = "population/census2016_pop_by_csd_qc.csv"
CT_COUNTS = "population/census2016_pop_by_ct_qc.csv"
DA_COUNTS = "population/census2016_pop_by_da_qc.csv"
CT_POLYGONS = "statcan/ct_qc_2016.shp"
CD_POLYGONS = "statcan/cd_qc_2016.shp"
CSD_ATTRIBUTES = "crosswalks/csd_qc_2016_attributes_statcan.csv"
MRC_CROSSWALK = "crosswalks/municipality_to_mrc_region_mamh_2025_derived.csv"
MSSS_TOTALS = "population/msss_pop_by_territory_1996_2041_v20200424.csv"

#: 2016 census subdivisions whose municipal code no longer exists in the current
#: municipal layer (mergers and code changes between 2016 and 2025), mapped to the
#: code that holds their territory today. Established from the data mirror: the
#: successor has the same name or a name made of the merged names (MAMH répertoire
#: 2025), or, for Saint-Guy, Sainte-Anne-du-Sault and Saint-Félix-de-Dalquier, is
#: the only new code of the same census division, or holds the GeoNames centroid of
#: the old municipality (``population/mamh_population_by_municipality.csv``).
#: Applied only when the old code has no polygon and the new one has.
CSD_2016_SUCCESSORS: Mapping[str, str] = MappingProxyType(
    {
        "11020": "13062",  # Saint-Guy -> Lac-des-Aigles (centroid inside 13062)
        "13060": "13062",  # Lac-des-Aigles (new code, 2024)
        "29025": "29027",  # Saint-Évariste-de-Forsyth -> Courcelles–Saint-Évariste
        "30090": "29027",  # Courcelles -> Courcelles–Saint-Évariste
        "32040": "32043",  # Plessisville (V) -> Plessisville
        "32045": "32043",  # Plessisville (PE) -> Plessisville
        "39150": "39152",  # Sainte-Anne-du-Sault -> Daveluyville
        "39155": "39152",  # Daveluyville
        "60035": "60037",  # L'Épiphanie (V) -> L'Épiphanie
        "60040": "60037",  # L'Épiphanie (PE) -> L'Épiphanie
        "82010": "80087",  # Notre-Dame-de-la-Salette (moved to MRC Papineau)
        "85050": "85052",  # Laverlochère -> Laverlochère-Angliers
        "85080": "85052",  # Angliers -> Laverlochère-Angliers
        "88010": "88012",  # Rochebaucourt -> La Morandière-Rochebaucourt
        "88015": "88012",  # La Morandière -> La Morandière-Rochebaucourt
        "88055": "88057",  # Amos
        "88060": "88057",  # Saint-Félix-de-Dalquier -> Amos (centroid inside 88057)
        "99895": "99885",  # Ivujivik (terre réservée inuite), new code
    }
)

#: Tolerance on the sum of a polygon's zone shares. Shares are equal-area, and a
#: piece cut along a zone border has extra vertices on edges that are straight in
#: EPSG:32198 but not in the equal-area projection, so the pieces of a polygon
#: covered by zones sum to 1 only within ~1e-5 (measured max 7.5e-5 on the RLS).
_NOISE = 1e-4

_CTUID = re.compile(r"^(\d{7})\.(\d{2})$")


@dataclass(frozen=True)
class PopulationSurface:
    """Population counts on disjoint polygons (uniform density inside each).

    Attributes
    ----------
    polygons
        GeoDataFrame in EPSG:32198, one row per polygon: ``population`` (float64,
        persons), ``source`` (``"csd"``: a municipality's census count on its
        polygon; ``"ct"``: a census tract's count on the tract; ``"csd_gap"``: the
        part of a municipality of a tracted metropolitan area that no tract covers
        (water, generalisation gaps), population 0 because the tracts carry all of
        it; ``"csd_remainder"``: with ``tract_control="municipality"``, municipal
        count minus the tract counts inside the municipality),
        ``source_code`` (CSD code without the province prefix ``24``, or CTUID),
        ``mun_code`` (municipal code, missing for tracts) and ``geometry``.
    total
        Population on the polygons (sum of ``polygons.population``).
    census_total
        Sum of the counts given (census population of the province for the CSDs).
    unallocated
        Counts that could not be placed, indexed by code: ``population``,
        ``reason``. ``census_total == total + unallocated.population.sum()`` with
        the default method (see :attr:`balance`).
    unmatched_polygons
        Codes of municipal polygons that have no count (population 0).
    params
        The parameters and input files used, to reproduce the surface.
    notes
        Human-readable statements of every choice and anomaly (codes remapped,
        counts missing, control factors).
    factors
        Control factor applied to the tract counts of each tracted area (CMA code),
        empty without tracts; or, after :func:`reconcile_to`, one per zone.
    """

    polygons: gpd.GeoDataFrame
    total: float
    census_total: float
    unallocated: pd.DataFrame
    unmatched_polygons: tuple[str, ...] = ()
    params: Mapping[str, object] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    factors: pd.Series = field(default_factory=lambda: pd.Series(dtype="float64"))

    @property
    def unallocated_total(self) -> float:
        """Population of the counts that have no polygon."""
        return float(self.unallocated["population"].sum())

    @property
    def balance(self) -> float:
        """Return ``total + unallocated_total - census_total`` (0 if conserved)."""
        return self.total + self.unallocated_total - self.census_total

    def by_source(self) -> pd.DataFrame:
        """Return population, polygon count and area (m², equal-area) per source."""
        gdf = self.polygons
        out = pd.DataFrame(
            {
                "population": gdf["population"].to_numpy(),
                "n_polygons": 1,
                "area_m2": area_m2(gdf.geometry),
                "source": gdf["source"].to_numpy(),
            }
        )
        return out.groupby("source").sum()

    def summary(self, lang: str = "fr") -> str:
        """Return a few human lines: totals, unallocated counts, sources."""
        lines = [
            pick(
                lang,
                fr=f"Surface de population : {fmt_int(self.total, lang)} personnes "
                f"sur {fmt_int(len(self.polygons), lang)} polygones "
                f"(comptes : {fmt_int(self.census_total, lang)}).",
                en=f"Population surface: {fmt_int(self.total, lang)} persons on "
                f"{fmt_int(len(self.polygons), lang)} polygons "
                f"(counts: {fmt_int(self.census_total, lang)}).",
            ),
            pick(
                lang,
                fr=f"Non allouée (code sans polygone) : "
                f"{fmt_int(self.unallocated_total, lang)} personnes, "
                f"{len(self.unallocated)} codes.",
                en=f"Unallocated (code without polygon): "
                f"{fmt_int(self.unallocated_total, lang)} persons, "
                f"{len(self.unallocated)} codes.",
            ),
        ]
        for source, row in self.by_source().iterrows():
            share = row["population"] / self.total if self.total else 0.0
            lines.append(
                f"  {source}: {fmt_int(row['population'], lang)} "
                f"({fmt_pct(share, 1, lang)}), {fmt_int(row['n_polygons'], lang)} "
                + pick(lang, fr="polygones", en="polygons")
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


# ---------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Return valid, polygon-only versions of *geoms* (empty where nothing is left).

    ``make_valid`` and overlay operations can return GeometryCollections holding
    lines or points next to the polygons; only the polygonal part carries area.
    """
    geoms = shapely.make_valid(np.asarray(geoms, dtype=object))
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        if g is None or g.is_empty:
            out[i] = shapely.Polygon()
        elif g.geom_type in ("Polygon", "MultiPolygon"):
            out[i] = g
        else:
            parts = [
                p
                for p in shapely.get_parts(g)
                if p.geom_type in ("Polygon", "MultiPolygon")
            ]
            if not parts:
                out[i] = shapely.Polygon()
            elif len(parts) == 1:
                out[i] = parts[0]
            else:
                out[i] = shapely.union_all(parts)
    return out


def _clean_layer(
    gdf: gpd.GeoDataFrame, *, name: str, code_name: str
) -> gpd.GeoDataFrame:
    """Return *gdf* in WORK_CRS, polygonal and valid, with a unique str index."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"{name} must be a GeoDataFrame, got {type(gdf).__name__}."
        raise InvalidParameterError(msg)
    out = to_work_crs(gdf, name=name)
    out.index = out.index.astype(str)
    dup = out.index[out.index.duplicated()].unique()
    if len(dup):
        msg = (
            f"{name} has {len(dup)} duplicated {code_name}(s) in its index "
            f"(first: {', '.join(map(str, dup[:5]))}). Dissolve them first, e.g. "
            f"gdf.dissolve(level=0)."
        )
        raise InvalidParameterError(msg)
    out = out.set_geometry(_polygonal(out.geometry.to_numpy()), crs=out.crs)
    return out


def _area_pairs(
    polygons: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, *, keep_geometry: bool
) -> pd.DataFrame:
    """Area-weighted intersection of *polygons* with *zones* (both in WORK_CRS).

    Returns one row per intersecting (polygon position, zone position) pair with
    ``poly`` and ``zone`` (positions), ``share`` (equal-area share of the polygon
    inside the zone) and, with *keep_geometry*, the intersection ``geometry``.
    """
    pgeoms = polygons.geometry.to_numpy()
    zgeoms = zones.geometry.to_numpy()
    tree = shapely.STRtree(zgeoms)
    ip, iz = tree.query(pgeoms, predicate="intersects")
    if len(ip) == 0:
        cols: dict[str, object] = {
            "poly": np.array([], dtype="int64"),
            "zone": np.array([], dtype="int64"),
            "share": np.array([], dtype="float64"),
        }
        if keep_geometry:
            cols["geometry"] = np.array([], dtype=object)
        return pd.DataFrame(cols)
    pieces = _polygonal(shapely.intersection(pgeoms[ip], zgeoms[iz]))
    whole = area_m2(pgeoms)
    piece_area = area_m2(pieces)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(whole[ip] > 0, piece_area / whole[ip], 0.0)
    out = pd.DataFrame({"poly": ip, "zone": iz, "share": share})
    if keep_geometry:
        out["geometry"] = pieces
    keep = piece_area > 0
    return out.loc[keep].reset_index(drop=True)


def _frame(
    population: np.ndarray,
    source: str | Sequence[str],
    source_code: Sequence[str],
    mun_code: Sequence[object],
    geometry: np.ndarray,
) -> gpd.GeoDataFrame:
    n = len(population)
    src = [source] * n if isinstance(source, str) else list(source)
    return gpd.GeoDataFrame(
        {
            "population": np.asarray(population, dtype="float64"),
            "source": pd.array(src, dtype="str"),
            "source_code": pd.array(list(source_code), dtype="str"),
            "mun_code": pd.array(list(mun_code), dtype="str"),
        },
        geometry=gpd.GeoSeries(list(geometry), crs=WORK_CRS),
        crs=WORK_CRS,
    )


def _check_counts(counts: pd.Series, *, name: str) -> tuple[pd.Series, int]:
    """Return (non-missing float counts with str index, number of missing)."""
    s = pd.to_numeric(pd.Series(counts), errors="coerce").astype("float64")
    s.index = pd.Index(pd.Series(counts).index).astype(str)
    n_missing = int(s.isna().sum())
    s = s.dropna()
    if (s < 0).any():
        bad = s.index[s < 0][:5]
        msg = (
            f"{name} has negative counts (first codes: {', '.join(bad)}). "
            f"Population counts must be >= 0; fix the input table."
        )
        raise InvalidParameterError(msg)
    if s.index.duplicated().any():
        s = s.groupby(level=0).sum()
    return s, n_missing


# ---------------------------------------------------------------------------
# The method, on counts and polygons given by the caller
# ---------------------------------------------------------------------------


def surface_from_counts(
    municipalities: gpd.GeoDataFrame,
    counts: pd.Series,
    *,
    tracts: gpd.GeoDataFrame | None = None,
    tract_groups: pd.Series | None = None,
    tract_control: TractControl = "cma",
    land_mask: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    params: Mapping[str, object] | None = None,
    notes: Sequence[str] = (),
) -> PopulationSurface:
    """Place municipal counts on municipal polygons, refined by census tracts.

    Parameters
    ----------
    municipalities
        Municipal polygons indexed by municipal code (unique; any CRS, reprojected
        to EPSG:32198). They should tile the territory (no overlaps).
    counts
        Census population per municipal code (same codes as *municipalities*).
        Missing values (suppressed counts) are counted in the notes and treated as
        unknown (no population placed).
    tracts
        Optional census tracts indexed by tract code, with a ``population`` column
        and a ``group`` column naming the tracted area (census metropolitan area or
        agglomeration code) each tract belongs to. Tracts with a missing count are
        dropped (their area stays with the municipality, see Notes).
    tract_groups
        Municipal code -> tracted-area code, for the municipalities that lie in a
        tracted area (the census subdivisions of a CMA/CA with tracts). Required
        with *tracts* when ``tract_control="cma"``.
    tract_control
        How tract counts are reconciled with municipal counts:

        ``"cma"`` (default)
            Per tracted area *g*: the tracts replace the municipal polygons of the
            member municipalities; tract counts are multiplied by
            :math:`f_g = \\sum_{m \\in g} P_m / \\sum_{t \\in g} Q_t` so that the
            area keeps the municipal total (f is 1 up to census rounding); the
            member municipalities' area outside every tract gets population 0
            (``source="csd_gap"``).
        ``"municipality"``
            Tract counts unchanged; each municipality keeps
            :math:`r_m = \\max(0, P_m - S_m)` on its area outside the tracts
            (``"csd_remainder"``), with :math:`S_m` the tract population inside its
            polygon (tract counts split by area). Exact only if the municipal
            polygons follow the tract boundaries: with generalised polygons, tracts
            that spill over a border are counted twice (see Notes).
    land_mask
        Optional land polygons (any CRS). Municipal polygons are clipped to them
        before counts are placed, so no population lands on lakes, rivers or sea
        drawn inside a municipal polygon. A polygon with a count that the mask
        would empty is kept unclipped (listed in the notes). Tracts are not
        clipped (census tracts are land-only already).
    params, notes
        Recorded in the result (used by :func:`population_surface`).

    Returns
    -------
    PopulationSurface
        Disjoint polygons in EPSG:32198 with their population.

    Raises
    ------
    InvalidParameterError
        If an input is not a GeoDataFrame, has duplicated codes, negative counts,
        lacks a column, or *tract_control* is unknown.
    MissingCRSError
        If a layer has no CRS.

    Notes
    -----
    Without tracts, polygon *m* gets :math:`P_m`; codes in *counts* without a
    polygon go to :attr:`PopulationSurface.unallocated` (never dropped silently),
    polygons without a count get 0 and are listed in ``unmatched_polygons``.

    With tracts, every municipal polygon loses the area covered by tracts (tracts
    are land-only and drawn at full census resolution, so they win where the
    generalised municipal polygons overlap them). A municipality outside every
    tracted area keeps :math:`P_m` on what is left of its polygon; if nothing is
    left, :math:`P_m` is reported as unallocated.

    Why ``"cma"`` is the default: every census subdivision of a tracted CMA/CA is
    covered by its tracts, so :math:`\\sum_{m\\in g} P_m = \\sum_{t\\in g} Q_t`
    up to random rounding; that equality is known exactly, whereas the split of a
    tract between municipalities is known only through the municipal polygons. On
    the coarse municipal layer of the data mirror, the per-municipality remainder
    (``"municipality"``) places about 166 000 persons twice (see
    ``docs/methodologie.md``).

    Conservation: with ``"cma"``, ``total + unallocated_total == census_total``
    (up to float rounding) whenever every tracted area has members; with
    ``"municipality"``, ``total`` exceeds it by the sum of the clipped negative
    remainders (``params["excess_clipped"]``).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> mun = gpd.GeoDataFrame(
    ...     geometry=[box(0, 0, 10, 10), box(10, 0, 20, 10)],
    ...     index=["00001", "00002"], crs="EPSG:32198")
    >>> s = surface_from_counts(mun, pd.Series({"00001": 100.0, "00002": 50.0}))
    >>> s.total
    150.0
    """
    if tract_control not in get_args(TractControl):
        msg = (
            f"Unknown tract_control {tract_control!r}; use one of: "
            f"{', '.join(get_args(TractControl))}."
        )
        raise InvalidParameterError(msg)
    notes_out = list(notes)
    mun = _clean_layer(municipalities, name="municipalities", code_name="code")
    pc, n_missing = _check_counts(counts, name="counts")
    if land_mask is not None:
        mun, kept = _clip_to_land(mun, land_mask, pc)
        notes_out.append(
            "municipal polygons clipped to the land mask"
            + (
                f"; {len(kept)} polygon(s) with a count kept unclipped (the mask "
                f"leaves nothing of them): {', '.join(kept[:10])}"
                if kept
                else ""
            )
            + "."
        )
    if n_missing:
        notes_out.append(
            f"{n_missing} municipal code(s) have no published count (suppressed or "
            f"not enumerated): no population placed for them."
        )
    census_total = float(pc.sum())

    no_poly = pc.index.difference(mun.index)
    unalloc = pd.DataFrame(
        {"population": pc.reindex(no_poly).astype("float64"), "reason": "no polygon"}
    )
    unalloc.index.name = "code"
    if len(no_poly):
        notes_out.append(
            f"{len(no_poly)} code(s) with a count have no polygon "
            f"({fmt_int(unalloc['population'].sum(), 'en')} persons unallocated): "
            f"{', '.join(no_poly[:10])}{' ...' if len(no_poly) > 10 else ''}."
        )
    unmatched = tuple(sorted(mun.index.difference(pc.index)))
    if unmatched:
        notes_out.append(
            f"{len(unmatched)} polygon(s) have no count (population 0), e.g. "
            f"{', '.join(unmatched[:5])}."
        )
    pm = pc.reindex(mun.index).fillna(0.0)

    par: dict[str, object] = dict(params or {})
    par.update(
        land_clipped=land_mask is not None,
        tract_control=tract_control,
        refined=tracts is not None and len(tracts) > 0,
        crs=WORK_CRS,
    )
    if tracts is None or len(tracts) == 0:
        polys = _frame(
            pm.to_numpy(), "csd", list(mun.index), list(mun.index), mun.geometry.values
        )
        return _result(polys, census_total, unalloc, unmatched, par, notes_out)

    trc = _clean_layer(tracts, name="tracts", code_name="tract code")
    missing_cols = {"population", "group"} - set(trc.columns)
    if missing_cols:
        msg = (
            f"tracts lacks column(s) {', '.join(sorted(missing_cols))}; it needs "
            f"'population' (count) and 'group' (tracted-area code, e.g. CMAUID)."
        )
        raise InvalidParameterError(msg)
    q, q_missing = _check_counts(trc["population"], name="tracts.population")
    if q_missing:
        notes_out.append(
            f"{q_missing} tract(s) have no published count: dropped, their area "
            f"stays with their municipality."
        )
    trc = trc.loc[q.index].copy()
    trc["population"] = q
    trc["group"] = trc["group"].astype(str)
    trc = trc.loc[~trc.geometry.is_empty]

    if tract_control == "cma":
        polys, factors, extra = _refine_by_group(mun, pm, trc, tract_groups)
    else:
        polys, factors, extra = _refine_by_municipality(mun, pm, trc)
    notes_out.extend(extra["notes"])  # type: ignore[arg-type]
    par.update({k: v for k, v in extra.items() if k not in ("notes", "unallocated")})
    more = extra.get("unallocated")
    if isinstance(more, pd.DataFrame) and len(more):
        unalloc = pd.concat([unalloc, more])
    return _result(
        polys, census_total, unalloc, unmatched, par, notes_out, factors=factors
    )


def _result(
    polys: gpd.GeoDataFrame,
    census_total: float,
    unalloc: pd.DataFrame,
    unmatched: tuple[str, ...],
    params: Mapping[str, object],
    notes: list[str],
    *,
    factors: pd.Series | None = None,
) -> PopulationSurface:
    keep = ~polys.geometry.is_empty
    lost = polys.loc[~keep, "population"]
    if (lost > 0).any():  # guarded upstream; a safety net, never silent
        extra = pd.DataFrame(
            {"population": lost.to_numpy(), "reason": "empty geometry"},
            index=pd.Index(polys.loc[~keep, "source_code"].to_numpy(), name="code"),
        )
        unalloc = pd.concat([unalloc, extra[extra["population"] > 0]])
    polys = polys.loc[keep].reset_index(drop=True)
    polys.index.name = "polygon"
    unalloc.index.name = "code"
    total = float(polys["population"].sum())
    return PopulationSurface(
        polygons=polys,
        total=total,
        census_total=census_total,
        unallocated=unalloc,
        unmatched_polygons=unmatched,
        params=MappingProxyType(dict(params)),
        notes=tuple(notes),
        factors=factors if factors is not None else pd.Series(dtype="float64"),
    )


def _clip_to_land(
    mun: gpd.GeoDataFrame,
    land_mask: gpd.GeoDataFrame | gpd.GeoSeries,
    counts: pd.Series,
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Clip municipal polygons to land; keep those the mask would empty."""
    if isinstance(land_mask, gpd.GeoSeries):
        land_mask = gpd.GeoDataFrame(geometry=land_mask)
    land = _clean_layer(
        land_mask.reset_index(drop=True), name="land_mask", code_name="row"
    )
    pairs = _area_pairs(mun, land, keep_geometry=True)
    clipped = (
        gpd.GeoSeries(pairs["geometry"].to_numpy(), crs=WORK_CRS)
        .groupby(pairs["poly"].to_numpy())
        .agg(lambda g: shapely.union_all(g.to_numpy()))
    )
    geoms = np.full(len(mun), None, dtype=object)
    geoms[clipped.index.to_numpy()] = clipped.to_numpy()
    empty = np.array([g is None or g.is_empty for g in geoms])
    has_count = counts.reindex(mun.index).fillna(0.0).to_numpy() > 0
    keep_whole = empty & has_count
    geoms[keep_whole] = mun.geometry.to_numpy()[keep_whole]
    geoms[empty & ~has_count] = shapely.Polygon()
    out = mun.set_geometry(_polygonal(geoms), crs=WORK_CRS)
    return out, list(mun.index[keep_whole])


def _minus_tracts(
    mun: gpd.GeoDataFrame, trc: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Return each municipal geometry minus the tracts, and whether it changed."""
    mgeoms = mun.geometry.to_numpy()
    tgeoms = trc.geometry.to_numpy()
    tree = shapely.STRtree(tgeoms)
    im, it = tree.query(mgeoms, predicate="intersects")
    out = mgeoms.copy()
    touched = np.zeros(len(mgeoms), dtype=bool)
    if len(im) == 0:
        return out, touched
    order = np.argsort(im, kind="stable")
    im, it = im[order], it[order]
    starts = np.r_[0, np.flatnonzero(np.diff(im)) + 1]
    ends = np.r_[starts[1:], len(im)]
    rows = im[starts]
    covers = [
        shapely.union_all(tgeoms[it[a:b]]) for a, b in zip(starts, ends, strict=True)
    ]
    out[rows] = _polygonal(
        shapely.difference(mgeoms[rows], np.asarray(covers, dtype=object))
    )
    touched[rows] = True
    return out, touched


def _refine_by_group(
    mun: gpd.GeoDataFrame,
    pm: pd.Series,
    trc: gpd.GeoDataFrame,
    tract_groups: pd.Series | None,
) -> tuple[gpd.GeoDataFrame, pd.Series, dict[str, object]]:
    if tract_groups is None:
        msg = (
            "tract_control='cma' needs tract_groups (municipal code -> tracted-area "
            "code, e.g. the CMAUID of each census subdivision); pass it, or use "
            "tract_control='municipality'."
        )
        raise InvalidParameterError(msg)
    groups = pd.Series(tract_groups).dropna().astype(str)
    groups.index = groups.index.astype(str)
    groups = groups[groups.index.isin(mun.index)]
    notes: list[str] = []
    p_g = pm.reindex(groups.index).groupby(groups).sum()
    q_g = trc.groupby("group")["population"].sum()
    used: list[str] = []
    factors = {}
    for g in sorted(q_g.index):
        pg, qg = float(p_g.get(g, 0.0)), float(q_g[g])
        if pg > 0 and qg > 0:
            used.append(g)
            factors[g] = pg / qg
        else:
            notes.append(
                f"tracted area {g}: municipal total {pg:.0f}, tract total {qg:.0f}; "
                f"tracts not used (need both > 0), municipal counts kept."
            )
    fac = pd.Series(factors, dtype="float64", name="factor")
    fac.index.name = "group"
    t_used = trc[trc["group"].isin(used)]
    members = groups[groups.isin(used)].index
    geoms, _ = _minus_tracts(mun, t_used)
    in_group = mun.index.isin(members)
    pop = np.where(in_group, 0.0, pm.to_numpy())
    src = np.where(in_group, "csd_gap", "csd")
    mpolys = _frame(pop, list(src), list(mun.index), list(mun.index), geoms)
    unalloc = _lost_counts(mpolys)
    tpop = t_used["population"].to_numpy() * t_used["group"].map(fac).to_numpy()
    tpolys = _frame(
        tpop, "ct", list(t_used.index), [None] * len(t_used), t_used.geometry.values
    )
    if len(fac):
        dev = (fac - 1.0).abs()
        notes.append(
            f"tract counts controlled to municipal totals in {len(fac)} tracted "
            f"area(s): factor min {fac.min():.5f}, max {fac.max():.5f} "
            f"(largest deviation in {dev.idxmax()}); "
            f"{int(in_group.sum())} member municipalities carry their count "
            f"through the tracts (their polygons outside tracts: population 0)."
        )
    polys = pd.concat([mpolys, tpolys], ignore_index=True)
    extra: dict[str, object] = {
        "notes": notes,
        "unallocated": unalloc,
        "tracts_used": len(t_used),
        "tracted_areas": tuple(used),
    }
    return polys, fac, extra


def _lost_counts(mpolys: gpd.GeoDataFrame) -> pd.DataFrame:
    """Municipal counts whose polygon vanished under the tracts."""
    gone = mpolys.geometry.is_empty & (mpolys["population"] > 0)
    out = pd.DataFrame(
        {
            "population": mpolys.loc[gone, "population"].to_numpy(),
            "reason": "polygon covered by census tracts of another area",
        },
        index=pd.Index(mpolys.loc[gone, "source_code"].to_numpy(), name="code"),
    )
    mpolys.loc[gone, "population"] = 0.0
    return out


def _refine_by_municipality(
    mun: gpd.GeoDataFrame, pm: pd.Series, trc: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, pd.Series, dict[str, object]]:
    pairs = _area_pairs(trc, mun, keep_geometry=False)
    # a tract's count is split over the municipal polygons by area, renormalised
    # over the part of the tract inside the municipal layer
    inside = pairs.groupby("poly")["share"].transform("sum")
    w = pairs["share"] / inside
    tq = trc["population"].to_numpy()
    s_m = (
        pd.Series(w.to_numpy() * tq[pairs["poly"].to_numpy()])
        .groupby(pairs["zone"].to_numpy())
        .sum()
    )
    s = np.zeros(len(mun))
    s[s_m.index.to_numpy()] = s_m.to_numpy()
    p = pm.to_numpy()
    remainder = np.maximum(p - s, 0.0)
    excess = float(np.maximum(s - p, 0.0).sum())
    geoms, touched = _minus_tracts(mun, trc)
    src = np.where(touched, "csd_remainder", "csd")
    pop = np.where(touched, remainder, p)
    mpolys = _frame(pop, list(src), list(mun.index), list(mun.index), geoms)
    unalloc = _lost_counts(mpolys)
    outside = sorted(set(range(len(trc))) - set(pairs["poly"]))
    notes = [
        f"per-municipality remainders: {int(touched.sum())} municipalities touch a "
        f"tract; negative remainders clipped to 0 in {int((s > p).sum())} of them "
        f"({fmt_int(excess, 'en')} persons counted in tracts beyond the municipal "
        f"count: the surface total exceeds the census total by that much)."
    ]
    if outside:
        notes.append(
            f"{len(outside)} tract(s) lie outside every municipal polygon; kept as is."
        )
    tpolys = _frame(tq, "ct", list(trc.index), [None] * len(trc), trc.geometry.values)
    polys = pd.concat([mpolys, tpolys], ignore_index=True)
    extra: dict[str, object] = {
        "notes": notes,
        "unallocated": unalloc,
        "tracts_used": len(trc),
        "excess_clipped": excess,
    }
    return polys, pd.Series(dtype="float64", name="factor"), extra


# ---------------------------------------------------------------------------
# Reading the data directory
# ---------------------------------------------------------------------------


def _data_file(root: Path, rel: str, *, why: str) -> Path:
    path = root / rel
    if not path.is_file():
        msg = (
            f"{rel} not found in the data directory {str(root)!r}; it is needed "
            f"for {why}. Point data_dir (CLI --data-dir) or GEODECOUPAGE_DATA at the "
            f"Québec data mirror (see PROVENANCE.md)."
        )
        raise LayerUnavailableError(msg)
    return path


def _read_counts(path: Path) -> pd.Series:
    """Read a census count table (``geo_uid``, ``pop_2016``) with codes as text."""
    df = pd.read_csv(path, dtype={"geo_uid": str})
    if not {"geo_uid", "pop_2016"} <= set(df.columns):
        msg = (
            f"{path.name} lacks the columns geo_uid and pop_2016 (found: "
            f"{', '.join(df.columns)}); is it the census count table of PROVENANCE.md?"
        )
        raise DataIntegrityError(msg)
    s = pd.to_numeric(df["pop_2016"], errors="coerce").astype("float64")
    s.index = pd.Index(df["geo_uid"].str.strip(), name="geo_uid")
    return s


def normalise_ctuid(code: object) -> str:
    """Return a census tract code as StatCan publishes it: ``"4620014.02"``.

    Accepts ``"4620014.02"``, ``"462001402"``, ``"4620014.2"`` (float text) and
    numbers; tracts are ``CMA (3) + tract (4) . suffix (2)``.

    Raises
    ------
    DataIntegrityError
        If *code* cannot be read as a tract code.
    """
    text = str(code).strip()
    if _CTUID.match(text):
        return text
    if re.fullmatch(r"\d{9}", text):
        return f"{text[:7]}.{text[7:]}"
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if np.isfinite(value) and 0 <= value < 1e7:
        return f"{value:010.2f}"
    msg = f"{text!r} is not a census tract code (expected e.g. '4620014.02')."
    raise DataIntegrityError(msg)


def _read_municipal_polygons(data_dir: Path) -> gpd.GeoDataFrame:
    """Municipal polygons indexed by 5-digit code, from the catalogue loader.

    ``read_layer("municipalites")`` drops the 17 region features, dissolves the
    arrondissements of six cities into their city and checks the unit count
    against the catalogue (1 344 for the mirror's coarse copy), so no code with a
    census count can go missing silently.
    """
    from geodecoupage.layers import read_layer

    return read_layer("municipalites", data_dir=data_dir)[["geometry"]]


def population_surface(
    *,
    data_dir: str | os.PathLike[str] | None = None,
    year: int = 2016,
    refine_with_tracts: bool = True,
    tract_control: TractControl = "cma",
    land: bool = False,
) -> PopulationSurface:
    """Build the census population surface of Québec from the data directory.

    Parameters
    ----------
    data_dir
        Data directory (default: ``GEODECOUPAGE_DATA``, then the user cache).
    year
        Census year; only 2016 is in the data directory (see
        :data:`CENSUS_YEARS`).
    refine_with_tracts
        Replace the municipal counts by census-tract counts inside the tracted
        metropolitan areas (Montréal, Québec, Gatineau, Sherbrooke, Saguenay,
        Trois-Rivières, Drummondville, Granby).
    tract_control
        See :func:`surface_from_counts`.
    land
        Clip the municipal polygons to land before placing the counts, with the
        census divisions of the data directory (``statcan/cd_qc_2016.shp``,
        cartographic, land only) as the land mask. Off by default: on the mirror
        it moves less than 0.1 % of the population between RLS (the coarse
        municipal polygons hold little water) and triples the build time.

    Returns
    -------
    PopulationSurface
        Polygons in EPSG:32198 with ``population``, ``source``, ``source_code``,
        ``mun_code``.

    Raises
    ------
    InvalidParameterError
        If *year* is not available.
    LayerUnavailableError
        If a needed file is missing from the data directory.
    DataIntegrityError
        If a count table does not have the expected columns or codes.

    Notes
    -----
    Inputs (``PROVENANCE.md``): census 2016 population by CSD
    (``geo_uid`` = ``24`` + 5-digit municipal code), the municipal layer
    (``read_layer("municipalites")``: coarse SDA polygons, arrondissements
    dissolved), and for the refinement the 2016 census tracts
    (``statcan/ct_qc_2016.shp``, land only) with their counts, and the CSD→CMA
    table (``crosswalks/csd_qc_2016_attributes_statcan.csv``).

    * 2016 CSD codes merged or renumbered since 2016 are mapped to today's code by
      :data:`CSD_2016_SUCCESSORS` (their counts are summed).
    * Tract rows without a polygon (the Ontario part of Ottawa–Gatineau, CMA 505)
      are listed in the notes; they refine nothing and are not Québec population.
    * Dissemination areas (DA) have counts in the data directory but no polygons:
      they are not used.

    Examples
    --------
    >>> s = population_surface()  # doctest: +SKIP
    >>> round(s.total + s.unallocated_total)  # doctest: +SKIP
    8163960
    """
    from geodecoupage.layers import resolve_data_dir

    if year not in CENSUS_YEARS:
        msg = (
            f"No census counts for {year} in the data directory; available: "
            f"{', '.join(map(str, CENSUS_YEARS))}."
        )
        raise InvalidParameterError(msg)
    root = resolve_data_dir(data_dir)
    notes: list[str] = []
    csd_path = _data_file(root, CSD_COUNTS, why="the census population by CSD")
    mun = _read_municipal_polygons(root)

    raw = _read_counts(csd_path)
    ok = raw.index.str.fullmatch(r"24\d{5}")
    if (~ok).any():
        notes.append(
            f"{int((~ok).sum())} CSD row(s) are not Québec CSDUIDs (24xxxxx): "
            f"ignored ({', '.join(raw.index[~ok][:5])})."
        )
    counts = raw[ok]
    counts.index = counts.index.str[2:]
    counts, remapped = _apply_successors(counts, mun.index)
    if remapped:
        notes.append(
            "2016 CSD codes mapped to today's municipal code (mergers, new codes): "
            + ", ".join(f"{a}->{b}" for a, b in remapped)
            + "."
        )
    if (root / DA_COUNTS).is_file():
        notes.append(
            "Census counts by dissemination area exist in the data directory but "
            "no DA polygons do: DAs are not used."
        )
    params: dict[str, object] = {
        "year": year,
        "data_dir": str(root),
        "csd_counts": CSD_COUNTS,
        "municipal_polygons": "read_layer('municipalites')",
        "refine_with_tracts": refine_with_tracts,
        "successors_applied": tuple(remapped),
    }
    mask = None
    if land:
        cd_path = _data_file(root, CD_POLYGONS, why="the land mask (land=True)")
        mask = gpd.read_file(cd_path)[["geometry"]]
        params["land_mask"] = CD_POLYGONS
    tracts = groups = None
    if refine_with_tracts:
        tracts, groups, tnotes = _read_tracts(root, counts.index, mun.index)
        notes.extend(tnotes)
        params.update(ct_counts=CT_COUNTS, ct_polygons=CT_POLYGONS)
    return surface_from_counts(
        mun,
        counts,
        tracts=tracts,
        tract_groups=groups,
        tract_control=tract_control,
        land_mask=mask,
        params=params,
        notes=notes,
    )


def _apply_successors(
    counts: pd.Series, polygon_codes: pd.Index
) -> tuple[pd.Series, list[tuple[str, str]]]:
    have = set(polygon_codes)
    remapped = [
        (old, new)
        for old, new in CSD_2016_SUCCESSORS.items()
        if old in counts.index and old not in have and new in have
    ]
    if not remapped:
        return counts, []
    mapping = dict(remapped)
    idx = counts.index.map(lambda c: mapping.get(c, c))
    # keep NaN (suppressed) only when every merged code is NaN
    out = counts.groupby(idx).sum(min_count=1)
    out.index.name = counts.index.name
    return out, remapped


def _read_tracts(
    root: Path, count_codes: pd.Index, polygon_codes: pd.Index
) -> tuple[gpd.GeoDataFrame, pd.Series, list[str]]:
    notes: list[str] = []
    q = _read_counts(_data_file(root, CT_COUNTS, why="the tract refinement"))
    q.index = pd.Index([normalise_ctuid(c) for c in q.index], name="ctuid")
    shp = _data_file(root, CT_POLYGONS, why="the tract refinement")
    raw = gpd.read_file(shp)
    if "CTUID" not in raw.columns:
        msg = f"{CT_POLYGONS} has no CTUID column (found {', '.join(raw.columns)})."
        raise DataIntegrityError(msg)
    raw.index = pd.Index([normalise_ctuid(c) for c in raw["CTUID"]], name="ctuid")
    no_poly = q.index.difference(raw.index)
    if len(no_poly):
        cmas = sorted({c[:3] for c in no_poly})
        notes.append(
            f"{len(no_poly)} tract count row(s) have no tract polygon "
            f"({fmt_int(q.reindex(no_poly).sum(), 'en')} persons; CMA "
            f"{', '.join(cmas)}: the Ontario part of Ottawa–Gatineau in the mirror); "
            f"not Québec population, not used."
        )
    no_count = raw.index.difference(q.index)
    if len(no_count):
        notes.append(f"{len(no_count)} tract polygon(s) have no count row: dropped.")
    tracts = raw.loc[raw.index.intersection(q.index), ["geometry"]].copy()
    tracts["population"] = q.reindex(tracts.index)
    tracts["group"] = [c[:3] for c in tracts.index]
    attrs = pd.read_csv(
        _data_file(root, CSD_ATTRIBUTES, why="the tract refinement (CSD -> CMA)"),
        dtype=str,
    )
    cma = attrs.dropna(subset=["CMAUID"]).set_index("CSDUID")["CMAUID"]
    cma.index = cma.index.str[2:]
    cma = cma.rename(
        index=lambda c: c if c in set(polygon_codes) else CSD_2016_SUCCESSORS.get(c, c)
    )
    clash = cma.groupby(level=0).nunique()
    if (clash > 1).any():
        notes.append(
            "merged municipalities spanning two CMAs: "
            + ", ".join(clash.index[clash > 1])
            + " (first CMA kept)."
        )
    groups = cma.groupby(level=0).first()
    return tracts, groups, notes


# ---------------------------------------------------------------------------
# Published totals, reconciliation and the error statement
# ---------------------------------------------------------------------------

_MSSS_LEVEL = {"rls": "RLS", "cisss": "RTS", "rss": "RSS"}


def published_totals(
    level: Level,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    year: int = 2016,
) -> pd.Series:
    """Return the published population per zone of *level*, indexed by code.

    Parameters
    ----------
    level
        ``"rls"`` (4-digit codes), ``"cisss"`` (RTS, 3 digits), ``"rss"``
        (2 digits): MSSS/ISQ estimates (``population/msss_pop_by_territory_...``,
        2020 edition; ``year`` 1996–2041, estimates up to 2019). ``"mrc"``: census
        population (``year`` 2016 only) by SDA MRC code (``MRS_CO_MRC``, the codes
        of ``read_layer("mrc")``), the sum of the census CSD counts through the
        MAMH municipality→MRC crosswalk.
    data_dir
        Data directory (default: ``GEODECOUPAGE_DATA``, then the user cache).
    year
        Reference year.

    Returns
    -------
    pandas.Series
        float64 ``population`` indexed by ``code`` (str, zero-padded as published).
        ``attrs["source"]`` names the file; for ``"mrc"``, ``attrs["unmatched"]``
        holds the CSD codes (and persons) that the crosswalk does not place.

    Raises
    ------
    InvalidParameterError
        If *level* or *year* is not available.
    LayerUnavailableError
        If the file is missing from the data directory.

    Notes
    -----
    The census MRC totals are sums of CSD counts rather than the census by census
    division (``census2016_pop_by_cd_qc.csv``): census divisions are the *MRC
    géographiques*, which differ from the SDA MRC layer where a city is its own
    territory équivalent or where Nord-du-Québec is split (Jamésie, Kativik, Eeyou
    Istchee).
    """
    from geodecoupage.layers import resolve_data_dir

    root = resolve_data_dir(data_dir)
    if level in _MSSS_LEVEL:
        path = _data_file(root, MSSS_TOTALS, why=f"the MSSS totals by {level}")
        df = pd.read_csv(path, dtype={"GEO": str, "CODE": str})
        sel = df[(df["GEO"] == _MSSS_LEVEL[level]) & (df["AN"] == year)]
        if sel.empty:
            years = sorted(df["AN"].unique())
            msg = (
                f"No MSSS totals for {level} in {year}; the file covers "
                f"{years[0]}–{years[-1]}."
            )
            raise InvalidParameterError(msg)
        out = sel.groupby("CODE")["POP"].sum().astype("float64")
        out.index.name = "code"
        out.name = "population"
        out.attrs["source"] = MSSS_TOTALS
        return out
    if level != "mrc":
        msg = f"Unknown level {level!r}; use one of: {', '.join(get_args(Level))}."
        raise InvalidParameterError(msg)
    if year not in CENSUS_YEARS:
        msg = f"No census counts for {year}; available: {CENSUS_YEARS}."
        raise InvalidParameterError(msg)
    counts = _read_counts(_data_file(root, CSD_COUNTS, why="the census MRC totals"))
    xw = pd.read_csv(
        _data_file(root, MRC_CROSSWALK, why="the census MRC totals"), dtype=str
    )
    to_mrc = xw.set_index("mus_co_geo")["sda_mrs_co_mrc"]
    codes = counts.index.str[2:]
    mapped = pd.Index(
        [c if c in to_mrc.index else CSD_2016_SUCCESSORS.get(c, c) for c in codes]
    )
    mrc = mapped.map(to_mrc)
    values = counts.to_numpy()
    placed = ~pd.isna(mrc)
    out = pd.Series(values[placed], index=mrc[placed]).groupby(level=0).sum()
    out = out.astype("float64")
    out.index.name = "code"
    out.name = "population"
    out.attrs["source"] = f"{CSD_COUNTS} + {MRC_CROSSWALK}"
    out.attrs["unmatched"] = dict(
        zip(codes[~placed], np.nan_to_num(values[~placed]).tolist(), strict=True)
    )
    return out


def _surface_polygons(
    surface: PopulationSurface | gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    gdf = surface.polygons if isinstance(surface, PopulationSurface) else surface
    if not isinstance(gdf, gpd.GeoDataFrame) or "population" not in gdf.columns:
        msg = (
            "surface must be a PopulationSurface or a GeoDataFrame with a "
            "'population' column (see population_surface())."
        )
        raise InvalidParameterError(msg)
    gdf = to_work_crs(gdf, name="surface")
    pop = pd.to_numeric(gdf["population"], errors="coerce")
    if pop.isna().any() or (pop < 0).any():
        msg = "surface.population must be >= 0 and not missing in every polygon."
        raise InvalidParameterError(msg)
    return gdf.reset_index(drop=True)


def _zones(zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return _clean_layer(zones, name="zones", code_name="zone code")


def compare_totals(
    surface: PopulationSurface | gpd.GeoDataFrame,
    zones: gpd.GeoDataFrame,
    published: pd.Series,
    *,
    renormalise: bool = False,
) -> pd.DataFrame:
    """Compare the population a surface allocates to each zone with published totals.

    Parameters
    ----------
    surface
        A :class:`PopulationSurface` (or its ``polygons``).
    zones
        Zones indexed by code (e.g. ``read_layer("rls")``); they should not
        overlap.
    published
        Published population per zone code (e.g. :func:`published_totals`).
    renormalise
        If true, divide each polygon's zone shares by the share of it that the
        zones cover, so that a polygon partly outside every zone (water, a
        coastline drawn differently) gives all its population to the zones it
        touches; polygons entirely outside stay unallocated. This separates the
        coverage mismatch of the two layers from the allocation error.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``code`` (union of zone and published codes): ``allocated``,
        ``published``, ``diff`` (allocated − published), ``rel_diff``
        (diff / published), ``rel_diff_scaled`` (relative difference after scaling
        the allocated values by published total / allocated total, which removes a
        level difference such as census vs MSSS estimate). ``attrs`` holds
        ``surface_total``, ``allocated_total``, ``outside_zones`` (surface population
        in no zone), ``published_total``.

    Raises
    ------
    InvalidParameterError
        If *surface* has no valid ``population`` column or *zones* duplicated codes.
    MissingCRSError
        If a layer has no CRS.

    Notes
    -----
    Allocation is by area within each surface polygon (uniform density):

    .. math:: \\hat P_z = \\sum_i P_i \\, |S_i \\cap Z_z| / |S_i|

    with areas measured in the equal-area CRS (with *renormalise*, the
    denominator is :math:`|S_i \\cap \\bigcup_z Z_z|`). Where zones overlap, the
    shares of a polygon are divided by their sum when it exceeds 1. This is a
    validation tool independent of the atlas.
    """
    polys = _surface_polygons(surface)
    zs = _zones(zones)
    pairs = _area_pairs(polys, zs, keep_geometry=False)
    pop = polys["population"].to_numpy(dtype="float64")
    covered = pairs.groupby("poly")["share"].transform("sum").to_numpy()
    share = pairs["share"].to_numpy()
    if renormalise:
        share = share / covered
    else:  # overlapping zones must not create population
        share = np.where(covered > 1.0, share / covered, share)
    alloc_pos = (
        pd.Series(pop[pairs["poly"].to_numpy()] * share)
        .groupby(pairs["zone"].to_numpy())
        .sum()
    )
    allocated = pd.Series(0.0, index=zs.index)
    allocated.iloc[alloc_pos.index.to_numpy()] = alloc_pos.to_numpy()
    pub = pd.to_numeric(pd.Series(published), errors="coerce").astype("float64")
    pub.index = pub.index.astype(str)
    idx = zs.index.union(pub.index)
    out = pd.DataFrame(
        {"allocated": allocated.reindex(idx), "published": pub.reindex(idx)}
    )
    out.index.name = "code"
    out["diff"] = out["allocated"] - out["published"]
    out["rel_diff"] = out["diff"] / out["published"]
    both = out.dropna(subset=["allocated", "published"])
    a_tot, p_tot = both["allocated"].sum(), both["published"].sum()
    scale = p_tot / a_tot if a_tot > 0 else np.nan
    out["rel_diff_scaled"] = (out["allocated"] * scale - out["published"]) / out[
        "published"
    ]
    out.attrs.update(
        surface_total=float(pop.sum()),
        allocated_total=float(allocated.sum()),
        outside_zones=float(pop.sum() - allocated.sum()),
        published_total=float(pub.sum()),
    )
    return out


def error_summary(table: pd.DataFrame, *, n_worst: int = 5) -> dict[str, object]:
    """Summarise :func:`compare_totals`: median / max absolute relative error.

    Returns
    -------
    dict
        ``n``, ``median_abs_rel``, ``mean_abs_rel``, ``max_abs_rel``,
        ``median_abs_rel_scaled``, ``max_abs_rel_scaled``, ``sum_abs_diff``,
        ``worst`` (codes of the *n_worst* largest absolute relative errors).
    """
    t = table.dropna(subset=["allocated", "published"])
    t = t[t["published"] > 0]
    rel = t["rel_diff"].abs()
    rel_s = t["rel_diff_scaled"].abs()
    return {
        "n": len(t),
        "median_abs_rel": float(rel.median()),
        "mean_abs_rel": float(rel.mean()),
        "max_abs_rel": float(rel.max()),
        "median_abs_rel_scaled": float(rel_s.median()),
        "max_abs_rel_scaled": float(rel_s.max()),
        "sum_abs_diff": float(t["diff"].abs().sum()),
        "worst": tuple(rel.sort_values(ascending=False).index[:n_worst]),
    }


def reconcile_to(
    surface: PopulationSurface,
    totals: pd.Series,
    zones: gpd.GeoDataFrame,
    *,
    renormalise: bool = True,
) -> tuple[PopulationSurface, pd.DataFrame]:
    """Rescale a surface so that each zone sums to a published total.

    Parameters
    ----------
    surface
        The surface to rescale (not modified).
    totals
        Target population per zone code (e.g. ``published_totals("rls")``).
    zones
        Zones indexed by code; they should not overlap.
    renormalise
        If true (default), a polygon partly outside every zone gives the
        population of that part to its pieces inside the zones before the ratios
        are computed (the outside part is dropped): the published totals include
        those persons, so keeping them outside as well would count them twice
        when the zone layer draws water or coasts differently. If false, outside
        parts keep their population, unscaled.

    Returns
    -------
    (PopulationSurface, pandas.DataFrame)
        The new surface, whose polygons are the surface polygons cut by the zones
        (column ``zone_code``; parts outside every zone keep their population and a
        missing ``zone_code``); and the factors, indexed by zone ``code``:
        ``allocated`` (before), ``target``, ``factor``, ``reached`` (bool).

    Raises
    ------
    InvalidParameterError
        If the surface has no valid population or *zones* duplicated codes.
    MissingCRSError
        If a layer has no CRS.

    Notes
    -----
    One ratio per zone, applied to the pieces of the surface inside it:

    .. math:: f_z = T_z / \\hat P_z, \\qquad P'_{i,z} = f_z \\, P_i
       \\, |S_i \\cap Z_z| / |S_i|

    Because pieces are cut along the zone borders, every zone with
    :math:`\\hat P_z > 0` reaches :math:`T_z` exactly after one pass; iterative
    proportional fitting would only be needed to match two zone systems at once,
    which this function does not do. A zone with a target but no allocated
    population (:math:`\\hat P_z = 0`) cannot be reached (``reached`` False,
    listed in the notes); a zone without a target keeps factor 1. Where zones
    overlap (generalised layers), the shares of a polygon are divided by their sum
    so no population is created; the pieces then overlap too, so use zones that
    tile. With ``renormalise=False``, a part of a polygon outside every zone keeps
    its population (missing ``zone_code``) unless it is under 10⁻⁴ of the polygon
    (equal-area residue of the cut edges), which is folded into the pieces. A polygon
    entirely outside every zone always keeps its population, unscaled.
    """
    polys = _surface_polygons(surface)
    zs = _zones(zones)
    pairs = _area_pairs(polys, zs, keep_geometry=True)
    tot_share = pairs.groupby("poly")["share"].transform("sum").to_numpy()
    overlap = tot_share > 1.0
    # a polygon outside the zones by less than _NOISE of its area (equal-area
    # residue of cut edges, see _NOISE) gives that residue to its pieces
    noise = (tot_share < 1.0) & (tot_share > 1.0 - _NOISE)
    fold = overlap | noise | (renormalise & (tot_share > 0))
    share = np.where(fold, pairs["share"] / tot_share, pairs["share"])
    notes = list(surface.notes)
    pop = polys["population"].to_numpy(dtype="float64")
    if renormalise:
        first = ~pairs["poly"].duplicated().to_numpy()
        gap = 1.0 - np.minimum(tot_share[first], 1.0)
        moved = float((pop[pairs["poly"].to_numpy()[first]] * gap).sum())
        notes.append(
            f"reconcile_to: {fmt_int(moved, 'en')} persons on parts of polygons "
            f"outside every zone given to the polygons' pieces inside the zones."
        )
    if (tot_share > 1.0 + _NOISE).any():
        notes.append(
            f"zones overlap under "
            f"{len(set(pairs['poly'][tot_share > 1.0 + _NOISE]))} surface "
            f"polygon(s): their zone shares were divided by their sum."
        )
    piece_pop = pop[pairs["poly"].to_numpy()] * share
    zone_codes = zs.index.to_numpy()[pairs["zone"].to_numpy()]
    allocated = pd.Series(piece_pop).groupby(zone_codes).sum().reindex(zs.index)
    allocated = allocated.fillna(0.0)
    tgt = pd.to_numeric(pd.Series(totals), errors="coerce").astype("float64")
    tgt.index = tgt.index.astype(str)
    fac = pd.DataFrame({"allocated": allocated, "target": tgt.reindex(zs.index)})
    ok = fac["target"].notna() & (fac["allocated"] > 0)
    fac["factor"] = np.where(ok, fac["target"] / fac["allocated"].where(ok), 1.0)
    fac["reached"] = ok | (fac["target"].isna())
    fac.index.name = "code"
    missed = fac.index[fac["target"].notna() & ~ok]
    if len(missed):
        notes.append(
            f"{len(missed)} zone(s) have a target but no population on the surface "
            f"(not reachable): {', '.join(missed[:10])}."
        )
    no_zone = tgt.index.difference(zs.index)
    if len(no_zone):
        notes.append(
            f"{len(no_zone)} target code(s) have no zone polygon: "
            f"{', '.join(no_zone[:10])}."
        )
    no_target = fac.index[fac["target"].isna()]
    if len(no_target):
        notes.append(f"{len(no_target)} zone(s) have no target: factor 1.")
    new_pop = piece_pop * fac["factor"].reindex(zone_codes).to_numpy()
    src = polys.iloc[pairs["poly"].to_numpy()]
    inside = gpd.GeoDataFrame(
        {
            "population": new_pop,
            "source": src["source"].to_numpy(),
            "source_code": src["source_code"].to_numpy(),
            "mun_code": src["mun_code"].to_numpy() if "mun_code" in src else pd.NA,
            "zone_code": pd.array(zone_codes, dtype="str"),
        },
        geometry=gpd.GeoSeries(pairs["geometry"].to_numpy(), crs=WORK_CRS),
        crs=WORK_CRS,
    )
    # the parts of the surface outside every zone, unchanged
    covered = pd.Series(share).groupby(pairs["poly"].to_numpy()).sum()
    out_share = 1.0 - covered.reindex(range(len(polys))).fillna(0.0).to_numpy()
    part = out_share >= _NOISE
    rest = polys.loc[part].copy()
    if part.any():
        inside_union = (
            gpd.GeoSeries(pairs["geometry"].to_numpy(), crs=WORK_CRS)
            .groupby(pairs["poly"].to_numpy())
            .agg(lambda g: shapely.union_all(g.to_numpy()))
        )
        cut = inside_union.reindex(rest.index).to_numpy()
        cut = np.asarray([g if g is not None else shapely.Polygon() for g in cut])
        rest = rest.set_geometry(
            _polygonal(shapely.difference(rest.geometry.to_numpy(), cut)),
            crs=WORK_CRS,
        )
        rest["population"] = pop[part] * out_share[part]
        rest["zone_code"] = pd.array([None] * len(rest), dtype="str")
    polys_out = pd.concat(
        [inside, rest[[c for c in inside.columns if c in rest.columns]]],
        ignore_index=True,
    )
    params = dict(surface.params)
    params["reconciled_to"] = {
        "n_zones": len(zs),
        "renormalise": renormalise,
        "targets_total": float(tgt.sum()),
    }
    new = _result(
        gpd.GeoDataFrame(polys_out, geometry="geometry", crs=WORK_CRS),
        surface.census_total,
        surface.unallocated.copy(),
        surface.unmatched_polygons,
        params,
        notes,
        factors=fac["factor"].rename("factor"),
    )
    return new, fac
