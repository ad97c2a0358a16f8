"""One-file HTML audit report: findings, matrices, rankings, maps, figures, sources.

:func:`build_report` returns the page as a string; :func:`write_report` writes it
atomically. The page holds everything it shows: the interactive maps (Leaflet
inlined, in ``<iframe srcdoc>``), figures as inline SVG or PNG ``data:`` URIs, and
no link to load, so it opens offline in any browser and can be e-mailed.

Every number can be traced: the parameters, data vintages and SHA-256 checksums
are in the report, and each table says how it was computed (``docs/methodologie.md``).
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd

from geodecoupage._io import check_writable, write_text
from geodecoupage.crs import WORK_CRS
from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import Lang, check_lang, fmt_float, fmt_int, fmt_pct, pick
from geodecoupage.maps.html import html_table
from geodecoupage.maps.splits import AtlasLike, split_ranking, unit_splits
from geodecoupage.maps.styles import unit_label
from geodecoupage.reports._template import PAGE, REPORT_CSS

__all__ = [
    "DEFAULT_THRESHOLDS",
    "INSTITUTION_LAYERS",
    "TABLE_LAYERS",
    "Section",
    "build_report",
    "split_sensitivity",
    "territory_bounds",
    "write_report",
]

logger = logging.getLogger(__name__)

#: Thresholds of the sensitivity curves (ANCHORS: τ ∈ {0, 0.1 %, 1 %, 5 %}).
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.0, 0.001, 0.01, 0.05)
#: Layers whose units are institutions summoned to coordination tables.
INSTITUTION_LAYERS: tuple[str, ...] = (
    "rss",
    "cisss",
    "rls",
    "clsc",
    "css",
    "cs_anglo",
    "cs_statut",
    "mtl_arrondissements",
)
#: Layers that can play the coordination tables, by preference.
TABLE_LAYERS: tuple[str, ...] = ("mrc", "mtl_quartiers")


@dataclass(frozen=True)
class Section:
    """One section of the report: anchor id, title and HTML body."""

    id: str
    title: str
    html: str


class _CachedAtlas:
    """An atlas whose crosswalks are computed once per (source, target, weight)."""

    def __init__(self, atlas: Any) -> None:
        self._atlas = atlas
        self._cache: dict[tuple[str, str, str], pd.DataFrame] = {}

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self._atlas.layers)

    def crosswalk(
        self,
        source: str,
        target: str,
        *,
        weight: str = "area",
        include_gaps: bool = False,
    ) -> pd.DataFrame:
        if include_gaps:
            return self._atlas.crosswalk(
                source, target, weight=weight, include_gaps=True
            )
        key = (source, target, weight)
        if key not in self._cache:
            self._cache[key] = self._atlas.crosswalk(source, target, weight=weight)
        return self._cache[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._atlas, name)


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _has_population(atlas: Any) -> bool:
    atoms = getattr(atlas, "atoms", None)
    if atoms is None or "population" not in getattr(atoms, "columns", ()):
        return False
    pop = pd.to_numeric(atoms["population"], errors="coerce")
    return bool(pop.notna().any() and float(pop.fillna(0).sum()) > 0)


def split_sensitivity(
    atlas: AtlasLike,
    keys: Sequence[str] | None = None,
    *,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    units: Mapping[str, Collection[str]] | None = None,
) -> pd.DataFrame:
    """Return, per threshold, the share of each layer's units split by another layer.

    Parameters
    ----------
    atlas
        The atlas.
    keys
        Layers (default: the atlas layers); each is tested against the others.
    thresholds
        Sliver thresholds :math:`τ` to sweep.
    units
        ``{layer: codes}`` to count (e.g. the units of a region); default all.

    Returns
    -------
    pandas.DataFrame
        Indexed by threshold, one column per layer key, values in [0, 1]: the
        share of the layer's units that at least one other layer splits
        (:func:`geodecoupage.maps.unit_splits`).
    """
    keys = list(atlas.layers if keys is None else keys)
    rows: dict[float, dict[str, float]] = {}
    for tau in thresholds:
        row: dict[str, float] = {}
        for a in keys:
            flags: pd.Series | None = None
            for b in keys:
                if a == b:
                    continue
                s = unit_splits(atlas, a, b, threshold=float(tau)).split
                flags = (
                    s
                    if flags is None
                    else flags.reindex(flags.index.union(s.index), fill_value=False)
                    | s.reindex(flags.index.union(s.index), fill_value=False)
                )
            if flags is not None and units is not None and a in units:
                flags = flags[flags.index.isin([str(c) for c in units[a]])]
            row[a] = float(flags.mean()) if flags is not None and len(flags) else 0.0
        rows[float(tau)] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "threshold"
    return out


def _names(layers: Mapping[str, gpd.GeoDataFrame]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, gdf in layers.items():
        if "nom" in gdf.columns:
            out[key] = {
                str(c): str(n) for c, n in zip(gdf.index, gdf["nom"], strict=True) if n
            }
        else:
            out[key] = {}
    return out


def _pick_table_layer(
    table_layer: str | None, keys: Sequence[str], atlas_keys: Sequence[str]
) -> str | None:
    if table_layer is None:
        return None
    if table_layer != "auto":
        if table_layer not in atlas_keys:
            msg = (
                f"table_layer={table_layer!r} is not an atlas layer on the report; "
                f"layers: {', '.join(atlas_keys)}."
            )
            raise InvalidParameterError(msg)
        return table_layer
    for k in TABLE_LAYERS:
        if k in atlas_keys and k in keys:
            return k
    return None


def _within_units(
    atlas: Any, within: Mapping[str, Collection[str]] | None, keys: Sequence[str]
) -> dict[str, set[str]] | None:
    """Codes of each layer's units with atoms inside *within* (None: all)."""
    if not within:
        return None
    atoms = atlas.atoms
    mask = np.zeros(len(atoms), dtype=bool)
    for key, codes in within.items():
        col = atoms[key].astype("string")
        mask |= col.isin([str(c) for c in codes]).fillna(False).to_numpy(dtype=bool)
    inside = atoms[mask]
    return {k: {str(c) for c in inside[k].dropna().unique()} for k in keys}


