"""Interactive overlap maps (folium): one toggleable layer per boundary layer.

:func:`overlap_map` is the single entry point. It draws every layer as outlines in
its own colour, highlights the units that another displayed layer splits, puts the
unit's crosswalk in its tooltip ("RLS 0612 : 61 % dans CSS A, 39 % dans CSS B"),
colours units by a score (choropleth) or shows groupings, credits every source,
and states the display simplification on the map. See the "Cartes" section of
``docs/methodologie.md``.
"""

from __future__ import annotations

import html
import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from geodecoupage.crs import require_crs, to_work_crs
from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import Lang, check_lang, fmt_float, fmt_int, fmt_pct, pick
from geodecoupage.maps import styles as st
from geodecoupage.maps._deps import import_optional
from geodecoupage.maps._geometry import auto_tolerance_m, display_geometries
from geodecoupage.maps.splits import AtlasLike, Weight, unit_splits

if TYPE_CHECKING:
    import folium

__all__ = ["CROSSWALK_FIELD", "explore_atlas", "explore_grouping", "overlap_map"]

logger = logging.getLogger(__name__)

#: Name of the tooltip field holding a unit's crosswalk text.
CROSSWALK_FIELD = "repartition"


def _check_layers(
    layers: Any, *, allow_empty: bool = False
) -> dict[str, gpd.GeoDataFrame]:
    if not isinstance(layers, Mapping) or (not layers and not allow_empty):
        msg = (
            "layers must be a non-empty mapping {layer_key: GeoDataFrame}, e.g. "
            "{'mrc': read_layer('mrc'), 'rls': read_layer('rls')}; got "
            f"{type(layers).__name__}."
        )
        raise InvalidParameterError(msg)
    out: dict[str, gpd.GeoDataFrame] = {}
    for key, gdf in layers.items():
        if not isinstance(gdf, gpd.GeoDataFrame):
            msg = (
                f"Layer {key!r} must be a GeoDataFrame; got {type(gdf).__name__}. "
                "Read it with geodecoupage.layers.read_layer."
            )
            raise InvalidParameterError(msg)
        require_crs(gdf, name=f"Layer {key!r}")
        out[str(key)] = gdf
    return out


def _scores_by_layer(scores: Any, keys: Sequence[str]) -> dict[str, pd.DataFrame]:
    if scores is None:
        return {}
    if isinstance(scores, pd.Series):
        scores = scores.to_frame()
    if isinstance(scores, Mapping):
        unknown = [k for k in scores if k not in keys]
        if unknown:
            msg = (
                f"scores has layer key(s) {', '.join(map(repr, unknown))} that are "
                f"not on the map; map layers: {', '.join(keys)}."
            )
            raise InvalidParameterError(msg)
        out = {}
        for k, v in scores.items():
            frame = v.to_frame() if isinstance(v, pd.Series) else v
            out[str(k)] = frame.set_axis(frame.index.astype(str), axis=0)
        return out
    if isinstance(scores, pd.DataFrame):
        if "layer" in scores.columns:
            return {
                str(k): g.drop(columns="layer").set_axis(g.index.astype(str), axis=0)
                for k, g in scores.groupby("layer")
                if k in keys
            }
        if isinstance(scores.index, pd.MultiIndex) and "layer" in scores.index.names:
            return {
                str(k): g.droplevel("layer").set_axis(
                    g.droplevel("layer").index.astype(str), axis=0
                )
                for k, g in scores.groupby(level="layer")
                if k in keys
            }
        if len(keys) == 1:
            return {keys[0]: scores.set_axis(scores.index.astype(str), axis=0)}
    msg = (
        "scores must be a mapping {layer_key: DataFrame indexed by unit code}, or a "
        "DataFrame with a 'layer' column or index level (or indexed by code when "
        f"the map has one layer); got {type(scores).__name__}."
    )
    raise InvalidParameterError(msg)


def _population(key: str, gdf: gpd.GeoDataFrame, atlas: Any | None) -> pd.Series | None:
    if "population" in gdf.columns:
        return pd.to_numeric(gdf["population"], errors="coerce").set_axis(
            gdf.index.astype(str)
        )
    if atlas is not None and key in getattr(atlas, "layers", ()):
        try:
            totals = atlas.unit_totals(key)
        except Exception as err:  # an atlas without population support
            logger.debug("no unit totals for %s: %s", key, err)
            return None
        if isinstance(totals, pd.DataFrame) and "population" in totals.columns:
            pop = pd.to_numeric(totals["population"], errors="coerce")
            if pop.notna().any():
                return pop.set_axis(totals.index.astype(str))
    return None


