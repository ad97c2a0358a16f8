"""Loaders: every official layer (and a user's own territory) in one schema.

>>> from geodecoupage.layers import LAYER_KEYS
>>> len(LAYER_KEYS)
12
"""

from __future__ import annotations

import os

import pandas as pd

from geodecoupage.layers._datadir import ENV_VAR, resolve_data_dir
from geodecoupage.layers._fetch import fetch_layer
from geodecoupage.layers._loader import file_sha256, locate, read_layer
from geodecoupage.layers._registry import LAYER_KEYS, LayerSpec, get_spec, specs
from geodecoupage.layers.territory import read_territory

__all__ = [
    "ENV_VAR",
    "LAYER_KEYS",
    "LayerSpec",
    "available_layers",
    "fetch_layer",
    "file_sha256",
    "get_spec",
    "locate",
    "read_layer",
    "read_territory",
    "resolve_data_dir",
    "specs",
]


def available_layers(
    data_dir: str | os.PathLike[str] | None = None, *, lang: str = "fr"
) -> pd.DataFrame:
    """Return the catalogue with each layer's availability in the data directory.

    Returns
    -------
    pandas.DataFrame
        Indexed by layer key: ``title``, ``producer``, ``vintage``, ``licence``,
        ``available`` (bool), ``path`` (file found, or ``derived from <key>``),
        ``reason`` (why it is unavailable, empty otherwise).
    """
    rows = []
    for key, spec in specs().items():
        found = locate(key, data_dir)
        if found.path is not None:
            path = str(found.path)
        elif found.derived_from:
            path = f"derived from {found.derived_from}"
        else:
            path = ""
        rows.append(
            {
                "key": key,
                "title": spec.title(lang),
                "producer": spec.producer,
                "vintage": spec.vintage,
                "licence": spec.licence,
                "available": found.available,
                "path": path,
                "reason": found.reason,
            }
        )
    return pd.DataFrame(rows).set_index("key")