def territory_bounds(
    atlas: Any, within: Mapping[str, Collection[str]] | None
) -> tuple[float, float, float, float] | None:
    """Longitude/latitude box of the atoms inside *within* (None: no territory)."""
    if not within or atlas is None:
        return None
    atoms = atlas.atoms
    if not isinstance(atoms, gpd.GeoDataFrame) or atoms.crs is None:
        return None
    mask = np.zeros(len(atoms), dtype=bool)
    for key, codes in within.items():
        col = atoms[key].astype("string")
        mask |= col.isin([str(c) for c in codes]).fillna(False).to_numpy(dtype=bool)
    if not mask.any():
        return None
    w, s, e, n = atoms[mask].to_crs("EPSG:4326").total_bounds
    return float(w), float(s), float(e), float(n)


def _rerank(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    out["rank"] = np.arange(1, len(out) + 1, dtype="int64")
    return out


def _kpi(value: str, label: str) -> str:
    return f'<div class="gd-kpi"><b>{value}</b><span>{_esc(label)}</span></div>'


def _srcdoc_iframe(page: str, title: str) -> str:
    # inside a double-quoted attribute only & and " need escaping
    doc = page.replace("&", "&amp;").replace('"', "&quot;")
    return (
        f'<iframe class="gd-map" title="{_esc(title)}" '
        f'sandbox="allow-scripts" srcdoc="{doc}"></iframe>'
    )


def _short_sha(sha: str) -> str:
    return f'<code title="{_esc(sha)}">{_esc(sha[:12])}…</code>' if sha else "–"


def build_report(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    atlas: AtlasLike | None = None,
    audit: Any = None,
    matrix: pd.DataFrame | None = None,
    rankings: Mapping[str, pd.DataFrame] | None = None,
    concertation: Any = None,
    sensitivity: pd.DataFrame | None = None,
    table_layer: str | None = "auto",
    within: Mapping[str, Collection[str]] | None = None,
    threshold: float = 0.01,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    params: Mapping[str, object] | None = None,
    region: str | None = None,
    title: str | None = None,
    date: str | None = None,
    include_maps: bool = True,
    include_figures: bool = True,
    simplify_m: float | None = None,
    top: int = 15,
    lang: Lang = "fr",
) -> str:
    """Build the one-file HTML audit report.

    The scores come from the audit (:func:`geodecoupage.metrics.audit`, run here
    on the *atlas* when *audit* is not given): the layer-pair nesting matrix and
    the over-concertation risk of the table layer against the institution
    layers. The report adds the ranking of the most split units of each layer
    (:func:`geodecoupage.maps.split_ranking`) and the threshold-sensitivity
    curves of split units (:func:`split_sensitivity`).

    Parameters
    ----------
    layers
        ``{layer_key: GeoDataFrame}`` in the canonical schema; their ``attrs``
        give titles, vintages, checksums and attributions.
    atlas
        Atlas of (a superset of) these layers.
    audit
        A :class:`geodecoupage.metrics.AuditResult` already computed on *atlas*
        (the CLI passes its own); None runs :func:`geodecoupage.metrics.audit`.
    matrix
        Layer-pair matrix to show instead of the audit's
        ``1 - nesting_index_area``.
    rankings
        ``{layer_key: ranked DataFrame}`` instead of :func:`split_ranking`.
    concertation
        A :class:`~geodecoupage.metrics.concertation.ConcertationRisk` instead
        of the audit's.
    sensitivity
        Curves (index = threshold, one column per curve) instead of
        :func:`split_sensitivity`.
    table_layer
        Layer playing the coordination tables; ``"auto"`` takes ``mrc`` (then
        ``mtl_quartiers``) when present; None skips over-concertation. The
        institutions are the other layers among :data:`INSTITUTION_LAYERS`.
    within
        Study territory ``{layer: codes}`` (e.g. ``{"mrc": codes}`` of one
        region, from :func:`geodecoupage.metrics.region.select_region`): the
        scores and rankings cover the units with atoms inside it.
    threshold
        Significance threshold τ for splits, nesting and concertation.
    thresholds
        Thresholds of the sensitivity sweep.
    params
        Extra parameters to list (e.g. the CLI options).
    region
        Region code the layers were restricted to (shown in the title).
    title
        Report title (default: "Audit des découpages" / "Boundary audit").
    date
        Date shown in the header (none by default: the same inputs give the same
        bytes).
    include_maps
        Embed the interactive maps (the largest part of the file).
    include_figures
        Embed the static figures.
    simplify_m
        Display simplification of the maps and figures (m; None = automatic).
    top
        Rows shown in each ranked table.
    lang
        ``"fr"`` (default) or ``"en"``.

    Returns
    -------
    str
        The complete HTML page.

    Raises
    ------
    InvalidParameterError
        For an empty *layers* mapping, a *table_layer* not in the atlas, or a
        *threshold* outside [0, 0.5].
    """
    lang = check_lang(lang)
    if not layers:
        msg = "layers is empty: give at least one layer to report on."
        raise InvalidParameterError(msg)
    if not 0.0 <= threshold <= 0.5:
        msg = f"threshold must be between 0 and 0.5; got {threshold}."
        raise InvalidParameterError(msg)
    keys = list(layers)
    cached = _CachedAtlas(atlas) if atlas is not None else None
    atlas_keys = [k for k in keys if cached is not None and k in cached.layers]
    names = _names(layers)
    tl = _pick_table_layer(table_layer, keys, atlas_keys)
    sectors = [k for k in atlas_keys if k in INSTITUTION_LAYERS and k != tl]

    if cached is not None and len(atlas_keys) >= 2:
        if audit is None and (matrix is None or concertation is None):
            from geodecoupage.metrics import audit as run_audit

            audit = run_audit(
                cached,
                layers=atlas_keys,
                tables=tl if sectors else None,
                institutions=sectors if sectors else None,
                threshold=threshold,
                within=within,
                names=names,
            )
        inside = _within_units(cached, within, atlas_keys)
        if rankings is None:
            rankings = {
                k: split_ranking(
                    cached,
                    k,
                    others=[o for o in atlas_keys if o != k],
                    names=names,
                    threshold=threshold,
                    lang=lang,
                )
                for k in atlas_keys
            }
            if inside is not None:
                rankings = {
                    k: _rerank(r[r.index.isin(inside.get(k, ()))])
                    for k, r in rankings.items()
                }
        if sensitivity is None:
            sensitivity = split_sensitivity(
                cached, atlas_keys, thresholds=thresholds, units=inside
            )
    if audit is not None:
        if matrix is None:
            matrix = 1.0 - audit.matrix("nesting_index_area")
        if concertation is None:
            concertation = audit.risk
    rankings = dict(rankings or {})

    sections: list[Section] = []
    sections.append(
        _summary_section(layers, rankings, concertation, sensitivity, threshold, lang)
    )
    if matrix is not None:
        sections.append(_matrix_section(matrix, include_figures, lang))
    if rankings:
        sections.append(_ranking_section(rankings, top, threshold, lang))
    if concertation is not None:
        sections.append(_concertation_section(concertation, top, lang))
    if include_maps:
        sections.append(
            _maps_section(
                layers,
                cached,
                concertation,
                threshold,
                simplify_m,
                territory_bounds(cached, within),
                lang,
            )
        )
    if include_figures:
        fig_section = _figures_section(
            layers, rankings, concertation, sensitivity, simplify_m, region, lang
        )
        if fig_section is not None:
            sections.append(fig_section)
    sections.append(
        _params_section(
            params,
            cached,
            audit,
            concertation,
            threshold,
            region,
            simplify_m,
            lang,
        )
    )
    sections.append(_data_section(layers, lang))

    default_title = pick(lang, fr="Audit des découpages", en="Boundary audit")
    page_title = title or default_title
    if region and not title:
        page_title += pick(lang, fr=f" — région {region}", en=f" — region {region}")
    n_units = sum(len(g) for g in layers.values())
    subtitle = pick(
        lang,
        fr=f"{len(keys)} couches, {fmt_int(n_units, lang)} unités : {', '.join(keys)}",
        en=f"{len(keys)} layers, {fmt_int(n_units, lang)} units: {', '.join(keys)}",
    )
    if date:
        subtitle += f" · {date}"
    toc = "".join(f'<a href="#{s.id}">{_esc(s.title)}</a>' for s in sections)
    body = "\n".join(
        f'<section id="{s.id}"><h2>{_esc(s.title)}</h2>{s.html}</section>'
        for s in sections
    )
    version = _version("geodecoupage")
    footer = pick(
        lang,
        fr=f"Produit par geodecoupage {version}. Méthode : docs/methodologie.md. "
        "Fichier autonome : s'ouvre sans connexion.",
        en=f"Made with geodecoupage {version}. Method: docs/methodologie.md. "
        "Self-contained file: opens offline.",
    )
    return PAGE.format(
        lang=lang,
        version=_esc(version),
        title=_esc(page_title),
        css=REPORT_CSS,
        subtitle=_esc(subtitle),
        toc=toc,
        sections=body,
        footer=_esc(footer),
    )


def write_report(
    path: str | os.PathLike[str],
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    overwrite: bool = False,
    **kwargs: Any,
) -> Path:
    """Build the report (see :func:`build_report`) and write it atomically.

    The destination is checked before the (long) build.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    OutputExistsError
        If *path* exists and *overwrite* is false.
    InvalidParameterError
        See :func:`build_report`.
    """
    check_writable(path, overwrite=overwrite)
    page = build_report(layers, **kwargs)
    out = write_text(path, page, overwrite=overwrite)
    logger.info("report written to %s (%.1f MB)", out, len(page.encode()) / 1e6)
    return out


# ---- sections --------------------------------------------------------------------


def _unit_phrase(key: str, code: str, nom: str) -> str:
    return f"{nom} ({code})" if nom and nom != code else code


def _summary_section(
    layers: Mapping[str, gpd.GeoDataFrame],
    rankings: Mapping[str, pd.DataFrame],
    concertation: Any,
    sensitivity: pd.DataFrame | None,
    threshold: float,
    lang: str,
) -> Section:
    kpis = [
        _kpi(fmt_int(len(layers), lang), pick(lang, fr="couches", en="layers")),
        _kpi(
            fmt_int(sum(len(g) for g in layers.values()), lang),
            pick(lang, fr="unités", en="units"),
        ),
    ]
    findings: list[str] = []
    n_split = sum(int((r["n_layers"] > 0).sum()) for r in rankings.values())
    n_ranked = sum(len(r) for r in rankings.values())
    if n_ranked:
        kpis.append(
            _kpi(
                fmt_pct(n_split / n_ranked, 0, lang),
                pick(
                    lang,
                    fr="des unités scindées par une autre couche",
                    en="of units split by another layer",
                ),
            )
        )
    for key, r in rankings.items():
        if r.empty or int(r["n_layers"].iloc[0]) == 0:
            continue
        code = str(r.index[0])
        row = r.iloc[0]
        label = unit_label(key, lang)
        who = _unit_phrase(key, code, str(row.get("nom", "")))
        findings.append(
            pick(
                lang,
                fr=f"<b>{_esc(label)} la plus scindée</b> : {_esc(who)} — coupée par "
                f"{int(row['n_layers'])} couche(s) : {_esc(row['split_by'])}.",
                en=f"<b>Most split {_esc(label)}</b>: {_esc(who)} — cut by "
                f"{int(row['n_layers'])} layer(s): {_esc(row['split_by'])}.",
            )
        )
    if concertation is not None:
        inst = concertation.institutions
        if len(inst):
            best = inst.sort_values(
                ["n_tables", "score"], ascending=[False, False], kind="mergesort"
            ).iloc[:1]
            (layer, code), row = best.index[0], best.iloc[0]
            nom = concertation.names.get(layer, {}).get(code, "")
            who = _unit_phrase(layer, str(code), str(nom))
            tables = unit_label(concertation.table_layer, lang)
            findings.append(
                pick(
                    lang,
                    fr=f"<b>Institution convoquée par le plus de tables</b> : "
                    f"{_esc(who)} ({_esc(layer)}) — {int(row['n_tables'])} tables "
                    f"« {_esc(tables)} ».",
                    en=f"<b>Institution summoned by the most tables</b>: {_esc(who)} "
                    f"({_esc(layer)}) — {int(row['n_tables'])} {_esc(tables)} tables.",
                )
            )
            kpis.append(
                _kpi(
                    fmt_int(int(row["n_tables"]), lang),
                    pick(
                        lang,
                        fr="tables pour une seule institution (max.)",
                        en="tables for one institution (max.)",
                    ),
                )
            )
        if len(concertation.tables):
            code = str(concertation.tables.index[0])
            try:
                expl = concertation.explain_table(code, lang=lang)
            except Exception:  # an explanation is a bonus, never a failure
                expl = code
            findings.append(
                pick(
                    lang,
                    fr="<b>Table la plus chargée</b> : ",
                    en="<b>Heaviest table</b>: ",
                )
                + _esc(expl)
            )
    if not findings:
        findings.append(
            _esc(
                pick(
                    lang,
                    fr="Aucune analyse de superposition : fournissez un atlas "
                    "(build_atlas) pour obtenir les scissions et la surconcertation.",
                    en="No overlay analysis: pass an atlas (build_atlas) to get "
                    "splits and over-concertation.",
                )
            )
        )
    note = pick(
        lang,
        fr=f"Seuil de signification : {fmt_pct(threshold, 1, lang)} (les morceaux plus "
        "petits sont des slivers, ignorés).",
        en=f"Significance threshold: {fmt_pct(threshold, 1, lang)} (smaller pieces are "
        "slivers and ignored).",
    )
    body = (
        f'<div class="gd-kpis">{"".join(kpis)}</div>'
        f'<ul class="gd-findings">{"".join(f"<li>{f}</li>" for f in findings)}</ul>'
        f'<p class="gd-note">{_esc(note)}</p>'
    )
    return Section("resume", pick(lang, fr="Résumé", en="Summary"), body)


def _matrix_section(matrix: pd.DataFrame, with_figure: bool, lang: str) -> Section:
    from geodecoupage.maps.figures import figure_svg, matrix_figure

    matrix = matrix.rename_axis(index=None, columns=None)

    caption = pick(
        lang,
        fr="Part de la superficie des unités de la couche en ligne qui ne "
        "s'emboîtent pas dans une seule unité de la couche en colonne (0 = "
        "emboîtement parfait). Lecture par ligne ; la matrice n'est pas symétrique.",
        en="Area share of the row layer's units that do not nest in a single unit "
        "of the column layer (0 = perfect nesting). Read by row; the matrix is not "
        "symmetric.",
    )
    parts = []
    if with_figure:
        fig = matrix_figure(
            matrix,
            label=pick(lang, fr="non emboîté", en="not nested"),
            vmin=0.0,
            vmax=1.0,
            lang=lang,  # type: ignore[arg-type]
        )
        parts.append(
            f"<figure>{figure_svg(fig)}<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    parts.append(
        '<div class="gd-scroll">'
        + html_table(
            matrix, lang=lang, digits=2, caption=None if with_figure else caption
        )
        + "</div>"
    )
    return Section(
        "matrice",
        pick(lang, fr="Matrice des paires de couches", en="Layer-pair matrix"),
        "".join(parts),
    )


def _ranking_columns(lang: str) -> dict[str, str]:
    return {
        "code": "code",
        "rank": pick(lang, fr="rang", en="rank"),
        "nom": pick(lang, fr="nom", en="name"),
        "n_layers": pick(lang, fr="couches qui la coupent", en="layers cutting it"),
        "n_parts": pick(lang, fr="morceaux", en="pieces"),
        "min_dominant_share": pick(
            lang, fr="part dominante min.", en="min. dominant share"
        ),
        "split_by": pick(lang, fr="coupée par", en="cut by"),
        "crosswalk": pick(lang, fr="répartition", en="crosswalk"),
    }


def _ranking_section(
    rankings: Mapping[str, pd.DataFrame], top: int, threshold: float, lang: str
) -> Section:
    parts = [
        "<p>"
        + _esc(
            pick(
                lang,
                fr="Unités classées de la plus scindée à la moins scindée : nombre "
                "de couches dont une limite traverse l'unité (ni emboîtée ni "
                "contenant des unités entières, seuil "
                f"{fmt_pct(threshold, 1, lang)}), puis nombre de morceaux.",
                en="Units ranked from the most to the least split: number of layers "
                "with a border crossing the unit (neither nested nor made of whole "
                f"units, threshold {fmt_pct(threshold, 1, lang)}), then number of "
                "pieces.",
            )
        )
        + "</p>"
    ]
    cols = [
        "rank",
        "nom",
        "n_layers",
        "n_parts",
        "min_dominant_share",
        "split_by",
        "crosswalk",
    ]
    for key, r in rankings.items():
        shown = r[r["n_layers"] > 0]
        caption = pick(
            lang,
            fr=f"{key} : {len(shown)} unité(s) scindée(s) sur {len(r)}",
            en=f"{key}: {len(shown)} split unit(s) out of {len(r)}",
        )
        if shown.empty:
            parts.append(f"<p><b>{_esc(caption)}</b></p>")
            continue
        frame = shown[[c for c in cols if c in shown.columns]].copy()
        if "min_dominant_share" in frame.columns:
            frame["min_dominant_share"] = [
                fmt_pct(float(v), 0, lang) for v in frame["min_dominant_share"]
            ]
        parts.append(
            '<div class="gd-scroll">'
            + html_table(
                frame,
                lang=lang,
                max_rows=top,
                caption=caption,
                columns=_ranking_columns(lang),
            )
            + "</div>"
        )
    return Section(
        "scissions",
        pick(lang, fr="Unités les plus scindées", en="Most split units"),
        "".join(parts),
    )


def _concertation_section(concertation: Any, top: int, lang: str) -> Section:
    tl = concertation.table_layer
    sectors = ", ".join(concertation.sectors)
    intro = pick(
        lang,
        fr=f"Chaque unité de « {tl} » est lue comme une table de concertation où "
        f"doivent siéger les institutions qui la recoupent ({sectors}). Le score "
        "additionne les partenaires en trop, ceux qui chevauchent la limite et la "
        "part du territoire servie par eux (formule : docs/methodologie.md, Scores).",
        en=f"Each '{tl}' unit is read as a coordination table that the institutions "
        f"overlapping it ({sectors}) must attend. The score adds extra partners, "
        "partners straddling the boundary and the share served through them "
        "(formula: docs/methodologie.md, Scores).",
    )
    parts = [f"<p>{_esc(intro)}</p>"]
    names = {
        "nom": pick(lang, fr="nom", en="name"),
        "n_institutions": pick(lang, fr="institutions", en="institutions"),
        "n_straddling": pick(lang, fr="à cheval", en="straddling"),
        "straddled_share": pick(lang, fr="part à cheval", en="straddled share"),
        "score": "score",
        "rank": pick(lang, fr="rang", en="rank"),
        "explanation": pick(lang, fr="explication", en="explanation"),
        "n_tables": pick(lang, fr="tables", en="tables"),
        "n_eff_tables": pick(lang, fr="tables (effectif)", en="tables (effective)"),
        "dominant_table": pick(lang, fr="table dominante", en="dominant table"),
    }
    try:
        tables = concertation.tables_frame(lang=lang)
        institutions = concertation.institutions_frame(lang=lang)
    except AttributeError:
        tables, institutions = concertation.tables, concertation.institutions
    tcols = ["rank", "nom", "n_institutions", "n_straddling", "score", "explanation"]
    icols = [
        "rank",
        "nom",
        "n_tables",
        "n_eff_tables",
        "dominant_table",
        "score",
        "explanation",
    ]
    parts.append(
        '<div class="gd-scroll">'
        + html_table(
            tables[[c for c in tcols if c in tables.columns]],
            lang=lang,
            max_rows=top,
            digits=2,
            columns=names,
            caption=pick(
                lang,
                fr="Tables les plus chargées",
                en="Most loaded tables",
            ),
        )
        + "</div>"
    )
    parts.append(
        '<div class="gd-scroll">'
        + html_table(
            institutions[[c for c in icols if c in institutions.columns]],
            lang=lang,
            max_rows=top,
            digits=2,
            columns=names,
            caption=pick(
                lang,
                fr="Institutions les plus sollicitées",
                en="Most solicited institutions",
            ),
        )
        + "</div>"
    )
    return Section(
        "surconcertation",
        pick(lang, fr="Surconcertation", en="Over-concertation"),
        "".join(parts),
    )


def _top_institution(concertation: Any) -> tuple[str, str] | None:
    inst = concertation.institutions
    if not len(inst):
        return None
    best = inst.sort_values(
        ["n_tables", "score"], ascending=[False, False], kind="mergesort"
    )
    layer, code = best.index[0]
    return str(layer), str(code)


def _maps_section(
    layers: Mapping[str, gpd.GeoDataFrame],
    atlas: Any,
    concertation: Any,
    threshold: float,
    simplify_m: float | None,
    bounds: tuple[float, float, float, float] | None,
    lang: str,
) -> Section:
    from geodecoupage.maps.explore import overlap_map
    from geodecoupage.maps.offline import render_html

    parts: list[str] = []
    t1 = pick(lang, fr="Superposition des couches", en="Layer overlap")
    m1 = overlap_map(
        layers,
        atlas=atlas,
        threshold=threshold,
        simplify_m=simplify_m,
        title=t1,
        bounds=bounds,
        lang=lang,  # type: ignore[arg-type]
    )
    parts.append(
        f"<figure>{_srcdoc_iframe(render_html(m1), t1)}<figcaption>"
        + _esc(
            pick(
                lang,
                fr="Chaque couche se masque dans le contrôle en haut à droite ; "
                "les unités scindées sont remplies ; survolez une unité pour sa "
                "répartition.",
                en="Toggle each layer in the top-right control; split units are "
                "filled; hover a unit for its crosswalk.",
            )
        )
        + "</figcaption></figure>"
    )
    if concertation is not None and len(concertation.tables):
        tl = concertation.table_layer
        top = _top_institution(concertation)
        shown = {tl: layers[tl]}
        if top is not None and top[0] in layers and top[0] != tl:
            shown[top[0]] = layers[top[0]]
        t2 = pick(
            lang,
            fr=f"Score de surconcertation des tables ({tl})",
            en=f"Over-concertation score of the tables ({tl})",
        )
        scores = {tl: concertation.tables[["score", "n_institutions"]]}
        m2 = overlap_map(
            shown,
            atlas=atlas,
            scores=scores,
            color_by="score",
            threshold=threshold,
            simplify_m=simplify_m,
            title=t2,
            bounds=bounds,
            lang=lang,  # type: ignore[arg-type]
        )
        parts.append(f"<figure>{_srcdoc_iframe(render_html(m2), t2)}</figure>")
    return Section("cartes", pick(lang, fr="Cartes", en="Maps"), "".join(parts))


def _figures_section(
    layers: Mapping[str, gpd.GeoDataFrame],
    rankings: Mapping[str, pd.DataFrame],
    concertation: Any,
    sensitivity: pd.DataFrame | None,
    simplify_m: float | None,
    region: str | None,
    lang: str,
) -> Section | None:
    from geodecoupage.maps.figures import figure_data_uri, figure_svg, overlap_figure

    parts: list[str] = []
    split = {k: list(r.index[r["n_layers"] > 0]) for k, r in rankings.items()}
    highlight: dict[str, list[str]] = {}
    for k, r in rankings.items():
        if len(r) and int(r["n_layers"].iloc[0]) > 0:
            highlight[k] = [str(r.index[0])]
            break
    if concertation is not None:
        top = _top_institution(concertation)
        if top is not None and top[0] in layers:
            highlight.setdefault(top[0], []).append(top[1])
    where = (
        pick(lang, fr=f"région {region}", en=f"region {region}")
        if region
        else pick(lang, fr="territoire étudié", en="study area")
    )
    fig = overlap_figure(
        layers,
        split=split,
        highlight=highlight,
        simplify_m=simplify_m,
        title=pick(lang, fr=f"Superposition — {where}", en=f"Overlap — {where}"),
        lang=lang,  # type: ignore[arg-type]
    )
    caption = pick(
        lang,
        fr="Carte statique : contours de chaque couche, unités scindées en teinte "
        "claire, unité la plus scindée et institution la plus sollicitée encadrées.",
        en="Static map: each layer's outlines, split units lightly filled, the most "
        "split unit and the most solicited institution outlined.",
    )
    parts.append(
        f'<figure><img alt="{_esc(caption)}" src="{figure_data_uri(fig, dpi=110)}">'
        f"<figcaption>{_esc(caption)}</figcaption></figure>"
    )
    if sensitivity is not None and not sensitivity.empty:
        from geodecoupage.maps.figures import sensitivity_figure

        sfig = sensitivity_figure(
            sensitivity,
            ylabel=pick(lang, fr="part des unités scindées", en="share of units split"),
            lang=lang,  # type: ignore[arg-type]
        )
        scap = pick(
            lang,
            fr="Sensibilité au seuil : part des unités de chaque couche scindées "
            "par au moins une autre couche, selon le seuil sous lequel un morceau "
            "est ignoré.",
            en="Threshold sensitivity: share of each layer's units split by at least "
            "one other layer, by the threshold below which a piece is ignored.",
        )
        parts.append(
            f"<figure>{figure_svg(sfig)}<figcaption>{_esc(scap)}</figcaption></figure>"
        )
        parts.append(
            '<div class="gd-scroll">'
            + html_table(sensitivity, lang=lang, digits=3)
            + "</div>"
        )
    return Section("figures", pick(lang, fr="Figures", en="Figures"), "".join(parts))


def _params_section(
    params: Mapping[str, object] | None,
    atlas: Any,
    audit: Any,
    concertation: Any,
    threshold: float,
    region: str | None,
    simplify_m: float | None,
    lang: str,
) -> Section:
    rows: list[tuple[str, str, object]] = [
        ("report", "threshold", threshold),
        ("report", "work_crs", WORK_CRS),
        ("report", "region", region or "–"),
        (
            "report",
            "simplify_m",
            simplify_m if simplify_m is not None else pick(lang, fr="auto", en="auto"),
        ),
        ("report", "geodecoupage", _version("geodecoupage")),
    ]
    for k, v in (params or {}).items():
        rows.append(("options", str(k), v))
    for k, v in dict(getattr(atlas, "params", {}) or {}).items():
        rows.append(("atlas", str(k), v))
    for k, v in dict(getattr(audit, "params", {}) or {}).items():
        rows.append(("audit", str(k), v))
    if audit is None:
        for k, v in dict(getattr(concertation, "params", {}) or {}).items():
            rows.append(("concertation", str(k), v))
    frame = pd.DataFrame(
        {
            pick(lang, fr="source", en="source"): [r[0] for r in rows],
            pick(lang, fr="paramètre", en="parameter"): [r[1] for r in rows],
            pick(lang, fr="valeur", en="value"): [
                _param_text(r[2], lang) for r in rows
            ],
        }
    )
    return Section(
        "parametres",
        pick(lang, fr="Paramètres", en="Parameters"),
        html_table(frame, lang=lang, index=False, max_rows=None),
    )


def _param_text(value: object, lang: str) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return fmt_float(value, 4, lang).rstrip("0").rstrip(",.") or "0"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def _data_section(layers: Mapping[str, gpd.GeoDataFrame], lang: str) -> Section:
    head = [
        pick(lang, fr="couche", en="layer"),
        pick(lang, fr="titre", en="title"),
        pick(lang, fr="millésime", en="vintage"),
        pick(lang, fr="unités", en="units"),
        pick(lang, fr="fichier", en="file"),
        "SHA-256",
    ]
    rows = []
    attributions: list[str] = []
    for key, gdf in layers.items():
        a = gdf.attrs
        ttl = a.get("title_fr" if lang == "fr" else "title_en") or a.get("title_fr", "")
        src = str(a.get("source_path") or "")
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{c}</td>"
                for c in (
                    _esc(key),
                    _esc(ttl),
                    _esc(a.get("vintage", "–")),
                    fmt_int(len(gdf), lang),
                    _esc(Path(src).name if src else "–"),
                    _short_sha(str(a.get("sha256") or "")),
                )
            )
            + "</tr>"
        )
        attr = str(a.get("attribution") or "").strip()
        if attr and attr not in attributions:
            attributions.append(attr)
    table = (
        '<div class="gd-scroll"><table class="gd-table"><thead><tr>'
        + "".join(f"<th>{_esc(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )
    attr_html = (
        "<h3>"
        + _esc(pick(lang, fr="Attributions", en="Attributions"))
        + "</h3><ul>"
        + "".join(f"<li>{_esc(x)}</li>" for x in attributions)
        + "</ul>"
        if attributions
        else ""
    )
    return Section(
        "donnees",
        pick(lang, fr="Données et sources", en="Data and sources"),
        table + attr_html,
    )