def _fmt_value(value: Any, lang: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool | np.bool_):
        return (
            pick(lang, fr="oui", en="yes") if value else pick(lang, fr="non", en="no")
        )
    if isinstance(value, int | np.integer):
        return fmt_int(int(value), lang)
    if isinstance(value, float | np.floating):
        v = float(value)
        if v.is_integer() and abs(v) >= 100:
            return fmt_int(v, lang)
        return fmt_float(v, 3, lang)
    try:
        if pd.isna(value):
            return "–"
    except (TypeError, ValueError):
        pass
    return html.escape(str(value))


def _numeric(series: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(series)) and not bool(
        pd.api.types.is_bool_dtype(series)
    )


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def overlap_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    atlas: AtlasLike | None = None,
    scores: Mapping[str, pd.DataFrame] | pd.DataFrame | None = None,
    color_by: str | None = None,
    bins: int | Sequence[float] = 5,
    grouping: Any = None,
    tooltip: Sequence[str] | None = None,
    threshold: float = 0.01,
    weight: Weight = "area",
    simplify_m: float | None = None,
    tiles: str | None = None,
    title: str | None = None,
    style: st.MapStyle | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    self_contained: bool = True,
    lang: Lang = "fr",
    m: folium.Map | None = None,
) -> folium.Map:
    """Return an interactive map of boundary layers and where they fail to nest.

    Each layer is a toggleable ``FeatureGroup`` named by its layer key, drawn as
    outlines in its own colour. With an *atlas*, units that another displayed
    layer splits are highlighted (thicker outline, stronger fill) and each tooltip
    gives the unit's crosswalk against every other layer.

    Parameters
    ----------
    layers
        ``{layer_key: GeoDataFrame}`` in the canonical schema (index = code,
        column ``nom``); any CRS. Drawn in this order (last on top).
    atlas
        Atlas built on (a superset of) these layers; enables split highlighting,
        crosswalk tooltips and populations.
    scores
        Per-unit values to show or colour by: ``{layer_key: DataFrame}`` indexed by
        unit code, or one DataFrame with a ``layer`` column or index level.
    color_by
        Column (of *scores* or of the layers) to colour units by: a choropleth with
        a legend for numbers, distinct colours for categories.
    bins
        Choropleth classes: a count (equal widths, at most 7) or the edges.
    grouping
        Groups to outline on top: a GeoDataFrame (one row per group) or an object
        with a ``groups`` GeoDataFrame (e.g. a grouping proposal). Drawn as a
        layer named "regroupement" ("grouping" in English) so the before (the
        layers) and after (the groups) can be toggled.
    tooltip
        Fields shown on hover. Default: code, nom, population (when known),
        *color_by*, and the crosswalk. Names must be available columns.
    threshold
        Pieces below this share of a unit are slivers: ignored for splits and
        crosswalk sentences.
    weight
        Crosswalk shares by ``"area"`` or ``"population"``.
    simplify_m
        Display simplification tolerance in metres (EPSG:32198); None picks about
        1/10 000 of the extent (~200 m for the province). 0 keeps full detail.
        The value used is stated on the map.
    tiles
        A folium tile layer name or URL; default none (works offline).
    title
        Title shown in the legend box.
    style
        Stroke and fill settings.
    bounds
        Initial view ``(west, south, east, north)`` in degrees (e.g. the region
        of an audit); default: every layer's extent.
    self_contained
        Inline Leaflet from the ``xstatic-leaflet`` package so the saved HTML
        needs no network (see :mod:`geodecoupage.maps.offline`).
    lang
        ``"fr"`` (default) or ``"en"`` for every label.
    m
        An existing map to add the layers to.

    Returns
    -------
    folium.Map
        The map; save it with :func:`geodecoupage.maps.save_map`.

    Raises
    ------
    InvalidParameterError
        For an empty or malformed *layers* mapping, a *tooltip* or *color_by*
        column that no layer has (the message lists the available columns), a
        *threshold* outside [0, 0.5], or a negative *simplify_m*.
    MissingCRSError
        If a layer has no CRS.
    ImportError
        If folium (or, with *self_contained*, xstatic-leaflet) is not installed.

    Examples
    --------
    >>> from geodecoupage.maps import overlap_map, save_map
    >>> m = overlap_map({"mrc": mrc, "rls": rls}, atlas=atlas)  # doctest: +SKIP
    >>> save_map(m, "carte.html")  # doctest: +SKIP
    """
    lang = check_lang(lang)
    folium = import_optional("folium")
    from geodecoupage.maps import _elements as el

    frames = _check_layers(layers, allow_empty=grouping is not None)
    keys = list(frames)
    if not 0.0 <= threshold <= 0.5:
        msg = f"threshold must be between 0 and 0.5; got {threshold}."
        raise InvalidParameterError(msg)
    if weight not in ("area", "population"):
        msg = f"weight must be 'area' or 'population'; got {weight!r}."
        raise InvalidParameterError(msg)
    style = style or st.MapStyle()
    score_frames = _scores_by_layer(scores, keys)
    work = {k: to_work_crs(g, name=f"Layer {k!r}") for k, g in frames.items()}

    # ---- per-unit attribute tables ---------------------------------------------
    tables: dict[str, pd.DataFrame] = {}
    for key, gdf in work.items():
        codes = gdf.index.astype(str)
        table = pd.DataFrame(index=pd.Index(codes, name="code"))
        table["code"] = codes
        table["nom"] = (
            gdf["nom"].astype("string").to_numpy() if "nom" in gdf.columns else pd.NA
        )
        pop = _population(key, gdf, atlas)
        if pop is not None:
            table["population"] = pop.reindex(codes).to_numpy()
        extra = [
            c
            for c in gdf.columns
            if c not in {"nom", "population", "layer", gdf.geometry.name}
        ]
        for c in extra:
            table[c] = gdf[c].to_numpy()
        if key in score_frames:
            sc = score_frames[key]
            for c in sc.columns:
                if c not in {"code", "nom"}:
                    table[c] = sc[c].reindex(codes).to_numpy()
        tables[key] = table

    available = sorted({c for t in tables.values() for c in t.columns})
    if color_by is not None and color_by not in available:
        msg = (
            f"color_by={color_by!r} is not a column of the layers or scores. "
            f"Available columns: {', '.join(available)}."
        )
        raise InvalidParameterError(msg)
    if tooltip is not None:
        bad = [c for c in tooltip if c not in available and c != CROSSWALK_FIELD]
        if bad:
            msg = (
                f"tooltip column(s) {', '.join(map(repr, bad))} not found in the "
                f"layers or scores. Available columns: "
                f"{', '.join([*available, CROSSWALK_FIELD])}."
            )
            raise InvalidParameterError(msg)

    # ---- splits and crosswalk sentences ------------------------------------------
    atlas_keys = [k for k in keys if atlas is not None and k in atlas.layers]
    for key in keys:
        tables[key]["split"] = False
        tables[key][CROSSWALK_FIELD] = ""
    if atlas is not None:
        for source in atlas_keys:
            names_by_target = {
                t: dict(
                    zip(tables[t]["code"], tables[t]["nom"].fillna(""), strict=True)
                )
                for t in atlas_keys
            }
            lines: list[pd.Series] = []
            for target in atlas_keys:
                if target == source:
                    continue
                us = unit_splits(
                    atlas,
                    source,
                    target,
                    names={c: n for c, n in names_by_target[target].items() if n},
                    threshold=threshold,
                    weight=weight,
                    lang=lang,
                )
                flags = us.split.reindex(tables[source].index, fill_value=False)
                tables[source]["split"] = tables[source]["split"] | flags.astype(bool)
                lines.append(us.text.map(_esc).reindex(tables[source].index))
            if lines:
                joined = pd.concat(lines, axis=1).apply(
                    lambda row: "<br>".join(v for v in row if isinstance(v, str)),
                    axis=1,
                )
                tables[source][CROSSWALK_FIELD] = joined.fillna("").to_numpy()

    # ---- colour scale --------------------------------------------------------------
    edges: list[float] | None = None
    categories: dict[str, str] = {}
    if color_by is not None:
        cols = [t[color_by] for t in tables.values() if color_by in t.columns]
        allv = pd.concat(cols, ignore_index=True)
        if _numeric(allv):
            edges = st.bin_edges(pd.to_numeric(allv, errors="coerce").tolist(), bins)
        else:
            cats = sorted({str(v) for v in allv.dropna()})
            palette = st.GROUP_COLORS
            categories = {c: palette[i % len(palette)] for i, c in enumerate(cats)}

    # ---- geometry for display --------------------------------------------------------
    extents = [g.total_bounds for g in work.values() if len(g)]
    if grouping is not None:
        groups = _grouping_frame(grouping)
        if groups.crs is not None and groups.geometry.notna().any():
            extents.append(to_work_crs(groups, name="grouping").total_bounds)
    total = np.array(extents)
    if total.size == 0:
        msg = "Every layer is empty: nothing to map."
        raise InvalidParameterError(msg)
    work_bounds = (
        float(total[:, 0].min()),
        float(total[:, 1].min()),
        float(total[:, 2].max()),
        float(total[:, 3].max()),
    )
    tol = auto_tolerance_m(work_bounds) if simplify_m is None else float(simplify_m)
    colors = st.layer_colors(keys)

    if m is None:
        m = folium.Map(tiles=None, control_scale=True, zoom_start=6)
        if tiles is not None:
            folium.TileLayer(tiles).add_to(m)
    elif tiles is not None:
        folium.TileLayer(tiles).add_to(m)

    lonlat_bounds: list[list[float]] = []
    methods: set[str] = set()
    for key in keys:
        geoms, method = display_geometries(
            work[key], tolerance_m=tol, name=f"Layer {key!r}"
        )
        methods.add(method)
        table = tables[key]
        fields = _tooltip_fields(table, tooltip, color_by, atlas is not None)
        aliases = [_alias(f, lang) for f in fields]
        features = []
        styles: dict[str, dict[str, Any]] = {}
        for (code, row), geom in zip(table.iterrows(), geoms.array, strict=True):
            if geom is None or shapely.is_empty(geom):
                continue
            props = {f: _prop(row, f, lang) for f in fields}
            features.append(
                {
                    "type": "Feature",
                    "id": str(code),
                    "properties": props,
                    "geometry": shapely.geometry.mapping(geom),
                }
            )
            styles[str(code)] = _unit_style(
                row, colors[key], style, color_by, edges, categories
            )
        if len(geoms):
            b = geoms[~geoms.is_empty].total_bounds
            if np.all(np.isfinite(b)):
                lonlat_bounds += [[b[1], b[0]], [b[3], b[2]]]
        fg = folium.FeatureGroup(name=key, show=True)
        fc = {"type": "FeatureCollection", "features": features}
        if features:
            hi = {"weight": style.highlight_weight, "fillOpacity": 0.45}
            folium.GeoJson(
                fc,
                name=key,
                style_function=lambda f, _s=styles: _s[str(f["id"])],
                highlight_function=lambda f, _h=hi: _h,
                tooltip=folium.GeoJsonTooltip(
                    fields=fields, aliases=aliases, sticky=True, labels=True
                ),
                zoom_on_click=False,
            ).add_to(fg)
        fg.add_to(m)

    if grouping is not None:
        _add_grouping(m, grouping, tol, lang, folium)

    # ---- legend, notes, attributions ------------------------------------------
    legend = _legend_html(
        keys,
        colors,
        frames,
        style,
        color_by,
        edges,
        categories,
        tol,
        title,
        atlas is not None,
        threshold,
        lang,
    )
    el.HtmlControl(legend, position="bottomright", css_class="gd-legend").add_to(m)
    seen: list[str] = []
    for gdf in frames.values():
        attr = str(gdf.attrs.get("attribution") or "").strip()
        if attr and attr not in seen:
            seen.append(attr)
    for attr in seen:
        el.Attribution(_esc(attr)).add_to(m)
    el.Attribution(
        _esc(
            pick(
                lang,
                fr=f"Géométries simplifiées à {fmt_int(tol, lang)} m pour l'affichage",
                en=f"Geometry simplified to {fmt_int(tol, lang)} m for display",
            )
        )
    ).add_to(m)

    for name, child in list(m._children.items()):
        if type(child).__name__ == "LayerControl":
            del m._children[name]
    folium.LayerControl(collapsed=False).add_to(m)
    if bounds is not None:
        west, south, east, north = (float(b) for b in bounds)
        lonlat_bounds = [[south, west], [north, east]]
    if lonlat_bounds:
        arr = np.array(lonlat_bounds, dtype="float64")
        fit = [
            [float(arr[:, 0].min()), float(arr[:, 1].min())],
            [float(arr[:, 0].max()), float(arr[:, 1].max())],
        ]
        m.fit_bounds(fit)
        el.FitWhenVisible(fit).add_to(m)
    logger.info(
        "overlap map: %d layer(s), simplified to %g m (%s)",
        len(keys),
        tol,
        ", ".join(sorted(methods)),
    )
    if self_contained:
        from geodecoupage.maps.offline import make_self_contained

        make_self_contained(m)
    return m


