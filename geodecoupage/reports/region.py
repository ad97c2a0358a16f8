"""Restrict layers to one administrative region (for maps and reports).

Units are kept whole: a unit is selected when enough of it lies in the region, or
when it covers enough of the region, so a school service centre straddling two
regions appears in both regional reports, drawn entirely.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

import geopandas as gpd
import shapely

from geodecoupage.crs import area_m2, to_work_crs
from geodecoupage.errors import InvalidParameterError

__all__ = ["select_region"]

logger = logging.getLogger(__name__)


def select_region(
    layers: Mapping[str, gpd.GeoDataFrame],
    region: str,
    *,
    regions: gpd.GeoDataFrame | None = None,
    min_share: float = 0.05,
) -> dict[str, gpd.GeoDataFrame]:
    r"""Return the units of each layer that belong to administrative region *region*.

    Parameters
    ----------
    layers
        ``{layer_key: GeoDataFrame}`` (canonical schema, any CRS).
    region
        Two-digit region code, e.g. ``"06"`` (Montréal).
    regions
        The ``regions`` layer; default ``layers["regions"]``, else
        ``read_layer("regions")``.
    min_share
        A unit is kept when the part of it inside the region is at least this
        share of the unit or of the region.

    Returns
    -------
    dict
        The same keys, each a new GeoDataFrame (in EPSG:32198) holding only the
        selected units, attributes (``attrs``) preserved.

    Raises
    ------
    InvalidParameterError
        If *region* is not a code of the regions layer (the message lists them),
        or *min_share* is outside (0, 1].

    Notes
    -----
    With :math:`R` the region and :math:`U` a unit, :math:`U` is kept when

    .. math:: \max\left(\frac{|U \cap R|}{|U|}, \frac{|U \cap R|}{|R|}\right)
              \ge \text{min\_share}

    (areas in the equal-area CRS). The second term keeps a large unit that
    covers a good part of a small region; the threshold drops units that only
    touch the region along a misaligned border.
    """
    if not 0.0 < min_share <= 1.0:
        msg = f"min_share must be in (0, 1]; got {min_share}."
        raise InvalidParameterError(msg)
    code = str(region).strip()
    if regions is None:
        if "regions" in layers:
            regions = layers["regions"]
        else:
            from geodecoupage.layers import read_layer

            regions = read_layer("regions")
    reg = to_work_crs(regions, name="regions")
    reg.index = reg.index.astype(str)
    if code not in reg.index and code.isdigit() and code.zfill(2) in reg.index:
        code = code.zfill(2)
    if code not in reg.index:
        msg = (
            f"Unknown region {region!r}. Region codes: "
            f"{', '.join(sorted(reg.index))} (e.g. 06 for Montréal)."
        )
        raise InvalidParameterError(msg)
    shape = reg.geometry[code]
    shape_area = float(area_m2([shape])[0])
    shapely.prepare(shape)
    out: dict[str, gpd.GeoDataFrame] = {}
    for key, gdf in layers.items():
        work = to_work_crs(gdf, name=f"Layer {key!r}")
        if key == "regions":
            keep = work.index.astype(str) == code
        else:
            geoms = np.asarray(work.geometry.array, dtype=object)
            touching = shapely.intersects(geoms, shape)
            keep = np.zeros(len(work), dtype=bool)
            if touching.any():
                inter = shapely.intersection(geoms[touching], shape)
                a_in = area_m2(inter)
                a_unit = area_m2(geoms[touching])
                with np.errstate(divide="ignore", invalid="ignore"):
                    share = np.maximum(
                        np.where(a_unit > 0, a_in / a_unit, 0.0),
                        a_in / shape_area if shape_area > 0 else 0.0,
                    )
                keep[np.flatnonzero(touching)] = share >= min_share
        sel = work[keep].copy()
        sel.attrs = dict(gdf.attrs)
        sel.attrs["region"] = code
        out[key] = sel
        logger.info(
            "region %s: %s keeps %d of %d units", code, key, len(sel), len(work)
        )
    return out
