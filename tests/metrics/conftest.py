"""Toy layers (EPSG:32198, 1 km cells) and an atlas factory for the score tests.

``make_atlas`` uses the real :func:`geodecoupage.overlay.atlas.build_atlas` when it
is importable; until then, a test double that implements the Atlas contract with
``geopandas.overlay`` on these tiny layers (exact, since the toy borders are on a
1 km grid).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
from shapely.geometry import box

from geodecoupage.crs import WORK_CRS, area_m2

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


@dataclass(frozen=True)
class OverlayAtlas:
    """Test double of the Atlas contract (used only until build_atlas lands)."""

    atoms: gpd.GeoDataFrame
    layers: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    def crosswalk(
        self,
        source: str,
        target: str,
        *,
        weight: str = "area",
        include_gaps: bool = False,
    ) -> pd.DataFrame:
        cols = ["area_m2", "population"]
        a = (
            self.atoms.dropna(subset=[source, target])
            .groupby([source, target])[cols]
            .sum()
        )
        a.index.names = ["source_code", "target_code"]
        out = pd.DataFrame({"area_m2": a["area_m2"]})
        out["share_of_source"] = a["area_m2"] / a["area_m2"].groupby(level=0).transform(
            "sum"
        )
        out["share_of_target"] = a["area_m2"] / a["area_m2"].groupby(level=1).transform(
            "sum"
        )
        if weight == "population":
            out["population"] = a["population"]
        return out

    def unit_totals(self, key: str) -> pd.DataFrame:
        return self.atoms.groupby(key)[["area_m2", "population"]].sum()


def _overlay_atlas(
    layers: Mapping[str, gpd.GeoDataFrame], population: gpd.GeoDataFrame | None = None
) -> OverlayAtlas:
    frames = []
    for key, gdf in layers.items():
        frames.append(
            gpd.GeoDataFrame(
                {key: gdf.index.astype(str)}, geometry=gdf.geometry.values, crs=gdf.crs
            )
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`keep_geom_type=True`", UserWarning)
        atoms = reduce(
            lambda a, b: a.overlay(b, how="union", keep_geom_type=True), frames
        )
    atoms["area_m2"] = area_m2(atoms.geometry)
    atoms = atoms[atoms["area_m2"] > 1.0].reset_index(drop=True)
    if population is not None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "`keep_geom_type=True`", UserWarning)
            pieces = atoms.reset_index().overlay(
                population[["population", "geometry"]].assign(
                    _a=lambda d: d.geometry.area
                ),
                how="intersection",
            )
        pieces["pop"] = pieces["population"] * pieces.geometry.area / pieces["_a"]
        atoms["population"] = (
            pieces.groupby("index")["pop"].sum().reindex(atoms.index).fillna(0.0)
        )
    else:
        atoms["population"] = np.nan
    for key in layers:
        atoms[key] = atoms[key].astype(object).where(atoms[key].notna(), None)
    return OverlayAtlas(atoms=atoms, layers=tuple(layers))


def _build(
    layers: Mapping[str, gpd.GeoDataFrame], population: gpd.GeoDataFrame | None = None
) -> Any:
    try:
        from geodecoupage.overlay.atlas import build_atlas
    except ImportError:
        return _overlay_atlas(layers, population)
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
