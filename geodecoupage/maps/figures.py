"""Static figures (matplotlib, no pyplot): pair matrix, sensitivity curves, maps.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot
(no global state, no GUI backend), so figures are safe in scripts, tests and
servers. :func:`save_figure` writes PNG or SVG atomically; :func:`figure_svg` and
:func:`figure_data_uri` embed a figure in HTML (the audit report does).
"""

from __future__ import annotations

import base64
import io
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

import geopandas as gpd

from geodecoupage._io import atomic_path
from geodecoupage.crs import require_crs, to_work_crs
from geodecoupage.errors import InvalidParameterError
from geodecoupage.i18n import Lang, check_lang, fmt_float, fmt_int, pick
from geodecoupage.maps import styles as st
from geodecoupage.maps._deps import import_optional
from geodecoupage.maps._geometry import auto_tolerance_m, simplify_layer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "figure_data_uri",
    "figure_svg",
    "matrix_figure",
    "overlap_figure",
    "save_figure",
    "sensitivity_figure",
]

logger = logging.getLogger(__name__)

FigureFormat = Literal["png", "svg"]
_FORMATS: tuple[str, ...] = ("png", "svg")


def _figure(figsize: tuple[float, float]) -> Figure:
    mfig = import_optional("matplotlib.figure", purpose="Figures")
    fig: Figure = mfig.Figure(figsize=figsize, layout="constrained")
    return fig


