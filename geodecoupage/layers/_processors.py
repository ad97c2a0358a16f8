"""Special treatments some sources need before standardisation, by name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

import geopandas as gpd

logger = logging.getLogger(__name__)

__all__ = ["PROCESSORS"]


def _municipal_coarse(raw: gpd.GeoDataFrame, data_dir: Path) -> gpd.GeoDataFrame:
    """Clean the coarse whole-province municipal copy (flamont/GeoProvider).

    The file mixes three kinds of features in one column ``id``: 17 administrative
    regions (2-digit ids, which overlap everything: dropped), 1 338 municipalities,
    TNO and reserves (5-digit municipal code), and 38 arrondissements
    (``<code>_<arr>``) of six cities that have no whole-city feature: they are
    dissolved into their city so every unit is a municipality.
    """
    ids = raw["id"].astype(str).str.strip()
    keep = ids.str.len() != 2
    dropped = int((~keep).sum())
    gdf = raw.loc[keep].copy()
    ids = ids[keep]
    is_arr = ids.str.contains("_", regex=False)
    gdf["id"] = ids.str.split("_").str[0]
    if is_arr.any():
        # City name: the part before " (" of an arrondissement's name.
        names = gdf.loc[is_arr, "mun"].astype(str).str.split(" (", regex=False).str[0]
        gdf.loc[is_arr, "mun"] = names
    gdf = _attach_mrc(gdf, data_dir)
    logger.info(
        "municipal coarse layer: dropped %d region polygons, dissolved %d "
        "arrondissements into %d cities",
        dropped,
        int(is_arr.sum()),
        gdf.loc[is_arr, "id"].nunique(),
    )
    return gdf


MRC_CROSSWALK = "crosswalks/municipality_to_mrc_region_mamh_2025_derived.csv"


def _attach_mrc(gdf: gpd.GeoDataFrame, data_dir: Path) -> gpd.GeoDataFrame:
    """Add ``MRS_CO_MRC`` from the MAMH municipality→MRC crosswalk, when present.

    The crosswalk's ``sda_mrs_co_mrc`` is the code of the SDA MRC layer. Codes it
    does not list (TNO aquatiques, some settlements) get no MRC parent.
    """
    path = data_dir / MRC_CROSSWALK
    if not path.is_file():
        logger.info("no %s: municipalities get no MRC parent code", MRC_CROSSWALK)
        return gdf
    xw = pd.read_csv(path, dtype=str, usecols=["mus_co_geo", "sda_mrs_co_mrc"])
    mapping = dict(
        zip(xw["mus_co_geo"].str.zfill(5), xw["sda_mrs_co_mrc"], strict=True)
    )
    out = gdf.copy()
    out["MRS_CO_MRC"] = out["id"].map(mapping)
    return out


PROCESSORS: dict[str, Callable[[gpd.GeoDataFrame, Path], gpd.GeoDataFrame]] = {
    "municipal_coarse": _municipal_coarse,
}
