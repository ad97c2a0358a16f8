"""Validation and repair of boundary layers, on hand-made geometries (EPSG:32198)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geopandas as gpd
import shapely

from geodecoupage.crs import area_m2
from geodecoupage.errors import LayerQualityWarning, LayerValidationError
from geodecoupage.layers.validate import (
    Issue,
    RepairResult,
    check_layer,
    repair_layer,
    validate_layer,
)

KM = 1_000.0
# A point inside southern Québec in EPSG:32198 (lon -72.0, lat 46.46).
X0, Y0 = -270_000.0, 280_000.0


def cell(i: int, j: int, size: float = 10 * KM) -> shapely.Polygon:
    """Square (i, j) of a grid anchored at (X0, Y0)."""
    return shapely.box(
        X0 + i * size, Y0 + j * size, X0 + (i + 1) * size, Y0 + (j + 1) * size
    )


def layer(geoms, codes=None, *, crs="EPSG:32198", names=None) -> gpd.GeoDataFrame:
    codes = [f"{k + 1:02d}" for k in range(len(geoms))] if codes is None else codes
    names = [f"Unité {c}" for c in codes] if names is None else names
    return gpd.GeoDataFrame(
        {"nom": names, "layer": "test"},
        geometry=list(geoms),
        index=pd.Index(codes, name="code", dtype="string"),
        crs=crs,
    )


def grid(n: int = 2, m: int = 2) -> gpd.GeoDataFrame:
    return layer([cell(i, j) for i in range(n) for j in range(m)])


def codes_of(issues: list[Issue]) -> list[str]:
    return [i.code for i in issues]


def only(issues: list[Issue], code: str) -> Issue:
    found = [i for i in issues if i.code == code]
    assert len(found) == 1, codes_of(issues)
    return found[0]


def nan_polygon() -> shapely.Polygon:
    with np.errstate(invalid="ignore"):  # shapely warns on NaN coordinates
        return shapely.Polygon([(X0, Y0), (math.nan, Y0), (X0, Y0 + KM)])


BOWTIE = shapely.Polygon(
    [(X0, Y0), (X0 + 2 * KM, Y0 + 2 * KM), (X0 + 2 * KM, Y0), (X0, Y0 + 2 * KM)]
)

# ---------------------------------------------------------------------------
# clean layers


def test_clean_tiling_layer_has_no_issue():
    assert validate_layer(grid(3, 3), name="grid", tiles=True) == []


def test_check_layer_returns_nothing_for_a_clean_layer():
    assert check_layer(grid(), name="grid", tiles=True) == []


def test_validate_does_not_mutate_its_input():
    gdf = layer([BOWTIE, cell(3, 3), shapely.Point(X0, Y0)], codes=["a", "a", None])
    before = gdf.copy()
    validate_layer(gdf, name="x", tiles=True)
    pd.testing.assert_frame_equal(gdf, before)


def test_lonlat_layer_inside_quebec_is_clean():
    gdf = grid().to_crs("EPSG:4326")
    assert validate_layer(gdf, name="ll", tiles=True) == []


# ---------------------------------------------------------------------------
# each rule


def test_not_a_geodataframe():
    issues = validate_layer(pd.DataFrame({"a": [1]}), name="df")
    assert codes_of(issues) == ["not-geodataframe"]
    assert "not a GeoDataFrame" in issues[0].message


def test_empty_layer():
    gdf = grid().iloc[:0]
    assert "empty-layer" in codes_of(validate_layer(gdf, name="vide"))


def test_no_crs_says_how_to_fix():
    gdf = grid().set_crs(None, allow_override=True)
    issue = only(validate_layer(gdf, name="sans"), "no-crs")
    assert issue.severity == "error"
    assert "'sans' has no CRS" in issue.message
    assert "set_crs('EPSG:4326')" in issue.message


def test_missing_column_lists_present_columns():
    gdf = grid().drop(columns="nom")
    issue = only(validate_layer(gdf, name="g"), "missing-column")
    assert "'nom'" in issue.message
    assert "columns present: layer" in issue.message


def test_expected_columns_can_be_empty():
    gdf = grid().drop(columns="nom")
    assert validate_layer(gdf, name="g", expected_columns=()) == []


def test_null_code():
    gdf = layer([cell(0, 0), cell(1, 0)], codes=["01", None])
    issue = only(validate_layer(gdf, name="g"), "null-code")
    assert "1 feature with no code" in issue.message
    assert "row positions '1'" in issue.message


def test_duplicate_codes_list_first_five_and_count():
    geoms = [cell(i, 0) for i in range(14)]
    codes = [f"{k:02d}" for k in range(7)] * 2
    issue = only(validate_layer(layer(geoms, codes), name="dup"), "duplicate-code")
    assert issue.severity == "error"
    assert "7 codes used by more than one feature" in issue.message
    assert "(14 features)" in issue.message
    assert "'00', '01', '02', '03', '04' and 2 more (7 in all)" in issue.message
    assert "dissolve" in issue.message
    assert issue.codes == tuple(f"{k:02d}" for k in range(7))


def test_numeric_codes_are_a_warning():
    gdf = grid()
    gdf.index = pd.Index([1, 2, 3, 4], name="code")
    issue = only(validate_layer(gdf, name="num"), "code-not-string")
    assert issue.severity == "warning"
    assert "leading zero" in issue.message


def test_null_and_empty_geometries():
    gdf = layer([cell(0, 0), None, shapely.Polygon()])
    issue = only(validate_layer(gdf, name="g"), "empty-geometry")
    assert "1 missing (null) and 1 empty geometries" in issue.message
    assert issue.codes == ("02", "03")


@pytest.mark.parametrize(
    ("geom", "kind"),
    [
        (shapely.Point(X0, Y0), "Point"),
        (shapely.LineString([(X0, Y0), (X0 + KM, Y0)]), "LineString"),
        (shapely.MultiPoint([(X0, Y0), (X0 + KM, Y0)]), "MultiPoint"),
    ],
)
def test_points_and_lines_are_not_polygons(geom, kind):
    issue = only(validate_layer(layer([cell(0, 0), geom]), name="g"), "not-polygon")
    assert f"{kind} ×1" in issue.message
    assert issue.codes == ("02",)
    assert "polygon layer" in issue.message


def test_geometry_collection_is_not_polygon_and_points_to_repair():
    gc = shapely.GeometryCollection([cell(1, 0), shapely.Point(X0, Y0)])
    issue = only(validate_layer(layer([cell(0, 0), gc]), name="g"), "not-polygon")
    assert "GeometryCollection ×1" in issue.message
    assert "repair_layer" in issue.message


def test_non_finite_coordinates():
    nan_poly = nan_polygon()
    issues = validate_layer(layer([cell(0, 0), nan_poly]), name="g")
    issue = only(issues, "non-finite-coordinates")
    assert issue.codes == ("02",)
    assert "invalid-geometry" not in codes_of(issues)  # reported once, precisely


def test_invalid_geometry_gives_the_reason():
    issue = only(validate_layer(layer([BOWTIE]), name="g"), "invalid-geometry")
    assert "Self-intersection" in issue.message
    assert "make_valid" in issue.message
    assert "1 invalid geometry " in issue.message


def test_latitude_longitude_swapped():
    ll = grid().to_crs("EPSG:4326")
    swapped = ll.set_geometry(
        shapely.transform(ll.geometry.array, lambda c: c[:, ::-1])
    )
    issues = validate_layer(swapped, name="swap")
    issue = only(issues, "outside-quebec")
    assert "all features lie entirely outside" in issue.message
    assert "latitude/longitude swapped" in issue.message


def test_metres_labelled_as_degrees():
    gdf = grid().set_crs("EPSG:4326", allow_override=True)
    issue = only(validate_layer(gdf, name="m"), "not-degrees")
    assert "metres labelled as degrees" in issue.message
    assert "outside-quebec" not in codes_of(validate_layer(gdf, name="m"))


def test_degrees_labelled_as_metres():
    ll = grid().to_crs("EPSG:4326").set_crs("EPSG:32198", allow_override=True)
    issue = only(validate_layer(ll, name="d"), "outside-quebec")
    assert "look like degrees" in issue.message


def test_local_crs_cannot_be_placed():
    local = 'LOCAL_CS["site",UNIT["metre",1],AXIS["E",EAST],AXIS["N",NORTH]]'
    gdf = grid().set_crs(local, allow_override=True)
    issue = only(validate_layer(gdf, name="l", tiles=True), "unplaceable-crs")
    assert "'site'" in issue.message
    assert issue.codes == ("01", "02", "03", "04")


def test_far_outside_quebec_says_where():
    paris = shapely.box(2.2, 48.8, 2.4, 48.9)
    issue = only(
        validate_layer(layer([paris], crs="EPSG:4326"), name="p"), "outside-quebec"
    )
    assert "around lon 2.3, lat 48.85" in issue.message


def test_some_features_outside():
    gdf = pd.concat(
        [
            grid(),
            layer([shapely.box(2.2, 48.8, 2.4, 48.9)], ["99"], crs="EPSG:4326").to_crs(
                32198
            ),
        ]
    )
    issue = only(validate_layer(gdf, name="p"), "outside-quebec")
    assert "some features lie entirely outside" in issue.message
    assert issue.codes == ("99",)


def test_partly_outside_is_a_warning():
    straddle = shapely.box(-74.0, 44.0, -73.5, 45.5)  # crosses 44.5°N
    issues = validate_layer(layer([straddle], crs="EPSG:4326"), name="s")
    issue = only(issues, "partly-outside-quebec")
    assert issue.severity == "warning"
    assert "lat 44" in issue.message


def test_large_feature_is_not_outside_because_of_its_bbox_corners():
    # Whole-province box drawn in lon/lat, measured through the conic projection.
    qc = shapely.box(-79.0, 45.0, -57.5, 62.0).segmentize(0.5)
    gdf = layer([qc], crs="EPSG:4326").to_crs("EPSG:32198")
    assert validate_layer(gdf, name="qc") == []


# ---------------------------------------------------------------------------
# overlaps and gaps


def test_overlap_is_found_only_when_tiling():
    shifted = shapely.affinity.translate(cell(1, 0), xoff=-5 * KM)  # half over cell 0
    gdf = layer([cell(0, 0), shifted, cell(3, 0)])
    assert validate_layer(gdf, name="o") == []
    issue = only(validate_layer(gdf, name="o", tiles=True), "overlap")
    assert issue.severity == "warning"
    assert "1 pair of units overlap" in issue.message
    assert "01/02" in issue.message
    expected_km2 = (
        area_m2([shapely.box(X0 + 5 * KM, Y0, X0 + 10 * KM, Y0 + 10 * KM)])[0] / 1e6
    )
    assert f"01/02 ({expected_km2:.3g} km²)" in issue.message
    assert set(issue.codes) == {"01", "02"}


def test_nested_and_identical_units_overlap():
    inner = shapely.box(X0 + KM, Y0 + KM, X0 + 3 * KM, Y0 + 3 * KM)
    gdf = layer([cell(0, 0), inner, cell(2, 0), cell(2, 0)])
    issue = only(validate_layer(gdf, name="o", tiles=True), "overlap")
    assert "2 pairs of units overlap" in issue.message
    assert set(issue.codes) == {"01", "02", "03", "04"}


def test_overlap_below_tolerance_is_ignored():
    sliver = shapely.affinity.translate(
        cell(1, 0), xoff=-0.01
    )  # 0.01 m × 10 km = 100 m²
    gdf = layer([cell(0, 0), sliver])
    assert validate_layer(gdf, name="o", tiles=True) == []
    issues = validate_layer(gdf, name="o", tiles=True, tolerance_m2=10.0)
    assert codes_of(issues) == ["overlap"]


def test_hole_inside_a_tiling_layer_is_a_gap():
    ring = layer([cell(i, j) for i in range(3) for j in range(3) if (i, j) != (1, 1)])
    issue = only(validate_layer(ring, name="g", tiles=True), "gap")
    assert "1 hole larger than" in issue.message
    assert "100 km² at lon -71.83, lat 46.6" in issue.message
    assert validate_layer(ring, name="g") == []


def test_outer_notch_is_not_a_gap():
    # Known limitation kept for speed: only holes enclosed by the layer count.
    notch = layer([cell(0, 0), cell(1, 0), cell(0, 1)])
    assert validate_layer(notch, name="g", tiles=True) == []


def test_invalid_units_do_not_break_the_tiling_check():
    gdf = layer([BOWTIE, cell(1, 0), cell(5, 5)])
    issues = validate_layer(gdf, name="g", tiles=True)
    assert codes_of(issues) == ["invalid-geometry"]


# ---------------------------------------------------------------------------
# check_layer


def test_check_layer_raises_once_with_every_error():
    gdf = layer([BOWTIE, shapely.Point(X0, Y0), cell(3, 0)], codes=["01", "01", None])
    with pytest.raises(LayerValidationError) as info:
        check_layer(gdf, name="bad")
    err = info.value
    assert sorted(i.code for i in err.issues) == [
        "duplicate-code",
        "invalid-geometry",
        "not-polygon",
        "null-code",
    ]
    text = str(err)
    assert text.startswith("Layer 'bad' has 4 blocking problem(s):")
    assert all(f"[{c}]" in text for c in ("duplicate-code", "null-code"))


def test_check_layer_warns_for_each_warning():
    shifted = shapely.affinity.translate(cell(1, 0), xoff=-5 * KM)
    ring = [cell(i, j) for i in range(3) for j in range(3) if (i, j) != (1, 1)]
    gdf = layer([*ring, shifted])
    with pytest.warns(LayerQualityWarning) as record:
        found = check_layer(gdf, name="w", tiles=True)
    assert sorted(i.code for i in found) == ["gap", "overlap"]
    assert len(record) == 2
    assert all(r.filename == __file__ for r in record)  # stacklevel points here


def test_issue_str_shows_severity_and_code():
    assert str(Issue("warning", "gap", "m")) == "[warning:gap] m"


# ---------------------------------------------------------------------------
# repair_layer


def test_repair_fixes_invalid_rings_and_says_so():
    gdf = layer([BOWTIE, cell(3, 0)])
    result = repair_layer(gdf, name="r")
    assert isinstance(result, RepairResult)
    assert result.gdf.geometry.is_valid.all()
    assert result.gdf.geometry.iloc[0].geom_type == "MultiPolygon"
    assert result.changes == (
        "r: made 1 invalid geometry valid (shapely.make_valid): '01'",
    )
    assert math.isclose(result.gdf.geometry.iloc[0].area, 2 * KM * KM, rel_tol=1e-9)


def test_repair_keeps_polygonal_parts_of_collections():
    gc = shapely.GeometryCollection(
        [
            cell(1, 0),
            shapely.LineString([(X0, Y0), (X0 - KM, Y0)]),
            shapely.Point(X0, Y0),
        ]
    )
    result = repair_layer(layer([cell(0, 0), gc]), name="r")
    assert result.gdf.geometry.iloc[1].equals(cell(1, 0))
    assert any(
        "kept only the polygonal parts of 1 geometry" in c for c in result.changes
    )


def test_repair_merges_overlapping_polygons_of_a_collection():
    gc = shapely.GeometryCollection([cell(0, 0), cell(0, 0).buffer(-KM), cell(1, 0)])
    g = repair_layer(layer([gc]), name="r").gdf.geometry.iloc[0]
    assert g.is_valid
    assert math.isclose(g.area, 2 * (10 * KM) ** 2, rel_tol=1e-9)


def test_repair_flattens_nested_collections():
    inner = shapely.GeometryCollection([cell(1, 0), shapely.Point(X0, Y0)])
    nested = shapely.GeometryCollection(
        [inner, shapely.MultiPolygon([cell(2, 0), cell(3, 0)])]
    )
    g = repair_layer(layer([nested]), name="r").gdf.geometry.iloc[0]
    assert g.is_valid
    assert g.equals(shapely.union_all([cell(1, 0), cell(2, 0), cell(3, 0)]))


def test_repair_drops_features_without_area():
    gdf = layer(
        [cell(0, 0), None, shapely.Polygon(), shapely.Point(X0, Y0), cell(1, 0)]
    )
    result = repair_layer(gdf, name="r")
    assert result.gdf.index.tolist() == ["01", "05"]
    assert result.changes == (
        "r: dropped 3 features with no polygonal geometry (null, empty, points or "
        "lines): '02', '03', '04'",
    )


def test_repair_keeps_multipolygons_whole():
    multi = shapely.MultiPolygon([cell(0, 0), cell(2, 0)])
    result = repair_layer(layer([multi]), name="r")
    assert result.changes == ()
    assert result.gdf.geometry.iloc[0].equals(multi)


def test_repair_leaves_non_finite_coordinates_to_validation():
    nan_poly = nan_polygon()
    result = repair_layer(layer([nan_poly]), name="r")
    assert result.changes == ()
    assert "non-finite-coordinates" in codes_of(validate_layer(result.gdf, name="r"))


def test_repair_is_pure_and_keeps_schema():
    gdf = layer([BOWTIE, None, cell(3, 0)])
    gdf.attrs = {"layer": "test"}
    before = gdf.copy()
    result = repair_layer(gdf, name="r")
    pd.testing.assert_frame_equal(gdf, before)
    assert list(result.gdf.columns) == list(gdf.columns)
    assert result.gdf.crs == gdf.crs
    assert result.gdf.index.name == "code"
    assert result.gdf.attrs == {"layer": "test"}


def test_repair_of_clean_layer_changes_nothing():
    gdf = grid()
    result = repair_layer(gdf, name="r")
    assert result.changes == ()
    pd.testing.assert_frame_equal(result.gdf, gdf)


# ---------------------------------------------------------------------------
# properties (hypothesis)

coord = st.floats(min_value=0.0, max_value=20 * KM, allow_nan=False, width=32)
ring = st.lists(st.tuples(coord, coord), min_size=3, max_size=8)


@st.composite
def messy_geometry(draw):
    kind = draw(
        st.sampled_from(
            [
                "ring",
                "ring",
                "ring",
                "point",
                "line",
                "gc",
                "nested",
                "null",
                "empty",
                "multi",
            ]
        )
    )
    pts = [(X0 + x, Y0 + y) for x, y in draw(ring)]
    if kind == "point":
        return shapely.Point(pts[0])
    if kind == "line":
        return shapely.LineString(pts)
    if kind == "null":
        return None
    if kind == "empty":
        return shapely.Polygon()
    poly = shapely.Polygon(pts)
    if kind == "gc":
        return shapely.GeometryCollection([poly, shapely.Point(pts[0])])
    if kind == "nested":
        other = shapely.affinity.translate(poly, xoff=KM / 2)
        inner = shapely.GeometryCollection([poly, shapely.LineString(pts)])
        return shapely.GeometryCollection([inner, other])
    if kind == "multi":
        other = shapely.affinity.translate(poly, xoff=50 * KM)
        return shapely.MultiPolygon([poly, other])
    return poly


messy_layers = st.lists(messy_geometry(), min_size=1, max_size=8).map(layer)
PROPS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def n_invalid(gdf: gpd.GeoDataFrame) -> int:
    g = gdf.geometry.array
    present = ~(shapely.is_missing(g) | shapely.is_empty(g))
    return int((present & ~shapely.is_valid(g)).sum())


@PROPS
@given(messy_layers)
def test_property_repair_is_idempotent(gdf):
    once = repair_layer(gdf, name="p")
    twice = repair_layer(once.gdf, name="p")
    assert twice.changes == ()
    assert twice.gdf.index.equals(once.gdf.index)
    assert all(
        a.equals_exact(b, 0.0)
        for a, b in zip(twice.gdf.geometry, once.gdf.geometry, strict=True)
    )


@PROPS
@given(messy_layers)
def test_property_repair_never_increases_invalid_count(gdf):
    repaired = repair_layer(gdf, name="p").gdf
    assert n_invalid(repaired) <= n_invalid(gdf)
    assert n_invalid(repaired) == 0
    left = {"invalid-geometry", "empty-geometry", "not-polygon"}
    assert not left & set(codes_of(validate_layer(repaired, name="p")))


@PROPS
@given(messy_layers)
def test_property_repair_keeps_codes_in_order_and_never_adds_area(gdf):
    repaired = repair_layer(gdf, name="p").gdf
    kept = [c for c in gdf.index if c in set(repaired.index)]
    assert repaired.index.tolist() == kept
    # make_valid may re-interpret a self-intersecting ring, never invent area
    # beyond the convex hulls of the input.
    hull = shapely.union_all(shapely.convex_hull(gdf.geometry.dropna().array))
    assert repaired.geometry.union_all().difference(hull.buffer(1e-6)).area < 1e-3


@PROPS
@given(messy_layers, st.booleans())
def test_property_validate_is_deterministic_and_pure(gdf, tiles):
    before = gdf.copy()
    first = validate_layer(gdf, name="p", tiles=tiles)
    second = validate_layer(gdf, name="p", tiles=tiles)
    assert first == second
    pd.testing.assert_frame_equal(gdf, before)
    assert all(i.severity in {"error", "warning"} for i in first)
    errors_first = [i.severity for i in first]
    assert errors_first == sorted(errors_first)  # "error" < "warning": errors first


@PROPS
@given(messy_layers)
def test_property_validation_of_repaired_layer_is_stable(gdf):
    repaired = repair_layer(gdf, name="p").gdf
    assert validate_layer(repaired, name="p") == validate_layer(
        repair_layer(repaired, name="p").gdf, name="p"
    )


def test_areas_in_messages_have_no_exponent():
    from geodecoupage.layers.validate import _km2

    assert _km2(1.08e9) == "1,080 km²"
    assert _km2(1.697e12) == "1,697,000 km²"
    assert _km2(4.74e6) == "4.74 km²"
    assert _km2(6_057.0) == "0.00606 km²"