def matrix_figure(
    matrix: pd.DataFrame,
    *,
    title: str | None = None,
    label: str | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = None,
    digits: int = 2,
    cmap: str = "YlOrRd",
    lang: Lang = "fr",
) -> Figure:
    """Draw a layer-pair matrix (e.g. incoherence of each pair) as a heat map.

    Parameters
    ----------
    matrix
        Square or rectangular numeric table; rows and columns are layer keys.
        NaN cells (e.g. the diagonal) are drawn grey and left blank.
    title
        Figure title.
    label
        Colour-bar label.
    vmin, vmax
        Colour range; None uses the data range.
    digits
        Decimals printed in each cell.
    cmap
        Matplotlib colour map name.
    lang
        Number format of the annotations.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.

    Raises
    ------
    InvalidParameterError
        If *matrix* is empty or not numeric.
    """
    check_lang(lang)
    if matrix.empty:
        msg = "matrix is empty: nothing to draw."
        raise InvalidParameterError(msg)
    try:
        values = matrix.to_numpy(dtype="float64")
    except (TypeError, ValueError) as err:
        msg = (
            f"matrix must hold numbers; columns: {', '.join(map(str, matrix.columns))}."
        )
        raise InvalidParameterError(msg) from err
    n_rows, n_cols = values.shape
    fig = _figure((1.6 + 0.75 * n_cols, 1.2 + 0.6 * n_rows))
    ax = fig.add_subplot()
    masked = np.ma.masked_invalid(values)
    mcm = import_optional("matplotlib", purpose="Figures")
    cm = mcm.colormaps[cmap].with_extremes(bad="#e6e6e6")
    finite = values[np.isfinite(values)]
    lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    if hi <= lo:
        hi = lo + 1.0
    image = ax.imshow(masked, cmap=cm, vmin=lo, vmax=hi, aspect="auto")
    ax.set_xticks(
        range(n_cols), [str(c) for c in matrix.columns], rotation=40, ha="right"
    )
    ax.set_yticks(range(n_rows), [str(r) for r in matrix.index])
    if matrix.columns.name:
        ax.set_xlabel(str(matrix.columns.name))
    if matrix.index.name:
        ax.set_ylabel(str(matrix.index.name))
    for i in range(n_rows):
        for j in range(n_cols):
            v = values[i, j]
            if np.isfinite(v):
                dark = (v - lo) / (hi - lo) > 0.6
                ax.text(
                    j,
                    i,
                    fmt_float(v, digits, lang),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
    cbar = fig.colorbar(image, ax=ax, shrink=0.85)
    if label:
        cbar.set_label(label)
    if title:
        ax.set_title(title)
    return fig


def sensitivity_figure(
    curves: pd.DataFrame | pd.Series,
    *,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    percent_x: bool = True,
    lang: Lang = "fr",
) -> Figure:
    """Draw threshold-sensitivity curves: one line per column, threshold on x.

    Parameters
    ----------
    curves
        Indexed by threshold (share, e.g. 0, 0.001, 0.01, 0.05); one column per
        curve (e.g. per layer pair). A Series is one curve.
    title, xlabel, ylabel
        Texts; *xlabel* defaults to "Seuil" / "Threshold".
    percent_x
        Label the thresholds as percentages.
    lang
        Language of the default labels and number format.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. The x axis is logarithmic (linear near 0 when 0 is present)
        when thresholds span more than a factor 20.

    Raises
    ------
    InvalidParameterError
        If *curves* is empty or its index is not numeric.
    """
    check_lang(lang)
    frame = curves.to_frame() if isinstance(curves, pd.Series) else curves
    if frame.empty:
        msg = "curves is empty: nothing to draw."
        raise InvalidParameterError(msg)
    try:
        x = np.asarray(frame.index, dtype="float64")
    except (TypeError, ValueError) as err:
        msg = "curves must be indexed by numeric thresholds (e.g. 0, 0.001, 0.01)."
        raise InvalidParameterError(msg) from err
    order = np.argsort(x)
    fig = _figure((6.4, 4.0))
    ax = fig.add_subplot()
    markers = "osD^v<>p"
    for i, col in enumerate(frame.columns):
        y = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")
        ax.plot(x[order], y[order], marker=markers[i % len(markers)], label=str(col))
    positive = x[x > 0]
    if positive.size and positive.max() / positive.min() > 20:
        if (x <= 0).any():
            ax.set_xscale("symlog", linthresh=float(positive.min()))
        else:
            ax.set_xscale("log")
    ax.set_xticks(x[order])
    labels = [
        (fmt_float(100 * v, 1 if 100 * v % 1 else 0, lang) + " %")
        if percent_x
        else fmt_float(v, 3, lang)
        for v in x[order]
    ]
    ax.set_xticklabels(labels, rotation=0)
    ax.set_xlabel(xlabel or pick(lang, fr="Seuil", en="Threshold"))
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if len(frame.columns) > 1 or frame.columns[0] != 0:
        ax.legend(fontsize=8, frameon=False)
    return fig


def overlap_figure(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    split: Mapping[str, Sequence[str]] | None = None,
    highlight: Mapping[str, Sequence[str]] | None = None,
    simplify_m: float | None = None,
    title: str | None = None,
    lang: Lang = "fr",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Draw a static overlap map: each layer's outlines in its colour.

    Parameters
    ----------
    layers
        ``{layer_key: GeoDataFrame}`` (any CRS; drawn in EPSG:32198, the last
        one on top).
    split
        ``{layer_key: codes}`` of split units, filled lightly in the layer's
        colour (see :func:`geodecoupage.maps.unit_splits`).
    highlight
        ``{layer_key: codes}`` drawn with a thick outline and labelled by name
        (e.g. the most split MRC).
    simplify_m
        Display simplification (m); None picks it from the extent.
    title
        Figure title.
    lang
        Language of the notes.
    figsize
        Size in inches; default 7 inches wide, the height following the
        extent's shape.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with a legend, the sources' attributions and the
        simplification tolerance in a note.

    Raises
    ------
    InvalidParameterError
        If *layers* is empty.
    MissingCRSError
        If a layer has no CRS.
    """
    check_lang(lang)
    if not layers:
        msg = "layers is empty: nothing to draw."
        raise InvalidParameterError(msg)
    for key, gdf in layers.items():
        require_crs(gdf, name=f"Layer {key!r}")
    work = {k: to_work_crs(g, name=f"Layer {k!r}") for k, g in layers.items()}
    bounds = np.array([g.total_bounds for g in work.values() if len(g)])
    extent = (
        (
            float(bounds[:, 0].min()),
            float(bounds[:, 1].min()),
            float(bounds[:, 2].max()),
            float(bounds[:, 3].max()),
        )
        if bounds.size
        else (0.0, 0.0, 1.0, 1.0)
    )
    tol = auto_tolerance_m(extent) if simplify_m is None else float(simplify_m)
    colors = st.layer_colors(work)
    mlines = import_optional("matplotlib.lines", purpose="Figures")
    if figsize is None:
        dx, dy = extent[2] - extent[0], extent[3] - extent[1]
        ratio = dy / dx if dx > 0 else 1.0
        figsize = (7.0, float(min(max(7.0 * ratio, 3.0), 9.0)) + 0.8)
    fig = _figure(figsize)
    ax = fig.add_subplot()
    handles = []
    drawn: dict[str, gpd.GeoDataFrame] = {}
    n = len(work)
    for i, (key, gdf) in enumerate(work.items()):
        geoms, _ = simplify_layer(gdf.geometry, tol)
        shown = gpd.GeoDataFrame(geometry=geoms, crs=gdf.crs)
        shown.index = gdf.index.astype(str)
        lw = 0.6 + 1.4 * (n - 1 - i) / max(n - 1, 1)  # coarser layers drawn thicker
        codes = {str(c) for c in (split or {}).get(key, ())}
        if codes:
            sel = shown[shown.index.isin(codes)]
            if len(sel):
                sel.plot(ax=ax, color=colors[key], alpha=0.25, linewidth=0)
        shown.boundary.plot(ax=ax, color=colors[key], linewidth=lw)
        handles.append(mlines.Line2D([], [], color=colors[key], linewidth=2, label=key))
        drawn[key] = shown
    for key, shown in drawn.items():  # highlights on top of every layer
        hl = {str(c) for c in (highlight or {}).get(key, ())}
        if not hl:
            continue
        sel = shown[shown.index.isin(hl)]
        sel.boundary.plot(ax=ax, color="black", linewidth=2.5)
        gdf = work[key]
        names = (
            gdf["nom"].set_axis(gdf.index.astype(str)) if "nom" in gdf.columns else None
        )
        for code, geom in zip(sel.index, sel.geometry, strict=True):
            p = geom.representative_point()
            name = names.get(code, code) if names is not None else code
            ax.annotate(
                str(name),
                (p.x, p.y),
                fontsize=8,
                ha="center",
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
            )
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=True)
    attributions: list[str] = []
    for gdf in layers.values():
        a = str(gdf.attrs.get("attribution") or "").strip()
        if a and a not in attributions:
            attributions.append(a)
    note = pick(
        lang,
        fr=f"EPSG:32198 ; géométries simplifiées à {fmt_int(tol, lang)} m.",
        en=f"EPSG:32198; geometry simplified to {fmt_int(tol, lang)} m.",
    )
    fig.text(
        0.01,
        0.005,
        "\n".join([note, *attributions]),
        fontsize=6,
        color="#444444",
        va="bottom",
        wrap=True,
    )
    if title:
        ax.set_title(title)
    return fig


def _format(path: Path, fmt: str | None) -> str:
    out = (fmt or path.suffix.lstrip(".")).lower()
    if out not in _FORMATS:
        msg = (
            f"Cannot write a figure as {out or 'a file without extension'!r} "
            f"({path}); use a .png or .svg path, or fmt='png' / 'svg'."
        )
        raise InvalidParameterError(msg)
    return out


def save_figure(
    fig: Figure,
    path: str | os.PathLike[str],
    *,
    fmt: FigureFormat | None = None,
    dpi: int = 150,
    overwrite: bool = False,
) -> Path:
    """Write *fig* as PNG or SVG, atomically.

    Parameters
    ----------
    fig
        The figure.
    path
        Destination; the format comes from the suffix unless *fmt* is given.
    fmt
        ``"png"`` or ``"svg"``.
    dpi
        Resolution of PNG output.
    overwrite
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InvalidParameterError
        For a format other than PNG or SVG.
    OutputExistsError
        If *path* exists and *overwrite* is false.
    """
    p = Path(path)
    out = _format(p, fmt)
    with atomic_path(p, overwrite=overwrite) as tmp:
        _savefig(fig, tmp, out, dpi)
    logger.info("figure written to %s", p)
    return p


def _savefig(fig: Figure, target: Any, fmt: str, dpi: int) -> None:
    mpl = import_optional("matplotlib", purpose="Figures")
    # fixed SVG ids: the same figure gives the same bytes
    with mpl.rc_context({"svg.hashsalt": "geodecoupage"}):
        fig.savefig(target, format=fmt, dpi=dpi, metadata=_metadata(fmt))


def _metadata(fmt: str) -> dict[str, Any]:
    # reproducible files: no creation date, no software version in the output
    if fmt == "svg":
        return {"Date": None, "Creator": None}
    return {"Software": None}


def figure_svg(fig: Figure) -> str:
    """Return *fig* as an SVG document string (for inline HTML)."""
    buf = io.StringIO()
    _savefig(fig, buf, "svg", 150)
    text = buf.getvalue()
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def figure_data_uri(fig: Figure, *, fmt: FigureFormat = "png", dpi: int = 150) -> str:
    """Return *fig* as a ``data:`` URI (PNG or SVG), for ``<img src=...>``."""
    out = _format(Path(f"x.{fmt}"), fmt)
    buf = io.BytesIO()
    _savefig(fig, buf, out, dpi)
    mime = "image/svg+xml" if out == "svg" else "image/png"
    return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"
