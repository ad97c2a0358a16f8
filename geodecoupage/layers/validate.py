"""Check a boundary layer, collect every problem, and repair what can be repaired.

Validation follows the *accumulate, then raise once* pattern:
:func:`validate_layer` returns a list of :class:`Issue` (it never raises on bad
data), :func:`check_layer` turns warnings into :class:`LayerQualityWarning` and
raises a single :class:`LayerValidationError` listing every error, and
:func:`repair_layer` fixes what can be fixed without guessing (invalid rings,
GeometryCollections, empty geometries) and says what it changed.

Issue codes (severity: meaning)
-------------------------------
- ``not-geodataframe`` (error): not a GeoDataFrame with an active geometry
- ``empty-layer`` (error): no feature at all
- ``no-crs`` (error): no coordinate reference system
- ``missing-column`` (error): an expected column (e.g. ``nom``) is absent
- ``null-code`` (error): a unit without code (index)
- ``duplicate-code`` (error): the same code on several features
- ``empty-geometry`` (error): null or empty geometry
- ``not-polygon`` (error): points, lines or GeometryCollections
- ``non-finite-coordinates`` (error): NaN or infinite coordinates
- ``invalid-geometry`` (error): self-intersection, bad ring (OGC validity)
- ``not-degrees`` (error): geographic CRS, coordinates beyond ±180°/±90°
- ``outside-quebec`` (error): features entirely outside Québec's extent
- ``unplaceable-crs`` (error): a CRS with no conversion to longitude/latitude
- ``code-not-string`` (warning): codes stored as numbers (leading zeros lost)
- ``partly-outside-quebec`` (warning): features reaching beyond Québec's extent
- ``overlap`` (warning): units of a tiling layer overlapping each other
- ``gap`` (warning): holes inside the union of a tiling layer
- ``tiling-not-checked`` (warning): too many units for the overlap/gap check
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

import geopandas as gpd
import pyproj
import shapely

from geodecoupage.crs import QUEBEC_BOUNDS_LONLAT, WORK_CRS, area_m2
from geodecoupage.errors import LayerQualityWarning, LayerValidationError

logger = logging.getLogger(__name__)

__all__ = [
    "MAX_TILING_UNITS",
    "OVERLAP_TOLERANCE_M2",
    "REPAIRABLE",
    "Issue",
    "RepairResult",
    "Severity",
    "check_layer",
    "repair_layer",
    "unrepairable",
    "validate_layer",
]

Severity = Literal["error", "warning"]

#: Overlaps (per pair of units) and gaps (per hole) smaller than this, in m², are
#: numerical noise from digitising, not a quality problem.
OVERLAP_TOLERANCE_M2 = 1_000.0
#: Above this many units the overlap/gap check is skipped (with a warning): it
#: costs about 50 µs per unit (GEOS coverage validation), and an administrative
#: layer of that many units is more likely a wrong file (un-dissolved parts).
MAX_TILING_UNITS = 20_000

_MAX_LISTED = 5
#: Errors that :func:`repair_layer` can fix; anything else stops a read at once.
REPAIRABLE = frozenset({"invalid-geometry", "empty-geometry", "not-polygon"})
_POLYGONAL = frozenset({"Polygon", "MultiPolygon"})
_LONLAT = pyproj.CRS.from_epsg(4326)


@dataclass(frozen=True)
class Issue:
    """One problem found in a layer.

    Attributes
    ----------
    severity
        ``"error"`` blocks use of the layer; ``"warning"`` is reported only.
    code
        Stable slug, e.g. ``"duplicate-code"`` (see the module docstring).
    message
        What is wrong, where (layer, column, first offending codes and their
        count) and how to fix it.
    codes
        Every offending unit code (as text), for programs; empty when the issue
        concerns the whole layer.
    """

    severity: Severity
    code: str
    message: str
    codes: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"[{self.severity}:{self.code}] {self.message}"


@dataclass(frozen=True)
class RepairResult:
    """What :func:`repair_layer` returns.

    Attributes
    ----------
    gdf
        The repaired copy (same columns, index, CRS and ``attrs``).
    changes
        One human sentence per kind of change, empty when nothing changed.
    """

    gdf: gpd.GeoDataFrame
    changes: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# helpers


def _codes_text(index: pd.Index, mask: np.ndarray | None = None) -> tuple[str, ...]:
    values = index if mask is None else index[np.asarray(mask, dtype=bool)]
    return tuple("<null>" if pd.isna(v) else str(v) for v in values)


def _listing(codes: Sequence[str]) -> str:
    """Return ``'a', 'b', 'c', 'd', 'e' and 7 more (12 in all)``."""
    shown = ", ".join(repr(c) for c in codes[:_MAX_LISTED])
    if len(codes) > _MAX_LISTED:
        return f"{shown} and {len(codes) - _MAX_LISTED} more ({len(codes)} in all)"
    return shown


def _plural(n: int, word: str) -> str:
    if n == 1:
        return f"{n} {word}"
    if word.endswith("y"):
        return f"{n} {word[:-1]}ies"
    return f"{n} {word}s"


def _geometry_array(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return np.asarray(gdf.geometry.array, dtype=object)


def _finite_mask(geoms: np.ndarray) -> np.ndarray:
    """True where every coordinate of the geometry is finite (null/empty: True)."""
    coords, idx = shapely.get_coordinates(geoms, include_z=False, return_index=True)
    ok = np.ones(len(geoms), dtype=bool)
    if len(coords):
        bad = ~np.isfinite(coords).all(axis=1)
        ok[np.unique(idx[bad])] = False
    return ok


@functools.lru_cache(maxsize=32)
def _to_lonlat(wkt: str) -> pyproj.Transformer:
    """Transformer from the CRS *wkt* to lon/lat (cached: building one is slow)."""
    return pyproj.Transformer.from_crs(wkt, _LONLAT, always_xy=True)


def _lonlat_boxes(geoms: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    """Per-feature (minlon, minlat, maxlon, maxlat) from every vertex; NaN if none.

    Vertices are reprojected (not bounding-box corners) so that large features in
    a conic projection are not reported outside Québec by their bbox corners.
    Coordinates that cannot be reprojected become infinite.
    """
    n = len(geoms)
    out = np.full((n, 4), np.nan)
    coords, idx = shapely.get_coordinates(geoms, include_z=False, return_index=True)
    if not len(coords):
        return out
    if crs.equals(_LONLAT):  # geopandas keeps x = longitude whatever the axis order
        lon, lat = coords[:, 0], coords[:, 1]
    else:
        transformer = _to_lonlat(crs.to_wkt())
        with np.errstate(invalid="ignore"):
            lon, lat = transformer.transform(coords[:, 0], coords[:, 1], errcheck=False)
        lon = np.where(np.isfinite(lon), lon, np.inf)
        lat = np.where(np.isfinite(lat), lat, np.inf)
    # idx is sorted by feature: reduce per run.
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    feats = idx[starts]
    out[feats, 0] = np.minimum.reduceat(lon, starts)
    out[feats, 1] = np.minimum.reduceat(lat, starts)
    out[feats, 2] = np.maximum.reduceat(lon, starts)
    out[feats, 3] = np.maximum.reduceat(lat, starts)
    return out


def _layer_inside(
    sub: np.ndarray, crs: pyproj.CRS, bounds: tuple[float, float, float, float]
) -> bool:
    """Fast path: True when the whole layer's box, reprojected, is inside *bounds*.

    The box is densified (21 points per side) so curved parallels are followed.
    """
    total = shapely.total_bounds(sub)
    if not np.isfinite(total).all():
        return False
    if crs.equals(_LONLAT):
        box = tuple(float(v) for v in total)
    else:
        try:
            w, s, e, n = (float(v) for v in total)
            box = _to_lonlat(crs.to_wkt()).transform_bounds(w, s, e, n, densify_pts=21)
        except pyproj.exceptions.ProjError:
            return False
    arr = np.asarray([box], dtype="float64")
    return bool(np.isfinite(arr).all() and _in_box(arr, bounds)[0])


def _in_box(box: np.ndarray, bounds: tuple[float, float, float, float]) -> np.ndarray:
    w, s, e, n = bounds
    return (box[:, 0] >= w) & (box[:, 2] <= e) & (box[:, 1] >= s) & (box[:, 3] <= n)


def _hits_box(box: np.ndarray, bounds: tuple[float, float, float, float]) -> np.ndarray:
    w, s, e, n = bounds
    return (box[:, 2] >= w) & (box[:, 0] <= e) & (box[:, 3] >= s) & (box[:, 1] <= n)


def _km2(m2: float) -> str:
    """Format an area given in m² as km²: 3 significant digits, no exponent."""
    km2 = float(m2) / 1e6
    return f"{km2:,.0f} km²" if km2 >= 100 else f"{km2:.3g} km²"


def _fmt_lonlat(lon: float, lat: float) -> str:
    return f"lon {lon:.4g}, lat {lat:.4g}"


def _crs_label(crs: pyproj.CRS) -> str:
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else (crs.name or "the declared CRS")


# ---------------------------------------------------------------------------
# individual checks (each returns zero or more issues)


def _check_codes(gdf: gpd.GeoDataFrame, name: str) -> list[Issue]:
    issues: list[Issue] = []
    index = gdf.index
    col = f"index {index.name!r}" if index.name else "the index"
    null = np.asarray(pd.isna(index), dtype=bool)
    if null.any():
        n = int(null.sum())
        rows = [str(i) for i in np.flatnonzero(null)]
        issues.append(
            Issue(
                "error",
                "null-code",
                f"Layer {name!r}: {_plural(n, 'feature')} with no code in {col} "
                f"(row positions {_listing(rows)}). Every unit needs its official "
                f"code: fill them in the source, or drop those features.",
                codes=("<null>",) * n,
            )
        )
    dup_mask = np.asarray(index.duplicated(keep=False), dtype=bool) & ~null
    if dup_mask.any():
        dups = pd.unique(np.asarray(index[dup_mask], dtype=object))
        codes = tuple(str(c) for c in dups)
        issues.append(
            Issue(
                "error",
                "duplicate-code",
                f"Layer {name!r}: {_plural(len(codes), 'code')} used by more than one "
                f"feature in {col} ({int(dup_mask.sum())} features): "
                f"{_listing(codes)}. Dissolve the parts of each unit into one "
                f"(gdf.dissolve(by=...)) or fix the codes in the source.",
                codes=codes,
            )
        )
    kind = index.inferred_type
    if len(index) and kind in {"integer", "floating", "mixed-integer-float", "decimal"}:
        issues.append(
            Issue(
                "warning",
                "code-not-string",
                f"Layer {name!r}: codes in {col} are numbers ({index.dtype}), not "
                f"text; codes such as '01' would have lost their leading zero. Read "
                f"the code column as text (dtype=str) or zero-pad it "
                f"(e.g. index.astype(str).str.zfill(2)).",
            )
        )
    return issues


def _check_geometry(
    gdf: gpd.GeoDataFrame, name: str, geoms: np.ndarray, *, validity: bool = True
) -> tuple[list[Issue], np.ndarray]:
    """Return issues and the mask of features usable for spatial checks."""
    issues: list[Issue] = []
    index = gdf.index
    null = np.asarray(shapely.is_missing(geoms), dtype=bool)
    empty = np.asarray(shapely.is_empty(geoms), dtype=bool) & ~null
    if null.any() or empty.any():
        parts = []
        if null.any():
            parts.append(f"{int(null.sum())} missing (null)")
        if empty.any():
            parts.append(f"{int(empty.sum())} empty")
        codes = _codes_text(index, null | empty)
        issues.append(
            Issue(
                "error",
                "empty-geometry",
                f"Layer {name!r}: {' and '.join(parts)} geometr"
                f"{'y' if len(codes) == 1 else 'ies'} for code(s) {_listing(codes)}. "
                f"Drop these features or restore their shapes (repair=True / "
                f"repair_layer drops them and says so).",
                codes=codes,
            )
        )
    present = ~(null | empty)
    types = np.asarray(shapely.get_type_id(geoms))
    # 3 Polygon, 6 MultiPolygon
    not_poly = present & ~np.isin(types, (3, 6))
    if not_poly.any():
        kinds = pd.Series(shapely.geometry.base.GEOMETRY_TYPES)[types[not_poly]]
        counts = ", ".join(f"{k} ×{v}" for k, v in kinds.value_counts().items())
        codes = _codes_text(index, not_poly)
        has_gc = bool((types[not_poly] == 7).any())
        fix = (
            "repair=True / repair_layer keeps the polygonal parts of "
            "GeometryCollections"
            if has_gc
            else "a boundary layer must hold areas: check that you loaded the "
            "polygon layer, not its centroids or outlines"
        )
        issues.append(
            Issue(
                "error",
                "not-polygon",
                f"Layer {name!r}: {_plural(len(codes), 'feature')} not (Multi)Polygon "
                f"({counts}): {_listing(codes)}. Only polygons are supported; {fix}.",
                codes=codes,
            )
        )
    finite = _finite_mask(geoms)
    bad_coords = present & ~finite
    if bad_coords.any():
        codes = _codes_text(index, bad_coords)
        issues.append(
            Issue(
                "error",
                "non-finite-coordinates",
                f"Layer {name!r}: {_plural(len(codes), 'feature')} with NaN or "
                f"infinite coordinates: {_listing(codes)}. The file is corrupt or was "
                f"written from failed computations; export it again from the source.",
                codes=codes,
            )
        )
    usable = present & finite
    check = usable & np.isin(types, (3, 6)) & validity
    valid = np.ones(len(geoms), dtype=bool)
    # huge but finite coordinates (e.g. -1e308) overflow inside GEOS's predicates;
    # the geometry is reported below, numpy's overflow warning is not a finding
    with np.errstate(all="ignore"):
        if check.any():
            valid[check] = shapely.is_valid(geoms[check])
        invalid = check & ~valid
        first = np.flatnonzero(invalid)[:1]
        reason = shapely.is_valid_reason(geoms[first[0]]) if invalid.any() else ""
    if invalid.any():
        codes = _codes_text(index, invalid)
        issues.append(
            Issue(
                "error",
                "invalid-geometry",
                f"Layer {name!r}: {_plural(len(codes), 'invalid geometry')} "
                f"(first: {codes[0]!r}, {reason}): {_listing(codes)}. Repair them "
                f"with repair=True / repair_layer (shapely.make_valid), or in QGIS "
                f"(Fix geometries).",
                codes=codes,
            )
        )
    return issues, usable


def _check_extent(
    gdf: gpd.GeoDataFrame, name: str, geoms: np.ndarray, usable: np.ndarray
) -> list[Issue]:
    if not usable.any() or gdf.crs is None:
        return []
    crs = pyproj.CRS.from_user_input(gdf.crs)
    index = gdf.index
    sub = geoms[usable]
    bounds = QUEBEC_BOUNDS_LONLAT
    if crs.is_geographic:
        b = shapely.total_bounds(sub)
        if abs(b[0]) > 180 or abs(b[2]) > 180 or abs(b[1]) > 90 or abs(b[3]) > 90:
            return [
                Issue(
                    "error",
                    "not-degrees",
                    f"Layer {name!r} declares the geographic CRS {_crs_label(crs)} "
                    f"but its coordinates reach x {b[0]:.6g}..{b[2]:.6g}, "
                    f"y {b[1]:.6g}..{b[3]:.6g}, beyond ±180°/±90°: they are probably "
                    f"metres labelled as degrees. Declare the real CRS of the file "
                    f"(e.g. EPSG:32198 Québec Lambert, or the .prj of the source), "
                    f"never by reprojecting.",
                    codes=_codes_text(index, usable),
                )
            ]
    try:
        _to_lonlat(crs.to_wkt())
    except pyproj.exceptions.ProjError:
        return [
            Issue(
                "error",
                "unplaceable-crs",
                f"Layer {name!r} declares the CRS {crs.name!r}, which cannot be "
                f"converted to longitude/latitude (a local or engineering CRS), so "
                f"its features cannot be placed in Québec. Declare the real CRS of "
                f"the coordinates (e.g. EPSG:32198), from the source's metadata.",
                codes=_codes_text(index, usable),
            )
        ]
    if _layer_inside(sub, crs, bounds):
        return []
    boxes = np.full((len(geoms), 4), np.nan)
    boxes[usable] = _lonlat_boxes(sub, crs)
    has_box = usable & np.isfinite(boxes).all(axis=1)
    unprojectable = usable & ~has_box
    inside = np.zeros(len(geoms), dtype=bool)
    hits = np.zeros(len(geoms), dtype=bool)
    inside[has_box] = _in_box(boxes[has_box], bounds)
    hits[has_box] = _hits_box(boxes[has_box], bounds)
    outside = unprojectable | (has_box & ~hits)
    partly = has_box & hits & ~inside
    issues: list[Issue] = []
    box_txt = f"lon {bounds[0]}..{bounds[2]}, lat {bounds[1]}..{bounds[3]} (EPSG:4326)"
    if outside.any():
        codes = _codes_text(index, outside)
        hint = _extent_hint(sub, crs, boxes[outside & has_box])
        whole = "All" if outside[usable].all() else "Some"
        issues.append(
            Issue(
                "error",
                "outside-quebec",
                f"Layer {name!r}: {whole.lower()} features lie entirely outside "
                f"Québec's extent ({box_txt}): {_plural(len(codes), 'feature')}, "
                f"{_listing(codes)}. {hint}",
                codes=codes,
            )
        )
    if partly.any():
        codes = _codes_text(index, partly)
        b = boxes[partly]
        reach = _fmt_lonlat(
            float(b[:, 0].min()) if b[:, 0].min() < bounds[0] else float(b[:, 2].max()),
            float(b[:, 1].min()) if b[:, 1].min() < bounds[1] else float(b[:, 3].max()),
        )
        issues.append(
            Issue(
                "warning",
                "partly-outside-quebec",
                f"Layer {name!r}: {_plural(len(codes), 'feature')} reach beyond "
                f"Québec's extent ({box_txt}; up to {reach}): {_listing(codes)}. "
                f"Fine for a territory straddling a border; otherwise check the "
                f"declared CRS.",
                codes=codes,
            )
        )
    return issues


def _extent_hint(sub: np.ndarray, crs: pyproj.CRS, boxes: np.ndarray) -> str:
    """Guess why a layer lies outside Québec: swapped axes, wrong units, wrong CRS."""
    b = shapely.total_bounds(sub)
    w, s, e, n = QUEBEC_BOUNDS_LONLAT
    label = _crs_label(crs)
    if crs.is_geographic and s <= b[0] and b[2] <= n and w <= b[1] and b[3] <= e:
        return (
            f"The coordinates look like latitude/longitude swapped (x is "
            f"{b[0]:.4g}..{b[2]:.4g}, y is {b[1]:.4g}..{b[3]:.4g}): write longitude "
            f"first (x = longitude, as GeoJSON requires), e.g. "
            f"gdf.set_geometry(shapely.transform(gdf.geometry, lambda c: c[:, ::-1]))."
        )
    if crs.is_projected and abs(b[0]) <= 180 and abs(b[2]) <= 180 and abs(b[1]) <= 90:
        return (
            f"The file declares the projected CRS {label} but its coordinates "
            f"(x {b[0]:.4g}..{b[2]:.4g}, y {b[1]:.4g}..{b[3]:.4g}) look like degrees: "
            f"declare EPSG:4326 instead."
        )
    if len(boxes):
        c = boxes.mean(axis=0)
        where = _fmt_lonlat(float((c[0] + c[2]) / 2), float((c[1] + c[3]) / 2))
        return (
            f"Read with the declared CRS {label} they fall around {where}. If the "
            f"territory is in Québec, the declared CRS is wrong: declare the real one "
            f"(check the source's .prj or metadata); otherwise this tool does not "
            f"apply to it."
        )
    return (
        f"Their coordinates cannot be converted from the declared CRS {label} to "
        f"longitude/latitude: the declared CRS is probably wrong; declare the real one."
    )


def _check_tiling(
    gdf: gpd.GeoDataFrame,
    name: str,
    geoms: np.ndarray,
    usable: np.ndarray,
    tolerance_m2: float,
) -> list[Issue]:
    crs = pyproj.CRS.from_user_input(gdf.crs)
    work = pyproj.CRS.from_user_input(WORK_CRS)
    poly = usable & np.isin(np.asarray(shapely.get_type_id(geoms)), (3, 6))
    if poly.sum() < 1:
        return []
    positions = np.flatnonzero(poly)
    sub = gpd.GeoSeries(geoms[poly], crs=crs)
    if not crs.equals(work):
        sub = sub.to_crs(work)
    arr = np.asarray(sub.array, dtype=object)
    bad = ~shapely.is_valid(arr)
    if bad.any():
        arr = arr.copy()
        arr[bad] = shapely.make_valid(
            arr[bad], method="structure", keep_collapsed=False
        )
    if _coverage_is_valid(arr):
        # A valid coverage has no overlap by construction, and its union is cheap.
        return _gaps(name, shapely.coverage_union_all(arr), tolerance_m2)
    issues = _overlaps(gdf.index, name, arr, positions, tolerance_m2)
    issues += _gaps(name, shapely.union_all(arr), tolerance_m2)
    return issues


def _coverage_is_valid(arr: np.ndarray) -> bool:
    """True when *arr* is a valid polygonal coverage (GEOS >= 3.12), else False."""
    fn = getattr(shapely, "coverage_is_valid", None)
    if fn is None:  # pragma: no cover - shapely < 2.1
        return False
    return bool(fn(arr))


def _suspects(arr: np.ndarray) -> np.ndarray:
    """Mask of the polygons that may overlap another one (have invalid edges)."""
    fn = getattr(shapely, "coverage_invalid_edges", None)
    if fn is None:  # pragma: no cover - shapely < 2.1
        return np.ones(len(arr), dtype=bool)
    return ~np.asarray(shapely.is_empty(fn(arr)), dtype=bool)


def _overlaps(
    index: pd.Index,
    name: str,
    arr: np.ndarray,
    positions: np.ndarray,
    tolerance_m2: float,
) -> list[Issue]:
    if len(arr) < 2:
        return []
    # In an overlapping pair, at least one unit has an edge inside the other
    # (an invalid coverage edge, GEOS CoverageValidator). Candidate pairs: such
    # a unit and every unit whose bounding box meets it (STR-tree); the test is
    # the equal-area area of the intersection (0 for units that merely touch).
    sus = np.flatnonzero(_suspects(arr))
    if not len(sus):
        return []
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr[sus])
    left = sus[left]
    keep = left != right
    pairs = np.unique(
        np.column_stack([np.minimum(left, right), np.maximum(left, right)])[keep],
        axis=0,
    )
    if not len(pairs):
        return []
    a, b = pairs[:, 0], pairs[:, 1]
    inter = shapely.intersection(arr[a], arr[b])
    areas = area_m2(inter, crs=WORK_CRS)
    big = areas > tolerance_m2
    if not big.any():
        return []
    a, b, areas = a[big], b[big], areas[big]
    order = np.argsort(-areas)
    labels = [
        f"{_code(index, positions[a[k]])}/{_code(index, positions[b[k]])} "
        f"({_km2(areas[k])})"
        for k in order[:_MAX_LISTED]
    ]
    more = f" and {len(a) - _MAX_LISTED} more" if len(a) > _MAX_LISTED else ""
    codes = tuple(
        dict.fromkeys(
            _code(index, positions[i]) for i in np.concatenate([a[order], b[order]])
        )
    )
    return [
        Issue(
            "warning",
            "overlap",
            f"Layer {name!r} should tile the territory, but "
            f"{_plural(len(a), 'pair')} of units overlap"
            f"{'s' if len(a) == 1 else ''} by more than "
            f"{tolerance_m2:g} m² ({_km2(areas.sum())} in all): "
            f"{', '.join(labels)}{more}. Overlapping units are counted twice in "
            f"crosswalks; fix the borders in the source (QGIS: Check validity / "
            f"Topology checker) or assign each overlap to one unit.",
            codes=codes,
        )
    ]


def _code(index: pd.Index, pos: int) -> str:
    value = index[pos]
    return "<null>" if pd.isna(value) else str(value)


def _gaps(name: str, union: Any, tolerance_m2: float) -> list[Issue]:
    polys = [g for g in shapely.get_parts(union) if g.geom_type == "Polygon"]
    holes = [shapely.Polygon(r) for p in polys for r in p.interiors]
    if not holes:
        return []
    hole_arr = np.asarray(holes, dtype=object)
    areas = area_m2(hole_arr, crs=WORK_CRS)
    big = areas > tolerance_m2
    if not big.any():
        return []
    hole_arr, areas = hole_arr[big], areas[big]
    order = np.argsort(-areas)
    pts = gpd.GeoSeries(shapely.point_on_surface(hole_arr[order[:_MAX_LISTED]]))
    pts = pts.set_crs(WORK_CRS).to_crs(_LONLAT)
    where = ", ".join(
        f"{_km2(areas[k])} at {_fmt_lonlat(p.x, p.y)}"
        for k, p in zip(order[:_MAX_LISTED], pts, strict=True)
    )
    more = f" and {len(areas) - _MAX_LISTED} more" if len(areas) > _MAX_LISTED else ""
    return [
        Issue(
            "warning",
            "gap",
            f"Layer {name!r} should tile the territory, but its union has "
            f"{_plural(len(areas), 'hole')} larger than {tolerance_m2:g} m² "
            f"({_km2(areas.sum())} in all): {where}{more}. Holes are places "
            f"no unit covers; if they are real (lakes, enclaves of another "
            f"jurisdiction) ignore this, otherwise fix the borders in the source.",
        )
    ]


# ---------------------------------------------------------------------------
# public API


def validate_layer(
    gdf: Any,
    *,
    name: str,
    tiles: bool = False,
    expected_columns: Iterable[str] = ("nom",),
    tolerance_m2: float = OVERLAP_TOLERANCE_M2,
    max_tiling_units: int | None = MAX_TILING_UNITS,
    _validity: bool = True,
) -> list[Issue]:
    """Return every problem found in a boundary layer; never raise on bad data.

    Parameters
    ----------
    gdf
        The layer: a GeoDataFrame indexed by unit code (canonical schema), in
        any CRS.
    name
        Layer name used in messages (a catalogue key or a file name).
    tiles
        The layer is meant to tile its territory (a partition): also look for
        overlaps between units and gaps inside the layer (warnings).
    expected_columns
        Columns that must be present.
    tolerance_m2
        Overlaps (per pair) and gaps (per hole) up to this area are ignored.
    max_tiling_units
        With *tiles*, layers with more units than this are not checked for
        overlaps and gaps (a ``tiling-not-checked`` warning says so), which
        bounds the time taken; ``None`` checks any size.
    _validity
        Private: ``False`` skips the OGC validity test (for callers that will
        repair the layer anyway).

    Returns
    -------
    list of Issue
        Errors first, then warnings; empty when the layer is clean.

    Notes
    -----
    Checks, in order: the object type, emptiness, the CRS, expected columns,
    codes (null, duplicate, numeric), geometries (null/empty, non-polygon,
    non-finite coordinates, OGC validity), the extent against
    :data:`geodecoupage.crs.QUEBEC_BOUNDS_LONLAT` (every vertex reprojected to
    longitude/latitude; a geographic CRS with coordinates beyond ±180°/±90° is
    reported as metres labelled as degrees, and a layer that would fit Québec
    with its axes swapped as latitude/longitude swapped), then, when *tiles*,
    overlaps and gaps.

    Overlaps: candidate pairs come from an STR-tree query with the ``overlaps``
    and ``contains`` predicates (pairs that merely touch are skipped); a pair is
    reported when the equal-area area of its intersection exceeds
    *tolerance_m2*. Gaps: the interior rings (holes) of the union of the layer
    larger than *tolerance_m2*; a gap open to the outside of the layer is not
    seen, which keeps the check cheap. Overlap and gap checks are skipped when
    there are blocking extent errors, since the geometry cannot be placed.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> sq = shapely.box(-100_000, 200_000, -90_000, 210_000)
    >>> gdf = gpd.GeoDataFrame({"nom": ["A", "B"]}, geometry=[sq, sq],
    ...                        index=pd.Index(["01", "01"], name="code"),
    ...                        crs="EPSG:32198")
    >>> [i.code for i in validate_layer(gdf, name="demo")]
    ['duplicate-code']
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        return [
            Issue(
                "error",
                "not-geodataframe",
                f"Layer {name!r} is a {type(gdf).__name__}, not a GeoDataFrame. Read "
                f"it with geopandas.read_file or geodecoupage.read_territory.",
            )
        ]
    try:
        geoms = _geometry_array(gdf)
    except AttributeError:
        return [
            Issue(
                "error",
                "not-geodataframe",
                f"Layer {name!r} has no active geometry column (columns: "
                f"{', '.join(map(str, gdf.columns))}). Call set_geometry(...) first.",
            )
        ]
    issues: list[Issue] = []
    if len(gdf) == 0:
        issues.append(
            Issue(
                "error",
                "empty-layer",
                f"Layer {name!r} has no feature. Check the file, the layer name "
                f"(GeoPackage) or any filter applied before.",
            )
        )
    if gdf.crs is None:
        issues.append(
            Issue(
                "error",
                "no-crs",
                f"Layer {name!r} has no CRS. Set the source CRS explicitly, e.g. "
                f"gdf.set_crs('EPSG:4326') for longitude/latitude or "
                f"gdf.set_crs('EPSG:32198') for Québec Lambert metres (read_territory: "
                f"crs=...; a shapefile: add its .prj). Never guess: a wrong CRS moves "
                f"every border.",
            )
        )
    missing = [c for c in expected_columns if c not in gdf.columns]
    if missing:
        present = [str(c) for c in gdf.columns if c != gdf.geometry.name]
        issues.append(
            Issue(
                "error",
                "missing-column",
                f"Layer {name!r} lacks column(s) {', '.join(map(repr, missing))} "
                f"(columns present: {', '.join(present) or 'none'}). Rename the "
                f"matching column, e.g. gdf.rename(columns={{'NAME': 'nom'}}).",
            )
        )
    issues += _check_codes(gdf, name)
    geom_issues, usable = _check_geometry(gdf, name, geoms, validity=_validity)
    issues += geom_issues
    extent = _check_extent(gdf, name, geoms, usable)
    issues += extent
    placed = not any(i.severity == "error" for i in extent)
    if tiles and placed and gdf.crs is not None and usable.any():
        n_units = int(usable.sum())
        if max_tiling_units is not None and n_units > max_tiling_units:
            issues.append(
                Issue(
                    "warning",
                    "tiling-not-checked",
                    f"Layer {name!r} has {n_units} units, more than "
                    f"{max_tiling_units}: overlaps and gaps were not checked, to "
                    f"keep validation fast. So many units is unusual for an "
                    f"administrative layer: check that this is the right file (parts "
                    f"of one unit share its code: dissolve them). To check anyway: "
                    f"validate_layer(gdf, name=..., tiles=True, "
                    f"max_tiling_units=None), about 50 µs per unit.",
                )
            )
        else:
            issues += _check_tiling(gdf, name, geoms, usable, tolerance_m2)
    issues.sort(key=lambda i: i.severity != "error")  # stable: errors first
    return issues


