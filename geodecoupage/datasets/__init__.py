"""Generated datasets: the demo territory and the synthetic layer generator.

Nothing here is official data, and nothing is downloaded: every layer is built in
code from a fixed seed.

* :func:`demo_layers` and :func:`demo_population`: a small fictional territory
  (48 municipalities, 6 MRC, 2 regions, 5 RLS, 4 school centres) whose splits are
  known by construction (:data:`DEMO_EXPECTED`), for docstrings, the README,
  notebooks and tests;
* :func:`get_path`: the same layers written once to a GeoPackage in a cache
  folder, for examples that read files (``read_territory``, the CLI);
* :func:`synthetic_layers`: seeded random partitions from 10³ to 10⁶ polygons,
  for benchmarks and property tests.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import platformdirs

import geopandas as gpd
import shapely

from geodecoupage._io import atomic_path
from geodecoupage.datasets.demo import (
    ATTRIBUTION,
    DEMO_EXPECTED,
    DEMO_KEYS,
    DemoExpected,
    demo_layers,
    demo_population,
)
from geodecoupage.datasets.synthetic import synthetic_layers
from geodecoupage.errors import InvalidParameterError

logger = logging.getLogger(__name__)

__all__ = [
    "ATTRIBUTION",
    "DATASETS",
    "DEMO_EXPECTED",
    "DEMO_KEYS",
    "DemoExpected",
    "cache_dir",
    "demo_layers",
    "demo_population",
    "get_path",
    "synthetic_layers",
]

#: Names accepted by :func:`get_path`.
DATASETS = ("demo",)


def cache_dir() -> Path:
    """Return the per-user cache folder of the generated datasets.

    ``<platformdirs user cache>/geodecoupage/datasets``, e.g.
    ``~/.cache/geodecoupage/datasets`` on Linux. Nothing is written by this call.
    """
    return Path(platformdirs.user_cache_path("geodecoupage")) / "datasets"


def _demo_frames() -> dict[str, gpd.GeoDataFrame]:
    frames = demo_layers()
    frames["population"] = demo_population()
    return frames


def _digest(frames: dict[str, gpd.GeoDataFrame]) -> str:
    """Short hash of the content, so a changed generator never reuses a stale file."""
    h = hashlib.sha256()
    for key, gdf in frames.items():
        h.update(key.encode())
        h.update(gdf.drop(columns="geometry").to_csv().encode())
        for wkb in shapely.to_wkb(gdf.geometry.array):
            h.update(wkb)
    return h.hexdigest()[:12]


def get_path(
    name: str = "demo", *, directory: str | os.PathLike[str] | None = None
) -> Path:
    """Return the path of a generated dataset file, writing it first if missing.

    The demo territory is written as one GeoPackage with one layer per key of
    :data:`DEMO_KEYS` plus ``population`` (the surface of
    :func:`demo_population`). Codes are in the ``code`` column and names in
    ``nom``. The file name carries a hash of the content, so a new version of
    the generator writes a new file. The write is atomic: a concurrent or
    interrupted run leaves either the complete file or nothing.

    Parameters
    ----------
    name
        Dataset name; only ``"demo"`` exists (:data:`DATASETS`).
    directory
        Folder to write to; default :func:`cache_dir` (the per-user cache).

    Returns
    -------
    pathlib.Path
        The GeoPackage, e.g. ``~/.cache/geodecoupage/datasets/demo-<hash>.gpkg``.

    Raises
    ------
    InvalidParameterError
        If *name* is not a known dataset.
    OSError
        If the folder cannot be created or written.

    Examples
    --------
    >>> import geopandas as gpd
    >>> path = get_path("demo")
    >>> mrc = gpd.read_file(path, layer="mrc")
    >>> mrc[["code", "nom"]].head(2).values.tolist()
    [['991', 'MRC des Aulnes'], ['992', 'MRC du Haut-Plateau']]
    """
    if name not in DATASETS:
        msg = (
            f"Unknown dataset {name!r}. Available datasets: {', '.join(DATASETS)}. "
            f"For random layers of any size, use "
            f"geodecoupage.datasets.synthetic_layers(n_base)."
        )
        raise InvalidParameterError(msg)
    folder = Path(directory) if directory is not None else cache_dir()
    frames = _demo_frames()
    path = folder / f"{name}-{_digest(frames)}.gpkg"
    if path.is_file():
        return path
    logger.info("writing the %s dataset to %s", name, path)
    with atomic_path(path, overwrite=True) as tmp:
        for key, gdf in frames.items():
            gdf.to_file(
                tmp,
                layer=key,
                driver="GPKG",
                engine="pyogrio",
                layer_metadata={
                    "attribution": ATTRIBUTION,
                    "title_fr": gdf.attrs["title_fr"],
                    "title_en": gdf.attrs["title_en"],
                },
            )
    return path
