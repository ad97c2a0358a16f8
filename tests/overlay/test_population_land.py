"""Population placed on land (``build_atlas(population_support=...)``), in code.

Hand-made layers in EPSG:32198 (km boxes in southern Québec):

* ``m`` covers everything (an SDA-like layer: water included);
* ``r`` is a water-free layer (like the RLS; ``attrs["land_only"] = True``): ``r1``
  west of x = 2 km and ``r2`` east of x = 3 km; the strip 2 < x < 3 is a river
  that ``r`` leaves out;
* surface polygon ``s1`` (900 persons) spans x = 1..3 (y = 1..4): half land, half river;
  ``s2`` (100) is on ``r2``; ``s3`` (30, y = 0..1) lies in the river only.

The expected figures are ratios of equal-area areas measured independently with
:func:`geodecoupage.crs.area_m2` on the input boxes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from geodecoupage.crs import area_m2
from geodecoupage.errors import InvalidParameterError
from geodecoupage.overlay import build_atlas

X0, Y0 = -250_000.0, 300_000.0
KM = 1000.0
CRS = "EPSG:32198"
EXACT = {"min_area_m2": 0.0, "sliver_width_m": 0.0}


def kbox(x1: float, y1: float, x2: float, y2: float) -> shapely.Polygon:
    return shapely.box(X0 + x1 * KM, Y0 + y1 * KM, X0 + x2 * KM, Y0 + y2 * KM)


def layer(geoms: dict[str, shapely.Geometry], **attrs: object) -> gpd.GeoDataFrame:
    gdf = gpd.GeoDataFrame(
        {"nom": list(geoms)},
        geometry=list(geoms.values()),
        index=pd.Index(list(geoms), name="code"),
        crs=CRS,
    )
    gdf.attrs.update(attrs)
    return gdf


def surface(polys: dict[str, tuple[shapely.Polygon, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"population": [p for _, p in polys.values()]},
        geometry=[g for g, _ in polys.values()],
        index=list(polys),
        crs=CRS,
    )


M = layer({"m1": kbox(0, 0, 4, 4)})
R = layer({"r1": kbox(0, 0, 2, 4), "r2": kbox(3, 0, 4, 4)}, land_only=True)
S1, S2, S3 = kbox(1, 1, 3, 4), kbox(3, 0, 4, 4), kbox(2.2, 0, 2.8, 1)
SURFACE = surface({"s1": (S1, 900.0), "s2": (S2, 100.0), "s3": (S3, 30.0)})


def share(part: shapely.Polygon, whole: shapely.Polygon) -> float:
    """Equal-area share of *whole* that *part* covers (independent reference)."""
    return float(area_m2([part])[0] / area_m2([whole])[0])


def unit_pop(atlas, key: str) -> pd.Series:  # type: ignore[no-untyped-def]
    return atlas.unit_totals(key)["population"]


def test_people_of_a_polygon_half_in_water_go_to_its_land_part() -> None:
    atlas = build_atlas({"m": M, "r": R}, population=SURFACE, **EXACT)
    assert atlas.params["population_support"] == "land"
    assert atlas.params["land_layers"] == ("r",)
    pop = unit_pop(atlas, "r")
    assert pop["r1"] == pytest.approx(900.0, rel=1e-9)
    assert pop["r2"] == pytest.approx(100.0, rel=1e-9)
    # only s3 (wholly in the river, no land part: plain area) stays in the gap
    gaps = atlas.params["population_in_gaps"]
    assert gaps["r"] == pytest.approx(30.0, rel=1e-9)  # type: ignore[index]
    assert gaps["m"] == pytest.approx(0.0, abs=1e-9)  # type: ignore[index]
    assert atlas.params["population_fallback_area"] == pytest.approx(30.0)
    assert atlas.params["n_population_fallback"] == 1
    moved = 900.0 * share(kbox(2, 1, 3, 4), S1)
    assert atlas.params["population_moved_to_land"] == pytest.approx(moved, rel=1e-6)


def test_plain_area_leaves_half_of_that_polygon_in_the_river() -> None:
    atlas = build_atlas(
        {"m": M, "r": R}, population=SURFACE, population_support="area", **EXACT
    )
    pop = unit_pop(atlas, "r")
    assert pop["r1"] == pytest.approx(900.0 * share(kbox(1, 1, 2, 4), S1), rel=1e-6)
    assert atlas.params["land_layers"] == ()
    in_gap = 900.0 * share(kbox(2, 1, 3, 4), S1) + 30.0
    gaps = atlas.params["population_in_gaps"]
    assert gaps["r"] == pytest.approx(in_gap, rel=1e-6)  # type: ignore[index]


def test_default_population_crosswalk_sums_to_the_total_minus_the_fallback() -> None:
    atlas = build_atlas({"m": M, "r": R}, population=SURFACE, **EXACT)
    xw = atlas.crosswalk("m", "r", weight="population")
    assert xw["population"].sum() == pytest.approx(1030.0 - 30.0, rel=1e-9)
    full = atlas.crosswalk("m", "r", weight="population", include_gaps=True)
    assert full["population"].sum() == pytest.approx(1030.0, rel=1e-12)


def test_a_territory_layer_covering_half_a_polygon_does_not_attract_it() -> None:
    # a user's territory (no land attrs) covers the west half of s1's land part
    terr = layer({"t1": kbox(0, 0, 1.5, 4)})
    alone = build_atlas({"m": M, "t": terr}, population=SURFACE, **EXACT)
    assert alone.params["land_layers"] == ()
    expected = 900.0 * share(kbox(1, 1, 1.5, 4), S1)
    assert unit_pop(alone, "t")["t1"] == pytest.approx(expected, rel=1e-6)
    # with the water-free layer: s1's people are on its land part x = 1..2,
    # of which the territory holds half (not all of them)
    both = build_atlas({"m": M, "r": R, "t": terr}, population=SURFACE, **EXACT)
    assert both.params["land_layers"] == ("r",)
    land = share(kbox(1, 1, 1.5, 4), kbox(1, 1, 2, 4))
    assert unit_pop(both, "t")["t1"] == pytest.approx(900.0 * land, rel=1e-6)
    assert unit_pop(both, "t")["t1"] < 0.6 * 900.0


def test_each_polygon_count_is_conserved_and_atoms_are_bounded() -> None:
    terr = layer({"t1": kbox(0, 0, 1.5, 4)})
    for code, (geom, count) in {
        "s1": (S1, 900.0),
        "s2": (S2, 100.0),
        "s3": (S3, 30.0),
    }.items():
        one = surface({code: (geom, count)})
        for support in ("land", "area"):
            atlas = build_atlas(
                {"m": M, "r": R, "t": terr},
                population=one,
                population_support=support,  # type: ignore[arg-type]
                **EXACT,
            )
            pop = atlas.atoms["population"].to_numpy()
            assert pop.sum() == pytest.approx(count, rel=1e-12), (code, support)
            assert (pop >= 0).all()
            assert (pop <= count * (1 + 1e-12)).all()
            assert atlas.params["population_outside"] == pytest.approx(0.0, abs=1e-9)


def test_a_polygon_partly_outside_every_layer_goes_to_land_only_when_asked() -> None:
    # s4 sticks out east of the atlas (x = 4..5): outside every layer
    s4 = kbox(3.5, 0, 5, 1)
    surf = surface({"s4": (s4, 60.0)})
    land = build_atlas({"m": M, "r": R}, population=surf, **EXACT)
    assert land.atoms["population"].sum() == pytest.approx(60.0, rel=1e-12)
    assert land.params["population_outside"] == pytest.approx(0.0, abs=1e-9)
    area = build_atlas(
        {"m": M, "r": R}, population=surf, population_support="area", **EXACT
    )
    outside = 60.0 * share(kbox(4, 0, 5, 1), s4)
    assert area.params["population_outside"] == pytest.approx(outside, rel=1e-6)


def test_land_layers_come_from_attrs_and_can_be_named() -> None:
    plain = layer(dict(R.geometry.items()))  # same geometry, no attrs
    assert build_atlas({"m": M, "r": plain}).params["land_layers"] == ()
    marked = layer(dict(R.geometry.items()), land_only=True)
    assert build_atlas({"m": M, "x": marked}).params["land_layers"] == ("x",)
    unmarked = layer(dict(R.geometry.items()), layer="rls", land_only=False)
    assert build_atlas({"m": M, "r": unmarked}).params["land_layers"] == ()
    # the catalogue's CISSS layer with all its 25 units is land by default
    strips = {f"{i:03d}": kbox(i * 0.16, 0, (i + 1) * 0.16, 4) for i in range(25)}
    cisss = layer(strips, layer="cisss")
    assert build_atlas({"m": M, "c": cisss}).params["land_layers"] == ("c",)
    named = build_atlas(
        {"m": M, "r": plain}, population=SURFACE, land_layers=["r"], **EXACT
    )
    assert named.params["land_layers"] == ("r",)
    assert unit_pop(named, "r")["r1"] == pytest.approx(900.0, rel=1e-9)


def test_a_selection_of_a_catalogue_land_layer_is_not_taken_as_land() -> None:
    # two units tagged as the catalogue's RLS (96 units): a regional selection,
    # whose gaps include the land of the RLS left out, so plain area is kept
    subset = layer(dict(R.geometry.items()), layer="rls")
    atlas = build_atlas({"m": M, "r": subset}, population=SURFACE, **EXACT)
    assert atlas.params["land_layers"] == ()
    assert atlas.params["land_layers_partial"] == ("r",)
    pop = unit_pop(atlas, "r")
    assert pop["r1"] == pytest.approx(900.0 * share(kbox(1, 1, 2, 4), S1), rel=1e-6)
    # forced by name, it is land again
    forced = build_atlas(
        {"m": M, "r": subset}, population=SURFACE, land_layers=["r"], **EXACT
    )
    assert unit_pop(forced, "r")["r1"] == pytest.approx(900.0, rel=1e-9)


def test_land_polygons_restore_the_rule_for_a_selection() -> None:
    # the selection keeps r1 only; the whole layer (r1, r2), passed as land=,
    # says where land is: x 0-2 and x 3-4 (x 2-3 is a river)
    subset = layer({"r1": R.geometry["r1"]}, layer="rls")
    atlas = build_atlas({"m": M, "r": subset}, population=SURFACE, land=R, **EXACT)
    assert atlas.params["land_layers_partial"] == ("r",)
    assert atlas.params["land_polygons"] is True
    pop = unit_pop(atlas, "r")
    # s1 (x 1-3, y 1-4): land only in x 1-2, inside r1 -> all its 900 persons;
    # s3 (x 2.2-2.8) is all water -> plain area, and r1 does not cover it
    assert pop["r1"] == pytest.approx(900.0, rel=1e-9)
    # s2 (x 3-4) is land of r2, a unit left out of the selection: it stays on m
    assert unit_pop(atlas, "m")["m1"] == pytest.approx(1030.0, rel=1e-9)
    without = build_atlas({"m": M, "r": subset}, population=SURFACE, **EXACT)
    assert unit_pop(without, "r")["r1"] == pytest.approx(
        900.0 * share(kbox(1, 1, 2, 4), S1), rel=1e-6
    )


def test_land_polygons_do_not_change_atoms_or_areas() -> None:
    plain = build_atlas({"m": M, "r": R}, population=SURFACE, **EXACT)
    with_land = build_atlas({"m": M, "r": R}, land=R, population=SURFACE, **EXACT)
    pd.testing.assert_frame_equal(
        pd.DataFrame(plain.atoms[["m", "r", "area_m2"]]),
        pd.DataFrame(with_land.atoms[["m", "r", "area_m2"]]),
        rtol=1e-12,
    )


def test_without_population_the_rule_is_recorded_and_nothing_is_placed() -> None:
    atlas = build_atlas({"m": M, "r": R})
    assert atlas.params["population_support"] == "land"
    assert np.isnan(atlas.params["population_moved_to_land"])  # type: ignore[arg-type]
    assert atlas.params["population_in_gaps"] == {}
    assert atlas.atoms["population"].isna().all()


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"population_support": "water"}, "population_support must be"),
        ({"land_layers": ["rls"]}, "'rls', not a layer of this atlas"),
    ],
)
def test_bad_rule_parameters_are_named_in_the_error(
    kwargs: dict[str, object], needle: str
) -> None:
    with pytest.raises(InvalidParameterError, match=needle):
        build_atlas({"m": M, "r": R}, population=SURFACE, **kwargs)  # type: ignore[arg-type]


def test_the_dask_engine_places_population_on_land_the_same_way() -> None:
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask_geopandas")
    layers = {"m": M, "r": R}
    local = build_atlas(layers, population=SURFACE, **EXACT)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        other = build_atlas(
            layers, population=SURFACE, engine="dask", scheduler=client, **EXACT
        )
    assert other.params["land_layers"] == ("r",)
    np.testing.assert_array_equal(
        other.atoms["population"].to_numpy(), local.atoms["population"].to_numpy()
    )
    assert unit_pop(other, "r")["r1"] == pytest.approx(900.0, rel=1e-9)
