"""Overlay engine: the atlas of atoms (common refinement) and crosswalks.

>>> from geodecoupage.overlay import build_atlas
>>> atlas = build_atlas({"mrc": mrc, "rls": rls})          # doctest: +SKIP
>>> atlas.crosswalk("mrc", "rls")                          # doctest: +SKIP
"""

from __future__ import annotations

from geodecoupage.overlay.atlas import (
    DEFAULT_MIN_AREA_M2,
    DEFAULT_SLIVER_SHARE,
    DEFAULT_SLIVER_WIDTH_M,
    DEFAULT_SNAP_M,
    Atlas,
    build_atlas,
)
from geodecoupage.overlay.io import read_atlas, save_atlas

__all__ = [
    "DEFAULT_MIN_AREA_M2",
    "DEFAULT_SLIVER_SHARE",
    "DEFAULT_SLIVER_WIDTH_M",
    "DEFAULT_SNAP_M",
    "Atlas",
    "build_atlas",
    "read_atlas",
    "save_atlas",
]
