"""Colours, labels and style rules shared by interactive maps and static figures.

Layer colours are fixed per layer key, so the same layer keeps its colour in every
map, figure and report. They come from colour-blind-safe palettes (Okabe-Ito and
Paul Tol's "muted"), chosen to stay readable as outlines on a white background.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import check_lang

__all__ = [
    "LAYER_COLORS",
    "MISSING_COLOR",
    "SEQUENTIAL",
    "MapStyle",
    "bin_edges",
    "class_color",
    "layer_colors",
    "unit_label",
]

#: One colour per canonical layer key (outline and light fill).
LAYER_COLORS: dict[str, str] = {
    "regions": "#222222",
    "mrc": "#0072B2",
    "municipalites": "#7F7F7F",
    "rss": "#882255",
    "cisss": "#AA4499",
    "rls": "#D55E00",
    "clsc": "#CC6677",
    "css": "#009E73",
    "cs_anglo": "#117733",
    "cs_statut": "#44AA99",
    "mtl_arrondissements": "#332288",
    "mtl_quartiers": "#E69F00",
}
#: Colours for layer keys outside the catalogue (user layers), in order.
_EXTRA_COLORS = ("#6A3D9A", "#B15928", "#1F78B4", "#33A02C", "#E31A1C", "#FF7F00")
#: Sequential scale (ColorBrewer YlOrRd, 7 classes) for choropleths.
SEQUENTIAL: tuple[str, ...] = (
    "#ffffb2",
    "#fed976",
    "#feb24c",
    "#fd8d3c",
    "#fc4e2a",
    "#e31a1c",
    "#b10026",
)
#: Fill for units without a value in choropleth mode.
MISSING_COLOR = "#d9d9d9"
#: Qualitative palette for groups (Paul Tol "muted" + "light").
GROUP_COLORS: tuple[str, ...] = (
    "#CC6677",
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
    "#77AADD",
    "#EE8866",
    "#BBCC33",
)

_UNIT_LABELS: dict[str, tuple[str, str]] = {
    "regions": ("Région", "Region"),
    "mrc": ("MRC", "RCM"),
    "municipalites": ("Municipalité", "Municipality"),
    "rss": ("RSS", "RSS"),
    "cisss": ("CISSS", "CISSS"),
    "rls": ("RLS", "RLS"),
    "clsc": ("CLSC", "CLSC"),
    "css": ("CSS", "CSS"),
    "cs_anglo": ("CS anglophone", "English school board"),
    "cs_statut": ("CS à statut particulier", "Special-status school board"),
    "mtl_arrondissements": ("Arrondissement", "Borough"),
    "mtl_quartiers": ("Quartier", "Neighbourhood"),
}


def unit_label(key: str, lang: str = "fr") -> str:
    """Return the short name of one unit of layer *key* ("RLS", "Municipalité").

    Unknown keys are returned unchanged.
    """
    fr, en = _UNIT_LABELS.get(key, (key, key))
    return fr if check_lang(lang) == "fr" else en


def layer_colors(keys: Iterable[str]) -> dict[str, str]:
    """Return a colour per layer key: the fixed one, or the next spare colour."""
    out: dict[str, str] = {}
    spare = iter(_EXTRA_COLORS * 4)
    for key in keys:
        out[key] = LAYER_COLORS.get(key) or next(spare)
    return out


@dataclass(frozen=True)
class MapStyle:
    """Stroke and fill settings of an overlap map.

    Attributes
    ----------
    weight
        Outline width (pixels) of ordinary units.
    split_weight
        Outline width of split units.
    fill_opacity
        Fill opacity of ordinary units (low: outlines carry the information).
    split_fill_opacity
        Fill opacity of split units (highlighted).
    choropleth_opacity
        Fill opacity in choropleth mode.
    highlight_weight
        Outline width under the mouse.
    """

    weight: float = 1.2
    split_weight: float = 2.5
    fill_opacity: float = 0.04
    split_fill_opacity: float = 0.35
    choropleth_opacity: float = 0.75
    highlight_weight: float = 4.0


def bin_edges(values: Sequence[float], bins: int | Sequence[float] = 5) -> list[float]:
    """Return class edges for a choropleth.

    Parameters
    ----------
    values
        The finite values to classify (NaN are ignored).
    bins
        Number of equal-width classes between the minimum and maximum, or the
        explicit increasing edges.

    Returns
    -------
    list of float
        ``n + 1`` increasing edges.

    Raises
    ------
    InvalidParameterError
        If *bins* is not a positive count up to 7 or an increasing sequence of at
        least two edges.
    """
    if isinstance(bins, int):
        if not 1 <= bins <= len(SEQUENTIAL):
            msg = f"bins must be between 1 and {len(SEQUENTIAL)}; got {bins}."
            raise InvalidParameterError(msg)
        finite = [float(v) for v in values if v is not None and math.isfinite(v)]
        lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        step = (hi - lo) / bins
        return [lo + i * step for i in range(bins)] + [hi]
    edges = [float(b) for b in bins]
    if len(edges) < 2 or any(b >= a for a, b in zip(edges[1:], edges, strict=False)):
        msg = f"bins edges must be increasing with at least two values; got {edges}."
        raise InvalidParameterError(msg)
    if len(edges) - 1 > len(SEQUENTIAL):
        msg = f"at most {len(SEQUENTIAL)} classes are supported; got {len(edges) - 1}."
        raise InvalidParameterError(msg)
    return edges


def _palette(n: int) -> list[str]:
    if n == 1:
        return [SEQUENTIAL[-2]]
    return [SEQUENTIAL[round(i * (len(SEQUENTIAL) - 1) / (n - 1))] for i in range(n)]


def class_color(value: float | None, edges: Sequence[float]) -> str:
    """Return the sequential colour of *value* for classes bounded by *edges*.

    Values below the first edge take the first class and above the last edge the
    last one; None or NaN give :data:`MISSING_COLOR`.
    """
    if value is None or not math.isfinite(value):
        return MISSING_COLOR
    n = len(edges) - 1
    colors = _palette(n)
    for i in range(n):
        if value < edges[i + 1]:
            return colors[i]
    return colors[-1]


def class_colors(edges: Sequence[float]) -> list[str]:
    """Return the colour of each class bounded by *edges* (for the legend)."""
    return _palette(len(edges) - 1)