def check_layer(
    gdf: Any,
    *,
    name: str,
    tiles: bool = False,
    expected_columns: Iterable[str] = ("nom",),
    tolerance_m2: float = OVERLAP_TOLERANCE_M2,
    max_tiling_units: int | None = MAX_TILING_UNITS,
) -> list[Issue]:
    """Validate a layer: warn for each warning, raise once with every error.

    Parameters are those of :func:`validate_layer`.

    Returns
    -------
    list of Issue
        The warnings (already emitted), when there is no error.

    Raises
    ------
    LayerValidationError
        If any error was found; ``err.issues`` holds all of them and the message
        lists each one.

    Warns
    -----
    LayerQualityWarning
        Once per warning (overlaps, gaps, numeric codes, partial extent).
    """
    issues = validate_layer(
        gdf,
        name=name,
        tiles=tiles,
        expected_columns=expected_columns,
        tolerance_m2=tolerance_m2,
        max_tiling_units=max_tiling_units,
    )
    errors = [i for i in issues if i.severity == "error"]
    found = [i for i in issues if i.severity == "warning"]
    for w in found:
        warnings.warn(w.message, LayerQualityWarning, stacklevel=2)
    if errors:
        raise LayerValidationError(name, errors)
    return found


def unrepairable(issues: Iterable[Issue], *, repair: bool) -> list[Issue]:
    """The errors among *issues* that :func:`repair_layer` cannot fix.

    Readers check these on the layer *as read* (source CRS) before repairing:
    a repair of coordinates in the wrong unit or of non-finite coordinates
    overflows or silently drops units. With ``repair=False`` every error counts.
    """
    errors = [i for i in issues if i.severity == "error"]
    if not repair:
        return errors
    return [i for i in errors if i.code not in REPAIRABLE]