_ALIASES: dict[str, tuple[str, str]] = {
    "code": ("Code", "Code"),
    "nom": ("Nom", "Name"),
    "population": ("Population", "Population"),
    "split": ("Scindée", "Split"),
    CROSSWALK_FIELD: ("Répartition", "Crosswalk"),
}


def _alias(field: str, lang: str) -> str:
    fr, en = _ALIASES.get(field, (field, field))
    return _esc(fr if lang == "fr" else en)


def _tooltip_fields(
    table: pd.DataFrame,
    tooltip: Sequence[str] | None,
    color_by: str | None,
    with_atlas: bool,
) -> list[str]:
    if tooltip is not None:
        return [c for c in tooltip if c in table.columns]
    fields = ["code", "nom"]
    if "population" in table.columns and table["population"].notna().any():
        fields.append("population")
    if color_by is not None and color_by in table.columns and color_by not in fields:
        fields.append(color_by)
    if with_atlas:
        fields.append(CROSSWALK_FIELD)
    return fields


def _prop(row: pd.Series, field: str, lang: str) -> str:
    value = row.get(field)
    if field == CROSSWALK_FIELD:
        return str(value or "")  # already escaped HTML
    if field == "code":
        return _esc(value)
    return _fmt_value(value, lang)


def _unit_style(
    row: pd.Series,
    color: str,
    style: st.MapStyle,
    color_by: str | None,
    edges: list[float] | None,
    categories: Mapping[str, str],
) -> dict[str, Any]:
    split = bool(row.get("split", False))
    out: dict[str, Any] = {
        "color": color,
        "weight": style.split_weight if split else style.weight,
        "opacity": 0.9,
        "fillColor": color,
        "fillOpacity": style.split_fill_opacity if split else style.fill_opacity,
    }
    if color_by is not None and color_by in row.index:
        value = row[color_by]
        if edges is not None:
            v = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
            out["fillColor"] = st.class_color(None if pd.isna(v) else float(v), edges)
        else:
            out["fillColor"] = (
                st.MISSING_COLOR if pd.isna(value) else categories[str(value)]
            )
        out["fillOpacity"] = style.choropleth_opacity
    return out


