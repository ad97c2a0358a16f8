"""Audit reports: one self-contained HTML file per audit (works offline)."""

from __future__ import annotations

from geodecoupage.reports.report import (
    Section,
    build_report,
    split_sensitivity,
    write_report,
)

__all__ = [
    "Section",
    "build_report",
    "split_sensitivity",
    "write_report",
]
