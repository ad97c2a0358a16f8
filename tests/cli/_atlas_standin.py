"""Stand-in for ``geodecoupage.overlay.atlas`` until the overlay module lands.

:func:`install` puts a module with :func:`build_atlas` in ``sys.modules`` when the
real one is missing; the stand-in chains ``geopandas.overlay`` (exact on the small
demo territory) and spreads the population surface by area. Tests that start
worker processes cannot see it and are skipped until the real atlas exists.
"""

from __future__ import annotations

import importlib.util
import sys
import types
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd

from geodecoupage.crs import area_m2

HAS_ATLAS = importlib.util.find_spec("geodecoupage.overlay.atlas") is not None


@dataclass(frozen=True)
class StandInAtlas:
    atoms: gpd.GeoDataFrame
    layers: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)

    def crosswalk(
        self, source: str, target: str, *, weight: str = "area", **_: Any
    ) -> pd.DataFrame:
        a = (
            self.atoms.dropna(subset=[source, target])
            .groupby([source, target])[["area_m2", "population"]]
            .sum()
        )
        a.index.names = ["source_code", "target_code"]
        out = pd.DataFrame({"area_m2": a["area_m2"]})
        src = a["area_m2"].groupby(level=0).transform("sum")
        tgt = a["area_m2"].groupby(level=1).transform("sum")
        out["share_of_source"] = a["area_m2"] / src
        out["share_of_target"] = a["area_m2"] / tgt
        if weight == "population":
            p = a["population"]
            out["population"] = p
            with np.errstate(invalid="ignore", divide="ignore"):
                out["pop_share_of_source"] = p / p.groupby(level=0).transform("sum")
                out["pop_share_of_target"] = p / p.groupby(level=1).transform("sum")
        return out

    def unit_totals(self, key: str) -> pd.DataFrame:
        return self.atoms.groupby(key)[["area_m2", "population"]].sum()


def build_atlas(
    layers: Mapping[str, gpd.GeoDataFrame], *, population: Any = None, **_: Any
) -> StandInAtlas:
    frames = [
        gpd.GeoDataFrame(
            {key: gdf.index.astype(str)}, geometry=gdf.geometry.values, crs=gdf.crs
        )
        for key, gdf in layers.items()
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`keep_geom_type=True`", UserWarning)
        atoms = reduce(
            lambda a, b: a.overlay(b, how="union", keep_geom_type=True), frames
        )
    atoms["area_m2"] = area_m2(atoms.geometry)
    atoms = atoms[atoms["area_m2"] > 1.0].reset_index(drop=True)
    polys = getattr(population, "polygons", population)
    if polys is not None:
        src = polys[["population", "geometry"]].copy()
        src["_a"] = src.geometry.area
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "`keep_geom_type=True`", UserWarning)
            pieces = atoms.reset_index().overlay(src, how="intersection")
        pieces["pop"] = pieces["population"] * pieces.geometry.area / pieces["_a"]
        atoms["population"] = (
            pieces.groupby("index")["pop"].sum().reindex(atoms.index).fillna(0.0)
        )
    else:
        atoms["population"] = np.nan
    for key in layers:
        atoms[key] = atoms[key].astype(object).where(atoms[key].notna(), None)
    return StandInAtlas(atoms=atoms, layers=tuple(layers))


def install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``geodecoupage.overlay.atlas`` importable (stand-in if missing)."""
    if HAS_ATLAS:
        return
    fake = types.ModuleType("geodecoupage.overlay.atlas")
    fake.build_atlas = build_atlas  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "geodecoupage.overlay.atlas", fake)