def _grouping_frame(grouping: Any) -> gpd.GeoDataFrame:
    groups = grouping if isinstance(grouping, gpd.GeoDataFrame) else None
    if groups is None and isinstance(
        getattr(grouping, "groups", None), gpd.GeoDataFrame
    ):
        groups = grouping.groups
    if groups is not None:
        if groups.geometry.isna().all():
            msg = (
                "The grouping has no geometry (built without it); rebuild it with "
                "geometry, or map its units coloured by group instead."
            )
            raise InvalidParameterError(msg)
        return groups
    msg = (
        "grouping must be a GeoDataFrame with one row per group, or an object "
        f"with a 'groups' GeoDataFrame (a grouping proposal); got "
        f"{type(grouping).__name__}."
    )
    raise InvalidParameterError(msg)


def _add_grouping(m: Any, grouping: Any, tol: float, lang: str, folium: Any) -> None:
    groups = _grouping_frame(grouping)
    require_crs(groups, name="grouping")
    geoms, _ = display_geometries(groups, tolerance_m=tol, name="grouping")
    name = pick(lang, fr="regroupement", en="grouping")
    numeric = [
        c for c in groups.columns if c != groups.geometry.name and _numeric(groups[c])
    ][:4]
    fields = ["code", *(["nom"] if "nom" in groups.columns else []), *numeric]
    features = []
    styles: dict[str, dict[str, Any]] = {}
    for i, ((code, row), geom) in enumerate(
        zip(groups.iterrows(), geoms.array, strict=True)
    ):
        if geom is None or shapely.is_empty(geom):
            continue
        props = {"code": _esc(code)}
        for f in fields[1:]:
            props[f] = _fmt_value(row[f], lang)
        features.append(
            {
                "type": "Feature",
                "id": str(code),
                "properties": props,
                "geometry": shapely.geometry.mapping(geom),
            }
        )
        color = st.GROUP_COLORS[i % len(st.GROUP_COLORS)]
        styles[str(code)] = {
            "color": "#000000",
            "weight": 3.5,
            "dashArray": "8 5",
            "fillColor": color,
            "fillOpacity": 0.25,
        }
    fg = folium.FeatureGroup(name=name, show=True)
    if features:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            name=name,
            style_function=lambda f, _s=styles: _s[str(f["id"])],
            tooltip=folium.GeoJsonTooltip(
                fields=fields, aliases=[_alias(f, lang) for f in fields], sticky=True
            ),
        ).add_to(fg)
    fg.add_to(m)


