"""HTML helpers for notebooks and reports: tables and small summaries.

Owners of result objects (Atlas, audits, groupings) can build their
``_repr_html_`` from :func:`html_table` and :func:`html_summary`; the report uses
the same functions, so a notebook and a report show the same thing.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geodecoupage.i18n import check_lang, fmt_float, fmt_int, pick

__all__ = ["TABLE_CSS", "format_cell", "html_summary", "html_table"]

#: Minimal stylesheet for the tables (the report embeds it once).
TABLE_CSS = """
table.gd-table { border-collapse: collapse; font: 13px/1.4 system-ui, sans-serif; }
table.gd-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
table.gd-table th, table.gd-table td { border-bottom: 1px solid #ddd;
  padding: 3px 8px; }
table.gd-table th { background: #f3f3f3; text-align: left; }
table.gd-table td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.gd-table tr.gd-more td { color: #666; font-style: italic; }
dl.gd-summary { display: grid; grid-template-columns: max-content auto;
  gap: 2px 12px; font: 13px/1.4 system-ui, sans-serif; }
dl.gd-summary dt { font-weight: 600; }
dl.gd-summary dd { margin: 0; }
""".strip()


def format_cell(value: Any, *, lang: str = "fr", digits: int = 3) -> str:
    """Format one value for display (numbers in the language's style), escaped."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return (
            pick(lang, fr="oui", en="yes") if value else pick(lang, fr="non", en="no")
        )
    if isinstance(value, int | np.integer):
        return fmt_int(int(value), lang)
    if isinstance(value, float | np.floating):
        v = float(value)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v.is_integer() and abs(v) >= 1000:
            return fmt_int(v, lang)
        return fmt_float(v, digits, lang)
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return html.escape(str(value))


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def html_table(
    df: pd.DataFrame | pd.Series,
    *,
    lang: str = "fr",
    max_rows: int | None = 50,
    digits: int = 3,
    index: bool = True,
    caption: str | None = None,
    columns: Mapping[str, str] | None = None,
    css_class: str = "gd-table",
) -> str:
    """Return *df* as an HTML ``<table>`` (escaped, numbers formatted by language).

    Parameters
    ----------
    df
        Table to show (a Series is shown as one column).
    lang
        ``"fr"``: ``1 234,5``; ``"en"``: ``1,234.5``.
    max_rows
        Rows shown; a last row says how many were left out. None shows all.
    digits
        Decimals of non-integer numbers.
    index
        Show the index as the first column(s).
    caption
        Table caption.
    columns
        Display names for columns (others keep their name).
    css_class
        Class of the ``<table>`` (styled by :data:`TABLE_CSS`).

    Returns
    -------
    str
        HTML fragment.
    """
    check_lang(lang)
    frame = df.to_frame() if isinstance(df, pd.Series) else df
    names = dict(columns or {})
    head: list[str] = []
    idx_names = [n if n is not None else "" for n in frame.index.names]
    if index:
        head += [
            f"<th>{html.escape(str(names.get(str(n), n)))}</th>" for n in idx_names
        ]
    head += [
        f"<th>{html.escape(str(names.get(str(c), c)))}</th>" for c in frame.columns
    ]
    shown = frame if max_rows is None else frame.iloc[:max_rows]
    rows: list[str] = []
    for key, values in zip(shown.index, shown.itertuples(index=False), strict=True):
        cells: list[str] = []
        if index:
            parts: Sequence[Any] = key if isinstance(key, tuple) else (key,)
            cells += [
                f"<th>{format_cell(k, lang=lang, digits=digits)}</th>" for k in parts
            ]
        for v in values:
            cls = ' class="num"' if _is_num(v) else ""
            cells.append(f"<td{cls}>{format_cell(v, lang=lang, digits=digits)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    left = len(frame) - len(shown)
    if left > 0:
        span = len(head)
        more = pick(
            lang,
            fr=f"… {fmt_int(left, lang)} ligne(s) de plus",
            en=f"… {fmt_int(left, lang)} more row(s)",
        )
        rows.append(f'<tr class="gd-more"><td colspan="{span}">{more}</td></tr>')
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (
        f'<table class="{html.escape(css_class)}">{cap}<thead><tr>{"".join(head)}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def html_summary(
    items: Mapping[str, Any], *, lang: str = "fr", title: str | None = None
) -> str:
    """Return a definition list (``<dl>``) of label -> value, for ``_repr_html_``."""
    check_lang(lang)
    body = "".join(
        f"<dt>{html.escape(str(k))}</dt><dd>{format_cell(v, lang=lang)}</dd>"
        for k, v in items.items()
    )
    head = f"<strong>{html.escape(title)}</strong>" if title else ""
    return f'<div class="gd-repr">{head}<dl class="gd-summary">{body}</dl></div>'
