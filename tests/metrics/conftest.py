"""Toy layers (EPSG:32198, 1 km cells) and an atlas factory for the score tests.

``make_atlas`` is :func:`geodecoupage.overlay.atlas.build_atlas` (optionally with a
population surface).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import pytest

import geopandas as gpd
from shapely.geometry import box

from geodecoupage.crs import WORK_CRS

KM = 1000.0
X0, Y0 = -250_000.0, 300_000.0  # somewhere in southern Québec, EPSG:32198


def layer(
    key: str,
    cells: Mapping[str, list[tuple[float, float, float, float]]],
    names: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """A canonical layer whose unit *code* is the union of km boxes (x0, y0, x1, y1)."""
    from shapely import union_all

    codes = list(cells)
    geoms = [
        union_all(
            [
                box(X0 + a * KM, Y0 + b * KM, X0 + c * KM, Y0 + d * KM)
                for a, b, c, d in cells[code]
            ]
        )
        for code in codes
    ]
    gdf = gpd.GeoDataFrame(
        {"nom": [(names or {}).get(c, f"Unité {c}") for c in codes], "layer": key},
        geometry=geoms,
        crs=WORK_CRS,
        index=pd.Index(codes, name="code"),
    )
    gdf.attrs["layer"] = key
    return gdf


def grid(
    key: str, nx: int, ny: int, *, size: float = 1.0, dx: float = 0.0, prefix: str = ""
) -> gpd.GeoDataFrame:
    """An nx × ny grid of square cells of *size* km, shifted by *dx* km in x."""
    cells = {
        f"{prefix}{i}{j}": [
            (dx + i * size, j * size, dx + (i + 1) * size, (j + 1) * size)
        ]
        for i in range(nx)
        for j in range(ny)
    }
    return layer(key, cells)


def _build(
    layers: Mapping[str, gpd.GeoDataFrame], population: gpd.GeoDataFrame | None = None
) -> Any:
    from geodecoupage.overlay.atlas import build_atlas

    if population is None:
        return build_atlas(dict(layers))
    return build_atlas(dict(layers), population=population)


@pytest.fixture(scope="session")
def make_atlas() -> Callable[..., Any]:
    """``make_atlas(layers, population=None)`` -> atlas of the toy layers."""
    return _build


@pytest.fixture
def toy_grid() -> Callable[..., gpd.GeoDataFrame]:
    """The :func:`grid` layer factory."""
    return grid


@pytest.fixture
def toy_layer() -> Callable[..., gpd.GeoDataFrame]:
    """The :func:`layer` layer factory."""
    return layer