def _legend_html(
    keys: Sequence[str],
    colors: Mapping[str, str],
    frames: Mapping[str, gpd.GeoDataFrame],
    style: st.MapStyle,
    color_by: str | None,
    edges: list[float] | None,
    categories: Mapping[str, str],
    tol: float,
    title: str | None,
    with_atlas: bool,
    threshold: float,
    lang: str,
) -> str:
    parts: list[str] = []
    if title:
        parts.append(f"<h4>{_esc(title)}</h4>")
    for key in keys:
        attrs = frames[key].attrs
        label = attrs.get("title_fr" if lang == "fr" else "title_en") or key
        parts.append(
            f'<div class="gd-row"><span class="gd-sw" style="border-color:'
            f'{colors[key]};background:transparent"></span>{_esc(key)} – '
            f"{_esc(label)}</div>"
        )
    if with_atlas:
        pct = fmt_pct(threshold, 1, lang)
        parts.append(
            '<div class="gd-row"><span class="gd-sw" style="border-color:#555;'
            f'background:rgba(85,85,85,{style.split_fill_opacity})"></span>'
            + _esc(
                pick(
                    lang,
                    fr=f"unité scindée par une autre couche (seuil {pct})",
                    en=f"unit split by another layer (threshold {pct})",
                )
            )
            + "</div>"
        )
    if color_by is not None:
        parts.append(f"<h4>{_esc(color_by)}</h4>")
        if edges is not None:
            for i, c in enumerate(st.class_colors(edges)):
                lo, hi = edges[i], edges[i + 1]
                parts.append(
                    f'<div class="gd-row"><span class="gd-sw" style="border-color:'
                    f'{c};background:{c}"></span>{fmt_float(lo, 2, lang)} – '
                    f"{fmt_float(hi, 2, lang)}</div>"
                )
        else:
            shown = list(categories.items())[:12]
            for cat, c in shown:
                parts.append(
                    f'<div class="gd-row"><span class="gd-sw" style="border-color:'
                    f'{c};background:{c}"></span>{_esc(cat)}</div>'
                )
            if len(categories) > len(shown):
                parts.append(f"<div>… (+{len(categories) - len(shown)})</div>")
        parts.append(
            f'<div class="gd-row"><span class="gd-sw" style="border-color:'
            f'{st.MISSING_COLOR};background:{st.MISSING_COLOR}"></span>'
            + _esc(pick(lang, fr="sans valeur", en="no value"))
            + "</div>"
        )
    parts.append(
        '<div class="gd-note">'
        + _esc(
            pick(
                lang,
                fr=f"Géométries simplifiées à {fmt_int(tol, lang)} m (EPSG:32198), "
                "pour l'affichage seulement.",
                en=f"Geometry simplified to {fmt_int(tol, lang)} m (EPSG:32198), "
                "for display only.",
            )
        )
        + "</div>"
    )
    return "".join(parts)


