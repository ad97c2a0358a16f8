"""Toy layers with known splits, and a hand-written atlas for them.

Layout (EPSG:32198, km; y from 0 to 10 everywhere)::

    mrc      A [0, 10]   B [10, 20]
    css      X [0, 14]   Y [14, 20]
    regions  R [0, 20]

Pieces (atoms): A∩X = 100 km², B∩X = 40 km², B∩Y = 60 km². So MRC A lies
wholly in CSS X; MRC B is split 60 % Y / 40 % X; CSS X is split 71 % A / 29 % B;
CSS Y lies in B; region R contains both MRC whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest

import geopandas as gpd
import shapely

KM = 1000.0
X0, Y0 = -300_000.0, 250_000.0


def _layer(
    key: str, spans: dict[str, tuple[float, float]], names: dict[str, str]
) -> gpd.GeoDataFrame:
    cells = [
        shapely.box(X0 + a * KM, Y0, X0 + b * KM, Y0 + 10 * KM)
        for a, b in spans.values()
    ]
    gdf = gpd.GeoDataFrame(
        {"nom": [names[c] for c in spans], "layer": key},
        geometry=cells,
        crs="EPSG:32198",
        index=pd.Index(list(spans), name="code"),
    )
    gdf.attrs.update(
        layer=key,
        attribution=f"Source {key.upper()} (test), CC BY 4.0",
        title_fr=f"Couche {key}",
        title_en=f"Layer {key}",
        vintage="2024",
    )
    return gdf


def make_toy_layers() -> dict[str, gpd.GeoDataFrame]:
    """mrc, css and regions toy layers (see module docstring)."""
    return {
        "mrc": _layer(
            "mrc", {"A": (0, 10), "B": (10, 20)}, {"A": "MRC Alpha", "B": "MRC Bêta"}
        ),
        "css": _layer(
            "css", {"X": (0, 14), "Y": (14, 20)}, {"X": "CSS Xénon", "Y": "CSS Yttrium"}
        ),
        "regions": _layer("regions", {"R": (0, 20)}, {"R": "Région R"}),
    }


@dataclass(frozen=True)
class TableAtlas:
    """The Atlas contract implemented on a hand-written atoms table.

    Shares come from the written ``area_m2`` and ``population`` (not from the
    geometry), so the expected numbers do not depend on the overlay engine.
    """

    atoms: gpd.GeoDataFrame
    layers: tuple[str, ...]
    params: dict[str, Any] = field(default_factory=dict)

    def crosswalk(
        self,
        source: str,
        target: str,
        *,
        weight: str = "area",
        include_gaps: bool = False,
    ) -> pd.DataFrame:
        a = self.atoms.groupby([source, target])[["area_m2", "population"]].sum()
        a.index.names = ["source_code", "target_code"]
        src = a.groupby(level=0).transform("sum")
        tgt = a.groupby(level=1).transform("sum")
        out = pd.DataFrame({"area_m2": a["area_m2"]})
        out["share_of_source"] = a["area_m2"] / src["area_m2"]
        out["share_of_target"] = a["area_m2"] / tgt["area_m2"]
        if weight == "population":
            out["population"] = a["population"]
            out["pop_share_of_source"] = a["population"] / src["population"]
            out["pop_share_of_target"] = a["population"] / tgt["population"]
        return out

    def unit_totals(self, key: str) -> pd.DataFrame:
        t = self.atoms.groupby(key)[["area_m2", "population"]].sum()
        t.index.name = "code"
        return t


@pytest.fixture
def toy_layers() -> dict[str, gpd.GeoDataFrame]:
    """mrc, css and regions toy layers (see module docstring)."""
    return make_toy_layers()


@pytest.fixture
def toy_atlas() -> TableAtlas:
    """Atoms of the toy layers with areas (m²) and populations."""
    return make_toy_atlas()


def make_toy_atlas() -> TableAtlas:
    """Atoms of the toy layers with areas (m²) and populations."""
    spans = [(0, 10), (10, 14), (14, 20)]
    atoms = gpd.GeoDataFrame(
        {
            "mrc": ["A", "B", "B"],
            "css": ["X", "X", "Y"],
            "regions": ["R", "R", "R"],
            "area_m2": [100e6, 40e6, 60e6],
            "population": [1000.0, 3000.0, 1000.0],
        },
        geometry=[
            shapely.box(X0 + a * KM, Y0, X0 + b * KM, Y0 + 10 * KM) for a, b in spans
        ],
        crs="EPSG:32198",
    )
    return TableAtlas(atoms=atoms, layers=("mrc", "css", "regions"))
