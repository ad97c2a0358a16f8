"""Shared fixtures: the real-data mirror and small layers built in code.

Nothing here reads from the current working directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

import geopandas as gpd
import shapely

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data" / "quebec"


def _real_data_dir() -> Path | None:
    env = os.environ.get("GEODECOUPAGE_DATA")
    for candidate in (Path(env) if env else None, MIRROR):
        if candidate is not None and (candidate / "PROVENANCE.md").is_file():
            return candidate
    return None


@pytest.fixture
def demo_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``read_layer`` serve the generated demo layers (CLI tests, no data dir).

    A key the demo territory lacks raises ``LayerUnavailableError``, as a data
    directory without that layer would.
    """
    from geodecoupage.datasets.demo import demo_layers
    from geodecoupage.errors import LayerUnavailableError

    layers = demo_layers()

    def read_layer(key: str, **_: object) -> gpd.GeoDataFrame:
        if key not in layers:
            msg = f"Layer {key!r} is not in the demo territory."
            raise LayerUnavailableError(msg)
        return layers[key].copy()

    monkeypatch.setattr("geodecoupage.layers.read_layer", read_layer)


@pytest.fixture
def demo_census(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``population_surface`` serve the demo population (CLI tests)."""
    from geodecoupage.datasets.demo import demo_population

    pop = demo_population()
    monkeypatch.setattr(
        "geodecoupage.overlay.population.population_surface",
        lambda **_: pop.copy(),
    )


@pytest.fixture(scope="session")
def quebec_data() -> Path:
    """The real-data mirror; tests using it are marked ``realdata``.

    Skipped when no mirror is present, except in CI (``CI=true``), where a
    missing mirror is a failure: CI must run the real-data tests.
    """
    found = _real_data_dir()
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI has no real-data mirror (../shared/data/quebec).")
        pytest.skip("no real-data mirror: set GEODECOUPAGE_DATA")
    return found


def grid_layer(
    key: str,
    nx: int,
    ny: int,
    *,
    size: float = 1000.0,
    origin: tuple[float, float] = (-300_000.0, 250_000.0),
    codes: Sequence[str] | None = None,
    crs: str = "EPSG:32198",
) -> gpd.GeoDataFrame:
    """A canonical toy layer: an nx × ny grid of square cells in EPSG:32198.

    Cells are numbered row by row from the south-west corner; codes default to
    ``f"{key}{i:02d}"``.
    """
    x0, y0 = origin
    cells = [
        shapely.box(
            x0 + i * size, y0 + j * size, x0 + (i + 1) * size, y0 + (j + 1) * size
        )
        for j in range(ny)
        for i in range(nx)
    ]
    names = (
        list(codes)
        if codes is not None
        else [f"{key}{n:02d}" for n in range(len(cells))]
    )
    gdf = gpd.GeoDataFrame(
        {"code": names, "nom": names, "layer": key}, geometry=cells, crs=crs
    ).set_index("code")
    return gdf


@pytest.fixture
def make_grid():  # type: ignore[no-untyped-def]
    """Factory fixture returning :func:`grid_layer`."""
    return grid_layer