def explore_atlas(
    atlas: Any,
    *,
    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    **kwargs: Any,
) -> folium.Map:
    """Return the overlap map of an atlas (the ``Atlas.explore()`` hook).

    Parameters
    ----------
    atlas
        An atlas (``atoms`` GeoDataFrame with one code column per layer).
    layers
        The layers to draw; default: rebuilt by dissolving the atoms of each
        atlas layer (codes only, no names).
    **kwargs
        Passed to :func:`overlap_map`.

    Returns
    -------
    folium.Map
        The map.
    """
    if layers is None:
        atoms = atlas.atoms
        built: dict[str, gpd.GeoDataFrame] = {}
        for key in atlas.layers:
            sub = atoms.loc[atoms[key].notna(), [key, atoms.geometry.name]]
            g = sub.dissolve(by=key)
            g.index = g.index.astype(str)
            g.index.name = "code"
            built[key] = g
        layers = built
    return overlap_map(layers, atlas=atlas, **kwargs)


def explore_grouping(
    proposal: Any,
    *,
    layers: Mapping[str, gpd.GeoDataFrame] | None = None,
    **kwargs: Any,
) -> folium.Map:
    """Return a map of a grouping proposal over *layers* (before/after).

    The ``GroupingProposal.explore()`` hook: the groups are one toggleable layer
    ("regroupement"), drawn over the given layers.

    Returns
    -------
    folium.Map
        The map.
    """
    return overlap_map(layers or {}, grouping=proposal, **kwargs)