def _polygonal_part(geom: Any) -> Any:
    """Return the polygonal part of *geom* as a valid (Multi)Polygon, or None.

    Collections are flattened at any depth (GeometryCollections may nest);
    several polygons are merged with a union, so parts that overlap or share
    an edge give a valid result.
    """
    if geom is None:
        return None
    if geom.geom_type in _POLYGONAL:
        return geom
    parts = np.asarray([geom], dtype=object)
    while np.isin(shapely.get_type_id(parts), (4, 5, 6, 7)).any():
        parts = shapely.get_parts(parts)
    polys = [p for p in parts if p.geom_type == "Polygon" and not p.is_empty]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else shapely.union_all(polys)


def repair_layer(gdf: gpd.GeoDataFrame, *, name: str) -> RepairResult:
    """Fix the geometry problems that can be fixed without guessing.

    Invalid polygons are made valid (``shapely.make_valid``, method
    ``"structure"``, collapsed parts dropped); GeometryCollections and other
    mixed results keep only their polygonal parts (merged into one
    (Multi)Polygon; MultiPolygons are kept, never exploded); features left with
    no polygonal geometry (null, empty, points, lines) are dropped. Codes,
    columns, CRS and ``attrs`` are unchanged. Features with NaN or infinite
    coordinates are left as they are (nothing can be inferred); validation
    still reports them.

    Parameters
    ----------
    gdf
        The layer; never modified.
    name
        Layer name used in the change descriptions.

    Returns
    -------
    RepairResult
        The repaired copy and one sentence per kind of change (empty when
        nothing changed). Repairing a repaired layer changes nothing.
    """
    out = gdf.copy()
    geoms = _geometry_array(out).copy()
    index = out.index
    null = np.asarray(shapely.is_missing(geoms), dtype=bool)
    finite = _finite_mask(geoms)
    changes: list[str] = []

    fixable = ~null & finite & ~np.asarray(shapely.is_empty(geoms), dtype=bool)
    invalid = np.zeros(len(geoms), dtype=bool)
    invalid[fixable] = ~shapely.is_valid(geoms[fixable])
    if invalid.any():
        geoms[invalid] = shapely.make_valid(
            geoms[invalid], method="structure", keep_collapsed=False
        )
        codes = _codes_text(index, invalid)
        changes.append(
            f"{name}: made {_plural(len(codes), 'invalid geometry')} valid "
            f"(shapely.make_valid): {_listing(codes)}"
        )
    # Anything not a (Multi)Polygon now keeps only its polygonal part, if any.
    types = np.asarray(shapely.get_type_id(geoms))
    mixed = fixable & ~np.isin(types, (3, 6))
    extracted = np.zeros(len(geoms), dtype=bool)
    for i in np.flatnonzero(mixed):
        geoms[i] = _polygonal_part(geoms[i])
        extracted[i] = geoms[i] is not None
    if extracted.any():
        codes = _codes_text(index, extracted)
        changes.append(
            f"{name}: kept only the polygonal parts of "
            f"{_plural(len(codes), 'geometry')} (GeometryCollections: lines and "
            f"points dropped): {_listing(codes)}"
        )
    drop = np.asarray(shapely.is_missing(geoms), dtype=bool) | np.asarray(
        shapely.is_empty(geoms), dtype=bool
    )
    if invalid.any() or extracted.any():
        out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=out.index, crs=out.crs)
    if drop.any():
        codes = _codes_text(index, drop)
        changes.append(
            f"{name}: dropped {_plural(len(codes), 'feature')} with no polygonal "
            f"geometry (null, empty, points or lines): {_listing(codes)}"
        )
        out = out.loc[~drop]
    out.attrs = dict(gdf.attrs)
    for change in changes:
        logger.info("%s", change)
    return RepairResult(out, tuple(changes))
