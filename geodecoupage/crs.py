"""Coordinate reference systems used by geodecoupage.

Two CRS, each with one job:

``WORK_CRS`` (EPSG:32198, NAD83 / Québec Lambert)
    Every geometry is reprojected to it before any overlay, snapping or length
    measurement. It is *conformal*, not equal-area: its area scale factor runs from
    about -1.5 % (near 53°N) to +1 % (45°N and 62°N), exact on the standard
    parallels 46°N and 60°N.
``AREA_CRS`` (Québec Albers equal-area, NAD83, standard parallels 46°N and 60°N)
    Every area reported in ``area_m2`` columns is measured in it, so areas are
    exact up to the precision of the geometry (see ``docs/methodologie.md``).

Maps reproject to EPSG:4326 only inside :mod:`geodecoupage.maps`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import geopandas as gpd
import pyproj
import shapely

from geodecoupage.errors import MissingCRSError

__all__ = [
    "AREA_CRS",
    "QUEBEC_BOUNDS_LONLAT",
    "WORK_CRS",
    "area_m2",
    "require_crs",
    "to_work_crs",
]

WORK_CRS = "EPSG:32198"
AREA_CRS = (
    "+proj=aea +lat_0=44 +lon_0=-68.5 +lat_1=46 +lat_2=60 "
    "+x_0=0 +y_0=0 +datum=NAD83 +units=m +no_defs"
)
#: Longitude/latitude box that holds Québec with a margin (west, south, east, north).
QUEBEC_BOUNDS_LONLAT = (-80.5, 44.5, -56.5, 63.0)

_WORK = pyproj.CRS.from_user_input(WORK_CRS)
_AREA = pyproj.CRS.from_user_input(AREA_CRS)
_TO_AREA = pyproj.Transformer.from_crs(_WORK, _AREA, always_xy=True)


def require_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, *, name: str = "layer") -> None:
    """Raise :class:`MissingCRSError` if *gdf* has no CRS.

    Raises
    ------
    MissingCRSError
        If ``gdf.crs`` is None.
    """
    if gdf.crs is None:
        msg = (
            f"{name} has no CRS. Set the source CRS explicitly, e.g. "
            f"gdf.set_crs('EPSG:4326') for longitude/latitude, before calling "
            f"geodecoupage (never guess: a wrong CRS moves every border)."
        )
        raise MissingCRSError(msg)


def to_work_crs(gdf: gpd.GeoDataFrame, *, name: str = "layer") -> gpd.GeoDataFrame:
    """Return a new GeoDataFrame in :data:`WORK_CRS` (EPSG:32198).

    Raises
    ------
    MissingCRSError
        If *gdf* has no CRS.
    """
    require_crs(gdf, name=name)
    if gdf.crs.equals(_WORK):
        return gdf.copy()
    return gdf.to_crs(WORK_CRS)


def area_m2(geoms: Any, *, crs: Any = WORK_CRS) -> np.ndarray:
    """Return the equal-area area, in m², of each geometry.

    Geometries in *crs* (default :data:`WORK_CRS`) are reprojected to
    :data:`AREA_CRS` (an Albers equal-area projection centred on Québec) and
    measured there, so the result carries no projection area error.

    Parameters
    ----------
    geoms
        A GeoSeries, or an array-like of shapely geometries in *crs*.
    crs
        The CRS of *geoms* when they are not a GeoSeries.

    Returns
    -------
    numpy.ndarray
        float64 areas in square metres; 0 for empty or missing geometries.
    """
    if isinstance(geoms, gpd.GeoSeries | gpd.GeoDataFrame):
        if geoms.crs is None:
            msg = "area_m2 needs geometries with a CRS; got a GeoSeries with none."
            raise MissingCRSError(msg)
        crs = geoms.crs
        arr = np.asarray(geoms.geometry.array if hasattr(geoms, "geometry") else geoms)
    else:
        arr = np.asarray(geoms, dtype=object)
    src = pyproj.CRS.from_user_input(crs)
    if src.equals(_WORK):
        transformer = _TO_AREA
    else:
        transformer = pyproj.Transformer.from_crs(src, _AREA, always_xy=True)
    projected = shapely.transform(
        arr, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )
    out = shapely.area(projected)
    return np.nan_to_num(np.asarray(out, dtype="float64"), nan=0.0)
