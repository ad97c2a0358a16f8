"""Plain-text tables for terminal summaries (no dependency beyond pandas)."""

from __future__ import annotations

import pandas as pd

__all__ = ["render_table"]


def render_table(df: pd.DataFrame, *, index: bool = False) -> str:
    """Render *df* as an aligned plain-text table (numbers right-aligned)."""
    frame = df.reset_index() if index else df
    cols = [str(c) for c in frame.columns]
    cells = [
        [("" if pd.isna(v) else str(v)) for v in row]
        for row in frame.itertuples(index=False)
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(cols)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]

    def line(values: list[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(cols), sep, *(line(r) for r in cells)])
