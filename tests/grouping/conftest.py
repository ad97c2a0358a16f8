"""Generated territories for the grouping tests (built in code, EPSG:32198).

A territory is a grid of square base cells; each institutional layer is a labelling
of the cells (cells with the same label are dissolved into one unit), optionally
with a few cells cut in two between neighbouring units (a "split" base unit).
The atoms (common refinement) are computed with geopandas.overlay, independently
of geodecoupage.overlay, and wrapped in a minimal atlas-like object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from geodecoupage.crs import area_m2

CELL = 1000.0
ORIGIN = (-300_000.0, 250_000.0)


@dataclass(frozen=True)
class FakeAtlas:
    """The part of the Atlas contract the grouping code reads."""

    atoms: gpd.GeoDataFrame
    layers: tuple[str, ...]
    params: Mapping[str, object] = field(default_factory=dict)


def cell_box(i: int, j: int) -> shapely.Polygon:
    x0, y0 = ORIGIN
    return shapely.box(
        x0 + i * CELL, y0 + j * CELL, x0 + (i + 1) * CELL, y0 + (j + 1) * CELL
    )


def base_grid(nx: int, ny: int, *, prefix: str = "b") -> gpd.GeoDataFrame:
    """Base units: one square cell each, code ``b<i>_<j>`` (zero padded)."""
    rows = [
        {"code": f"{prefix}{i:02d}_{j:02d}", "i": i, "j": j, "geometry": cell_box(i, j)}
        for j in range(ny)
        for i in range(nx)
    ]
    return gpd.GeoDataFrame(rows, crs="EPSG:32198").set_index("code")


def layer_from_labels(
    base: gpd.GeoDataFrame,
    labels: Sequence[str] | np.ndarray,
    key: str,
    *,
    cuts: Mapping[str, tuple[str, float]] | None = None,
) -> gpd.GeoDataFrame:
    """Dissolve base cells by label into a layer.

    *cuts* maps a base code to ``(other_label, fraction)``: the east *fraction*
    of that cell goes to unit ``other_label`` instead of its own label.
    """
    geoms = []
    labs = []
    for (code, row), lab in zip(base.iterrows(), labels, strict=True):
        geom = row.geometry
        if cuts and code in cuts:
            other, frac = cuts[code]
            x0, y0, x1, y1 = geom.bounds
            xm = x1 - frac * (x1 - x0)
            geoms += [shapely.box(x0, y0, xm, y1), shapely.box(xm, y0, x1, y1)]
            labs += [lab, other]
        else:
            geoms.append(geom)
            labs.append(lab)
    parts = gpd.GeoDataFrame({"code": labs}, geometry=geoms, crs=base.crs)
    out = parts.dissolve("code")
    out["nom"] = out.index
    out["layer"] = key
    return out[["nom", "layer", "geometry"]]


def overlay_atoms(
    base_key: str,
    base: gpd.GeoDataFrame,
    layers: Mapping[str, gpd.GeoDataFrame],
    population: pd.Series,
) -> FakeAtlas:
    """Common refinement of the base and the layers; population spread by area."""
    atoms = base[["geometry"]].reset_index().rename(columns={"code": base_key})
    for key, layer in layers.items():
        right = layer[["geometry"]].reset_index().rename(columns={"code": key})
        atoms = gpd.overlay(atoms, right, how="intersection", keep_geom_type=True)
    atoms["area_m2"] = area_m2(atoms.geometry)
    atoms = atoms[atoms["area_m2"] > 1.0].reset_index(drop=True)
    base_area = atoms.groupby(base_key)["area_m2"].transform("sum")
    pop = population.reindex(atoms[base_key]).to_numpy(dtype=float)
    atoms["population"] = pop * atoms["area_m2"].to_numpy() / base_area.to_numpy()
    for key in (base_key, *layers):
        atoms[key] = atoms[key].astype("string")
    atoms.index = pd.Index([f"a{k:05d}" for k in range(len(atoms))], name="atom")
    return FakeAtlas(atoms=atoms, layers=(base_key, *layers))


@pytest.fixture
def territory() -> Callable[..., FakeAtlas]:
    """Factory: ``territory(nx, ny, {key: labels}, population, cuts=None)``."""

    def make(
        nx: int,
        ny: int,
        labels: Mapping[str, Sequence[str] | np.ndarray],
        population: Sequence[float] | np.ndarray | None = None,
        *,
        cuts: Mapping[str, Mapping[str, tuple[str, float]]] | None = None,
    ) -> FakeAtlas:
        base = base_grid(nx, ny)
        pop = pd.Series(
            np.ones(len(base)) * 100.0
            if population is None
            else np.asarray(population, float),
            index=base.index,
        )
        layers = {
            key: layer_from_labels(base, labs, key, cuts=(cuts or {}).get(key))
            for key, labs in labels.items()
        }
        return overlay_atoms("muni", base, layers, pop)

    return make


@pytest.fixture
def grid() -> Callable[[int, int], gpd.GeoDataFrame]:
    """Factory returning :func:`base_grid`."""
    return base_grid


def block_labels(nx: int, ny: int, bx: int, by: int, prefix: str) -> list[str]:
    """Labels of bx × by blocks over an nx × ny grid (row-major like base_grid)."""
    return [f"{prefix}{i // bx}{j // by}" for j in range(ny) for i in range(nx)]


@pytest.fixture
def blocks() -> Callable[..., list[str]]:
    """Factory returning :func:`block_labels`."""
    return block_labels
