"""Small generated layers for the property tests (hypothesis strategies).

Every layer here is a *labelling* of one fine grid of square cells in
EPSG:32198: the cells sharing a label are dissolved into one unit (possibly a
MultiPolygon). Layers built on the same grid therefore tile the same square
exactly, and every crosswalk has an independent reference: the equal-area areas
of the cells carrying each pair of labels (:func:`reference_crosswalk`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from hypothesis import strategies as st

import geopandas as gpd
import shapely

from geodecoupage.crs import area_m2

CRS = "EPSG:32198"
#: South-west corner of the grid: southern Québec, in EPSG:32198 metres.
ORIGIN = (-250_000.0, 300_000.0)
#: Cell side (m). 25 ha cells are far above the atlas sliver thresholds.
CELL_M = 500.0

#: Code alphabets: zero-padded as published, numbers as text, accents.
CODE_STYLES = ("zero", "text", "accents")


@dataclass(frozen=True)
class Grid:
    """A fine grid and one label vector per layer (labels are unit codes)."""

    nx: int
    ny: int
    labels: Mapping[str, tuple[str, ...]]

    @property
    def cells(self) -> list[shapely.Polygon]:
        x0, y0 = ORIGIN
        return [
            shapely.box(
                x0 + i * CELL_M,
                y0 + j * CELL_M,
                x0 + (i + 1) * CELL_M,
                y0 + (j + 1) * CELL_M,
            )
            for j in range(self.ny)
            for i in range(self.nx)
        ]

    def layer(self, key: str) -> gpd.GeoDataFrame:
        return dissolve(self.cells, self.labels[key], key)

    def layers(self, keys: Sequence[str] | None = None) -> dict[str, gpd.GeoDataFrame]:
        return {k: self.layer(k) for k in (keys or list(self.labels))}

    def cell_areas(self) -> np.ndarray:
        return area_m2(self.cells)


def dissolve(
    cells: Sequence[shapely.Geometry], labels: Sequence[str], key: str
) -> gpd.GeoDataFrame:
    """One unit per label: the union of its cells, canonical schema."""
    codes = sorted(set(labels))
    lab = np.asarray(labels, dtype=object)
    geoms = [
        shapely.union_all(np.asarray(cells, dtype=object)[lab == c]) for c in codes
    ]
    return gpd.GeoDataFrame(
        {"nom": [f"Unité {c}" for c in codes], "layer": key},
        geometry=geoms,
        index=pd.Index(codes, name="code", dtype=object),
        crs=CRS,
    )


def _code(style: str, k: int) -> str:
    if style == "zero":
        return f"{k:03d}"
    if style == "text":
        return str(k)  # "10" sorts before "2": order by text, not by number
    return f"Sainte-Émilie-{k}"


@st.composite
def grids(
    draw: st.DrawFn,
    keys: Sequence[str] = ("a", "b"),
    *,
    max_side: int = 5,
    max_units: int = 6,
) -> Grid:
    """A grid of 2..max_side × 2..max_side cells and a random labelling per key."""
    nx = draw(st.integers(2, max_side))
    ny = draw(st.integers(2, max_side))
    labels = {}
    for key in keys:
        style = draw(st.sampled_from(CODE_STYLES))
        k = draw(st.integers(1, max_units))
        ids = draw(st.lists(st.integers(1, k), min_size=nx * ny, max_size=nx * ny))
        labels[key] = tuple(_code(style, i) for i in ids)
    return Grid(nx=nx, ny=ny, labels=labels)


@st.composite
def nested_grids(draw: st.DrawFn, *, max_side: int = 5) -> Grid:
    """A fine labelling ``fine`` and a coarsening ``coarse`` of it (fine nests)."""
    g = draw(grids(("fine",), max_side=max_side, max_units=8))
    fine = g.labels["fine"]
    units = sorted(set(fine))
    parent = {u: draw(st.sampled_from(("P1", "P2", "P3"))) for u in units}
    coarse = tuple(parent[u] for u in fine)
    return Grid(nx=g.nx, ny=g.ny, labels={"fine": fine, "coarse": coarse})


def reference_crosswalk(grid: Grid, source: str, target: str) -> pd.Series:
    """Equal-area area of every (source, target) pair, summed over the cells."""
    frame = pd.DataFrame(
        {
            "source_code": grid.labels[source],
            "target_code": grid.labels[target],
            "area_m2": grid.cell_areas(),
        }
    )
    return frame.groupby(["source_code", "target_code"])["area_m2"].sum()


def population_cells(grid: Grid, counts: Sequence[int]) -> gpd.GeoDataFrame:
    """A population surface: one polygon per cell with an integer count."""
    return gpd.GeoDataFrame(
        {"population": np.asarray(counts, dtype="float64")},
        geometry=grid.cells,
        crs=CRS,
    )


def relabel(layer: gpd.GeoDataFrame, mapping: Mapping[str, str]) -> gpd.GeoDataFrame:
    """The same units under other codes."""
    out = layer.copy()
    out.index = pd.Index([mapping[c] for c in layer.index], name="code", dtype=object)
    return out


def shuffled(layer: gpd.GeoDataFrame, seed: int) -> gpd.GeoDataFrame:
    """The same units in another row order."""
    order = np.random.default_rng(seed).permutation(len(layer))
    return layer.iloc[order]


def canonical_atoms(atoms: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Atoms as a table sorted by their codes (geometry dropped)."""
    a = pd.DataFrame(atoms[[*keys, "area_m2", "population"]]).copy()
    a[list(keys)] = a[list(keys)].astype(object).where(a[list(keys)].notna(), "-")
    return a.sort_values(list(keys)).reset_index(drop=True)
