"""Audit one administrative region: which units to put in the atlas, which to report.

A region audit must not clip the layers to the region: an institution that lies
half outside would look nested. Instead (see ``docs/methodologie.md``):

1. the region is the set of MRC whose ``regions_code`` is the region code;
2. *stage 1*: every unit of every layer that overlaps those MRC (more than
   touching) is kept whole;
3. *stage 2*: every unit of every layer that overlaps a stage-1 unit is kept
   whole too, so each stage-1 unit's partners are all in the atlas and its
   shares are those of the whole province;
4. the audit reports the units with atoms inside the region
   (``within={"mrc": codes}``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

import geopandas as gpd
import shapely

from geodecoupage.crs import to_work_crs
from geodecoupage.errors import InvalidParameterError

logger = logging.getLogger(__name__)

__all__ = ["RegionSelection", "select_region"]


@dataclass(frozen=True)
class RegionSelection:
    """Layers reduced for a region audit, and the territory to report.

    Attributes
    ----------
    region
        The region code.
    mrc_codes
        The MRC of the region (sorted).
    layers
        ``{key: GeoDataFrame}``: the stage-2 units of each layer, whole, plus
        ``"mrc"`` (always, since the territory is defined by it).
    within
        ``{"mrc": mrc_codes}``, the ``within`` argument of the scores.
    land
        The units of a water-free layer given whole (``cisss`` or ``rls``, see
        :data:`geodecoupage.overlay.atlas.LAND_ONLY_LAYERS`) near the selection, for
        ``build_atlas(..., land=sel.land)``: the selected RLS leave out the land
        of the RLS not kept, so they cannot say alone where people live. None
        when no such layer was given.
    """

    region: str
    mrc_codes: tuple[str, ...]
    layers: Mapping[str, gpd.GeoDataFrame]
    within: Mapping[str, tuple[str, ...]]
    land: gpd.GeoDataFrame | None = None


def _overlapping(layer: gpd.GeoDataFrame, geoms: np.ndarray) -> np.ndarray:
    """Positions of *layer*'s units that overlap any of *geoms* (not just touch)."""
    if len(geoms) == 0 or layer.empty:
        return np.empty(0, dtype="int64")
    hit_in, hit_tree = layer.sindex.query(geoms, predicate="intersects")
    if hit_in.size == 0:
        return np.empty(0, dtype="int64")
    target = np.asarray(layer.geometry.array, dtype=object)[hit_tree]
    touching = shapely.touches(geoms[hit_in], target)
    return np.unique(hit_tree[~touching])


def select_region(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    region: str,
    mrc: gpd.GeoDataFrame | None = None,
) -> RegionSelection:
    """Keep the units a region audit needs, whole.

    Parameters
    ----------
    layers
        Canonical layers (any CRS; reprojected to EPSG:32198).
    region
        Administrative region code, e.g. ``"06"`` (as in the ``regions_code``
        column of the MRC layer).
    mrc
        The MRC layer, if it is not in *layers*.

    Returns
    -------
    RegionSelection
        Reduced layers and the territory to report.

    Raises
    ------
    InvalidParameterError
        If no MRC layer is given or the region code is unknown.
    """
    mrc_layer = mrc if mrc is not None else layers.get("mrc")
    if mrc_layer is None or "regions_code" not in mrc_layer.columns:
        msg = (
            "A region audit needs the MRC layer with its regions_code column "
            "(read_layer('mrc')); pass it in layers or as mrc=."
        )
        raise InvalidParameterError(msg)
    mrc_work = to_work_crs(mrc_layer, name="mrc")
    region = str(region).strip()
    codes_col = mrc_work["regions_code"].astype(str)
    in_region = mrc_work[codes_col == region]
    if in_region.empty:
        known = ", ".join(sorted(set(codes_col)))
        msg = f"Unknown region code {region!r}; the MRC layer knows: {known}."
        raise InvalidParameterError(msg)
    all_layers = {k: to_work_crs(v, name=k) for k, v in layers.items()}
    all_layers["mrc"] = mrc_work
    region_geoms = np.asarray(in_region.geometry.array, dtype=object)
    stage1 = {k: _overlapping(g, region_geoms) for k, g in all_layers.items()}
    seeds = np.concatenate(
        [
            np.asarray(all_layers[k].geometry.array, dtype=object)[idx]
            for k, idx in stage1.items()
        ]
    )
    kept = {}
    for k, g in all_layers.items():
        idx = np.union1d(stage1[k], _overlapping(g, seeds))
        kept[k] = g.iloc[np.sort(idx)]
        logger.info(
            "Region %s: layer %s keeps %d of %d units (%d in the region).",
            region,
            k,
            len(idx),
            len(g),
            len(stage1[k]),
        )
    codes = tuple(sorted(map(str, in_region.index)))
    return RegionSelection(
        region=region,
        mrc_codes=codes,
        layers=kept,
        within={"mrc": codes},
        land=_land_near(all_layers, kept),
    )


def _land_near(
    layers: Mapping[str, gpd.GeoDataFrame], kept: Mapping[str, gpd.GeoDataFrame]
) -> gpd.GeoDataFrame | None:
    """Units of a water-free layer (first key in order) reaching the kept units' box."""
    from geodecoupage.overlay.atlas import _is_land_only

    found = sorted(k for k in layers if _is_land_only(layers[k]))
    boxes = [g.total_bounds for g in kept.values() if not g.empty]
    if not found or not boxes:
        return None
    b = np.asarray(boxes)
    x0, y0 = b[:, 0].min(), b[:, 1].min()
    x1, y1 = b[:, 2].max(), b[:, 3].max()
    land = layers[found[0]]
    return land.iloc[land.sindex.query(shapely.box(x0, y0, x1, y1))].sort_index()
