"""Display geometry: simplify in metres (EPSG:32198), then longitude/latitude.

Simplification is for display only; no measure is ever taken on its output.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

import geopandas as gpd
import shapely

from geodecoupage.crs import WORK_CRS, to_work_crs
from geodecoupage.errors import InvalidParameterError

__all__ = [
    "auto_tolerance_m",
    "coordinate_decimals",
    "display_geometries",
    "simplify_layer",
]

logger = logging.getLogger(__name__)

_NICE = (1.0, 2.0, 5.0)
_M_PER_DEGREE = 111_320.0


def auto_tolerance_m(bounds: tuple[float, float, float, float]) -> float:
    """Return a display tolerance (m) for a map of *bounds* (in EPSG:32198).

    About 1/10 000 of the extent's diagonal, rounded to 1, 2 or 5 times a power
    of ten and kept between 5 m and 500 m: ~200 m for the whole province,
    ~5-10 m for a city.
    """
    minx, miny, maxx, maxy = bounds
    diag = math.hypot(maxx - minx, maxy - miny)
    raw = diag / 10_000.0
    if not math.isfinite(raw) or raw <= 0:
        return 5.0
    exp = math.floor(math.log10(raw))
    best = min(
        (f * 10.0**e for f in _NICE for e in (exp, exp + 1)),
        key=lambda t: abs(math.log(t / raw)),
    )
    return float(min(max(best, 5.0), 500.0))


def coordinate_decimals(tolerance_m: float) -> int:
    """Return the decimals of degrees to keep for a simplification tolerance.

    Rounding error stays below a quarter of the tolerance: 4 decimals (~10 m)
    for 50 m, 5 for 10 m, at most 7 (~1 cm).
    """
    if tolerance_m <= 0:
        return 7
    return int(min(7, max(4, math.ceil(-math.log10(tolerance_m / 4 / _M_PER_DEGREE)))))


def simplify_layer(
    geoms: gpd.GeoSeries, tolerance_m: float
) -> tuple[gpd.GeoSeries, str]:
    """Simplify the polygons of one layer, keeping shared borders shared.

    Uses the coverage simplifier (``shapely.coverage_simplify``, GEOS >= 3.12),
    which simplifies each shared edge once so neighbours stay gap-free; rows it
    cannot handle (invalid coverage) fall back to a topology-preserving
    Douglas-Peucker simplification.

    Parameters
    ----------
    geoms
        Polygons in EPSG:32198.
    tolerance_m
        Tolerance in metres; 0 returns the input.

    Returns
    -------
    tuple of (GeoSeries, str)
        The simplified polygons (same index, EPSG:32198) and the method used:
        ``"coverage"``, ``"coverage+topology"``, ``"topology"`` or ``"none"``.
    """
    if tolerance_m <= 0 or len(geoms) == 0:
        return geoms.copy(), "none"
    arr = np.asarray(geoms.array, dtype=object)
    method = "topology"
    out: Any = None
    if hasattr(shapely, "coverage_simplify"):
        try:
            out = shapely.coverage_simplify(arr, tolerance_m)
            method = "coverage"
        except Exception as err:  # GEOS errors on badly broken coverages
            logger.info("coverage simplification failed (%s); falling back", err)
            out = None
    if out is None:
        out = shapely.simplify(arr, tolerance_m, preserve_topology=True)
    else:
        bad = ~shapely.is_valid(out) | shapely.is_empty(out)
        bad &= ~shapely.is_empty(arr)
        if bad.any():
            out[bad] = shapely.simplify(arr[bad], tolerance_m, preserve_topology=True)
            method = "coverage+topology"
            logger.info("%d polygon(s) simplified one by one", int(bad.sum()))
    return gpd.GeoSeries(out, index=geoms.index, crs=geoms.crs), method


def display_geometries(
    gdf: gpd.GeoDataFrame, *, tolerance_m: float, name: str = "layer"
) -> tuple[gpd.GeoSeries, str]:
    """Return *gdf*'s geometry simplified in metres, in EPSG:4326, rounded.

    Parameters
    ----------
    gdf
        A layer in any CRS (reprojected to EPSG:32198 first).
    tolerance_m
        Simplification tolerance in metres (EPSG:32198).
    name
        Layer name for error messages.

    Returns
    -------
    tuple of (GeoSeries, str)
        Longitude/latitude geometries (same index; empty ones kept as empty) and
        the simplification method.

    Raises
    ------
    InvalidParameterError
        If *tolerance_m* is negative or not finite.
    """
    if not math.isfinite(tolerance_m) or tolerance_m < 0:
        msg = f"simplify_m must be a finite number >= 0 (metres); got {tolerance_m}."
        raise InvalidParameterError(msg)
    work = to_work_crs(gdf[[gdf.geometry.name]], name=name).geometry
    if work.crs is None or not work.crs.equals(WORK_CRS):  # pragma: no cover
        work = work.to_crs(WORK_CRS)
    simple, method = simplify_layer(work, tolerance_m)
    lonlat = simple.to_crs("EPSG:4326")
    decimals = coordinate_decimals(tolerance_m)
    rounded = shapely.transform(
        np.asarray(lonlat.array, dtype=object), lambda xy: np.round(xy, decimals)
    )
    return gpd.GeoSeries(rounded, index=gdf.index, crs="EPSG:4326"), method
