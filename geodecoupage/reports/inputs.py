"""Inputs shared by the commands and batch runs: layers and population, logged.

Command-line runs and batch audits read the same things the same way: catalogue
layers whose quality warnings go to the log (stderr), not to the machine-readable
output, and the census population surface when the data directory has it.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable
from typing import Any

import geopandas as gpd

from geodecoupage.errors import LayerUnavailableError

logger = logging.getLogger(__name__)

__all__ = ["read_layers", "read_population"]


def read_layers(
    keys: Iterable[str], data_dir: str | os.PathLike[str] | None = None
) -> dict[str, gpd.GeoDataFrame]:
    """Read each catalogue layer once; log its quality warnings instead of raising.

    Raises
    ------
    UnknownLayerError, LayerUnavailableError, LayerReadError, DataIntegrityError
        As :func:`geodecoupage.layers.read_layer`.
    """
    from geodecoupage.layers import read_layer

    out: dict[str, gpd.GeoDataFrame] = {}
    for key in dict.fromkeys(keys):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out[key] = read_layer(key, data_dir=data_dir)
        for w in caught:
            logger.warning("%s: %s", key, w.message)
    return out


def read_population(
    data_dir: str | os.PathLike[str] | None = None, *, required: bool = False
) -> Any:
    """Return the census population surface, or None when the data lacks it.

    With *required*, a missing census file raises instead of returning None.

    Raises
    ------
    LayerUnavailableError
        If *required* and the data directory has no census population files.
    """
    from geodecoupage.overlay.population import population_surface

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            surface = population_surface(data_dir=data_dir)
    except LayerUnavailableError as err:
        if required:
            raise
        logger.warning("No population surface (%s); area weights only.", err)
        return None
    for w in caught:
        logger.warning("population: %s", w.message)
    return surface
