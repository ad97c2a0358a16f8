"""Population surface: pure-logic tests on hand-made polygons (EPSG:32198).

Every geometry here is built in code; no data directory is read except the tiny
files these tests write to ``tmp_path``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import geopandas as gpd
import shapely

from geodecoupage.crs import area_m2
from geodecoupage.errors import (
    DataIntegrityError,
    InvalidParameterError,
    LayerUnavailableError,
    MissingCRSError,
)
from geodecoupage.overlay import population as popmod
from geodecoupage.overlay.population import (
    PopulationSurface,
    compare_totals,
    error_summary,
    normalise_ctuid,
    population_surface,
    published_totals,
    reconcile_to,
    surface_from_counts,
)

X0, Y0 = -300_000.0, 250_000.0
CRS = "EPSG:32198"


def box(x1: float, y1: float, x2: float, y2: float) -> shapely.Polygon:
    """A box in km relative to a point in southern Québec."""
    k = 1000.0
    return shapely.box(X0 + x1 * k, Y0 + y1 * k, X0 + x2 * k, Y0 + y2 * k)


def layer(
    geoms: dict[str, shapely.Geometry], crs: str | None = CRS
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        geometry=list(geoms.values()), index=pd.Index(list(geoms), name="code"), crs=crs
    )


def disjoint_area_excess(gdf: gpd.GeoDataFrame) -> float:
    """Sum of areas over area of the union, minus 1 (0 for disjoint polygons).

    Planar areas in EPSG:32198: disjointness is a planar property.
    """
    geoms = gdf.geometry.to_numpy()
    return float(shapely.area(geoms).sum() / shapely.union_all(geoms).area - 1.0)


@pytest.fixture
def three_munis() -> gpd.GeoDataFrame:
    # A and B form a metropolitan area; C is rural, east of B
    return layer(
        {
            "00001": box(0, 0, 10, 10),
            "00002": box(10, 0, 20, 10),
            "00003": box(20, 0, 40, 10),
        }
    )


@pytest.fixture
def tracts() -> gpd.GeoDataFrame:
    # T1 inside A; T2 straddles A|B (drawn finer than the municipal border);
    # T3 inside B but spilling 1 km into C (coarse border of C)
    gdf = layer(
        {
            "4000001.00": box(0, 0, 8, 9),
            "4000002.00": box(8, 0, 12, 9),
            "4000003.00": box(12, 0, 21, 9),
        }
    )
    gdf["population"] = [600.0, 300.0, 195.0]
    gdf["group"] = "400"
    return gdf


COUNTS = pd.Series({"00001": 800.0, "00002": 300.0, "00003": 50.0})
GROUPS = pd.Series({"00001": "400", "00002": "400"})


# --- municipal counts only ---------------------------------------------------


def test_csd_only_conserves_and_tags(three_munis: gpd.GeoDataFrame) -> None:
    s = surface_from_counts(three_munis, COUNTS)
    assert isinstance(s, PopulationSurface)
    assert s.total == pytest.approx(1150.0)
    assert s.census_total == pytest.approx(1150.0)
    assert s.balance == pytest.approx(0.0)
    assert s.polygons.crs.to_epsg() == 32198
    assert set(s.polygons["source"]) == {"csd"}
    assert list(s.polygons["source_code"]) == list(COUNTS.index)
    assert s.polygons["population"].dtype == np.float64


def test_unmatched_codes_reported_never_dropped(three_munis: gpd.GeoDataFrame) -> None:
    counts = pd.Series({"00001": 800.0, "00002": 300.0, "99999": 42.0})
    s = surface_from_counts(three_munis, counts)
    assert list(s.unallocated.index) == ["99999"]
    assert s.unallocated.loc["99999", "population"] == 42.0
    assert s.unallocated.loc["99999", "reason"] == "no polygon"
    assert s.unallocated_total == 42.0
    assert s.total + s.unallocated_total == pytest.approx(s.census_total)
    assert s.unmatched_polygons == ("00003",)
    assert s.polygons.set_index("source_code").loc["00003", "population"] == 0.0
    assert any("99999" in n for n in s.notes)


def test_missing_counts_are_noted_not_placed(three_munis: gpd.GeoDataFrame) -> None:
    counts = pd.Series({"00001": 800.0, "00002": np.nan, "00003": 50.0})
    s = surface_from_counts(three_munis, counts)
    assert s.total == 850.0
    assert "00002" in s.unmatched_polygons
    assert any("no published count" in n for n in s.notes)


def test_input_not_modified(
    three_munis: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame
) -> None:
    before_m, before_t = three_munis.copy(), tracts.copy()
    surface_from_counts(three_munis, COUNTS, tracts=tracts, tract_groups=GROUPS)
    pd.testing.assert_frame_equal(three_munis, before_m)
    pd.testing.assert_frame_equal(tracts, before_t)


def test_reprojects_and_refuses_missing_crs(three_munis: gpd.GeoDataFrame) -> None:
    s = surface_from_counts(three_munis.to_crs("EPSG:4326"), COUNTS)
    assert s.polygons.crs.to_epsg() == 32198
    with pytest.raises(MissingCRSError, match="no CRS"):
        surface_from_counts(three_munis.set_crs(None, allow_override=True), COUNTS)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"counts": pd.Series({"00001": -1.0})}, "negative counts"),
        ({"tract_control": "both"}, "Unknown tract_control"),
    ],
)
def test_bad_parameters(
    three_munis: gpd.GeoDataFrame, kwargs: dict, match: str
) -> None:
    args = {"counts": COUNTS, **kwargs}
    counts = args.pop("counts")
    with pytest.raises(InvalidParameterError, match=match):
        surface_from_counts(three_munis, counts, **args)


def test_duplicate_codes_refused(three_munis: gpd.GeoDataFrame) -> None:
    dup = pd.concat([three_munis, three_munis.iloc[:1]])
    with pytest.raises(InvalidParameterError, match="duplicated code"):
        surface_from_counts(dup, COUNTS)


def test_tracts_need_columns(
    three_munis: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame
) -> None:
    with pytest.raises(InvalidParameterError, match="'group'"):
        surface_from_counts(
            three_munis,
            COUNTS,
            tracts=tracts.drop(columns="group"),
            tract_groups=GROUPS,
        )
    with pytest.raises(InvalidParameterError, match="needs tract_groups"):
        surface_from_counts(three_munis, COUNTS, tracts=tracts)


# --- tract refinement, control per tracted area (default) --------------------


def test_cma_control_conserves_totals(
    three_munis: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame
) -> None:
    s = surface_from_counts(three_munis, COUNTS, tracts=tracts, tract_groups=GROUPS)
    assert s.total == pytest.approx(1150.0)
    assert s.balance == pytest.approx(0.0, abs=1e-12)
    # the area's total (800 + 300) is carried by the tracts (600 + 300 + 195)
    f = 1100.0 / 1095.0
    assert s.factors["400"] == pytest.approx(f)
    ct = s.polygons[s.polygons["source"] == "ct"].set_index("source_code")
    assert ct["population"].to_dict() == pytest.approx(
        {"4000001.00": 600 * f, "4000002.00": 300 * f, "4000003.00": 195 * f}
    )
    # member municipalities keep only their uncovered strip, at population 0
    gap = s.polygons[s.polygons["source"] == "csd_gap"]
    assert set(gap["source_code"]) == {"00001", "00002"}
    assert (gap["population"] == 0).all()
    # C is outside the area: keeps its count on what the tracts leave of it
    c = s.polygons[s.polygons["source_code"] == "00003"].iloc[0]
    assert c["source"] == "csd"
    assert c["population"] == 50.0
    assert area_m2([c.geometry])[0] == pytest.approx(
        area_m2([box(21, 0, 40, 10)])[0] + area_m2([box(20, 9, 21, 10)])[0], rel=1e-5
    )


def test_surface_polygons_are_disjoint(
    three_munis: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame
) -> None:
    for control in ("cma", "municipality"):
        s = surface_from_counts(
            three_munis,
            COUNTS,
            tracts=tracts,
            tract_groups=GROUPS,
            tract_control=control,
        )
        assert disjoint_area_excess(s.polygons) == pytest.approx(0.0, abs=1e-12)
        assert s.polygons.geom_type.isin(["Polygon", "MultiPolygon"]).all()
        assert s.polygons.is_valid.all()


def test_area_without_members_keeps_municipal_counts(
    three_munis: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame
) -> None:
    s = surface_from_counts(
        three_munis, COUNTS, tracts=tracts, tract_groups=pd.Series({"00003": "999"})
    )
    assert "ct" not in set(s.polygons["source"])
    assert s.total == pytest.approx(1150.0)
    assert any("tracts not used" in n for n in s.notes)


def test_municipality_swallowed_by_tracts_is_reported(tracts: gpd.GeoDataFrame) -> None:
    mun = layer(
        {
            "00001": box(0, 0, 10, 10),
            "00002": box(10, 0, 20, 10),
            "00004": box(13, 2, 14, 3),
        }
    )  # a small rural polygon inside T3
    mun.loc["00002", "geometry"] = box(10, 0, 20, 10).difference(box(13, 2, 14, 3))
    counts = pd.Series({"00001": 800.0, "00002": 300.0, "00004": 7.0})
    s = surface_from_counts(mun, counts, tracts=tracts, tract_groups=GROUPS)
    assert s.unallocated.loc["00004", "population"] == 7.0
    assert "covered by census tracts" in s.unallocated.loc["00004", "reason"]
    assert s.total + s.unallocated_total == pytest.approx(s.census_total)


# --- tract refinement, per-municipality remainder ----------------------------


def test_municipality_remainder_never_negative(
    three_munis: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame
) -> None:
    s = surface_from_counts(
        three_munis, COUNTS, tracts=tracts, tract_control="municipality"
    )
    rem = s.polygons[s.polygons["source"] == "csd_remainder"].set_index("source_code")
    assert (rem["population"] >= 0).all()
    # A: 800 - (600 + 300/2) = 50; B: 300 - (150 + 195*8/9) < 0 -> 0; C: 50 - 195/9
    # (shares are equal-area: a km box in EPSG:32198 is not split exactly in half)
    assert rem.loc["00001", "population"] == pytest.approx(50.0, rel=1e-5)
    assert rem.loc["00002", "population"] == 0.0
    assert rem.loc["00003", "population"] == pytest.approx(50 - 195 / 9, rel=1e-5)
    # tract counts unchanged; the clipped excess is what the total gains
    excess = 150 + 195 * 8 / 9 - 300
    assert s.params["excess_clipped"] == pytest.approx(excess, rel=1e-5)
    assert s.total == pytest.approx(s.census_total + s.params["excess_clipped"])


@settings(max_examples=15, deadline=None)
@given(
    counts=st.lists(st.floats(0, 1e5, allow_nan=False), min_size=3, max_size=3),
    tcounts=st.lists(st.floats(0, 1e5, allow_nan=False), min_size=3, max_size=3),
)
def test_invariants_for_any_counts(counts: list[float], tcounts: list[float]) -> None:
    mun = layer(
        {
            "00001": box(0, 0, 10, 10),
            "00002": box(10, 0, 20, 10),
            "00003": box(20, 0, 40, 10),
        }
    )
    tr = layer(
        {
            "4000001.00": box(0, 0, 8, 9),
            "4000002.00": box(8, 0, 12, 9),
            "4000003.00": box(12, 0, 21, 9),
        }
    )
    tr["population"], tr["group"] = tcounts, "400"
    c = pd.Series(counts, index=mun.index)
    rem = surface_from_counts(mun, c, tracts=tr, tract_control="municipality")
    assert (rem.polygons["population"] >= 0).all()
    assert rem.total >= rem.census_total - 1e-6 * max(1.0, rem.census_total)
    cma = surface_from_counts(mun, c, tracts=tr, tract_groups=GROUPS)
    assert (cma.polygons["population"] >= 0).all()
    assert cma.total + cma.unallocated_total == pytest.approx(
        cma.census_total, abs=1e-6
    )


# --- validation tools --------------------------------------------------------


@pytest.fixture
def zones() -> gpd.GeoDataFrame:
    # two zones split at x = 15 km, covering y 0..10 up to x = 30 only
    return layer({"Z1": box(0, 0, 15, 10), "Z2": box(15, 0, 30, 10)})


def test_compare_totals_by_area(
    three_munis: gpd.GeoDataFrame, zones: gpd.GeoDataFrame
) -> None:
    s = surface_from_counts(three_munis, COUNTS)
    tab = compare_totals(s, zones, pd.Series({"Z1": 1000.0, "Z2": 100.0, "Z3": 5.0}))
    # Z1 = A + half of B; Z2 = half of B + half of C
    assert tab.loc["Z1", "allocated"] == pytest.approx(950.0, rel=1e-5)
    assert tab.loc["Z2", "allocated"] == pytest.approx(175.0, rel=1e-5)
    assert tab.loc["Z1", "diff"] == pytest.approx(-50.0, rel=1e-4)
    assert tab.loc["Z2", "rel_diff"] == pytest.approx(0.75, rel=1e-4)
    assert np.isnan(tab.loc["Z3", "allocated"])  # published, no polygon
    assert tab.attrs["outside_zones"] == pytest.approx(25.0, rel=1e-4)
    assert tab.attrs["allocated_total"] + tab.attrs["outside_zones"] == pytest.approx(
        s.total
    )
    ren = compare_totals(
        s, zones, pd.Series({"Z1": 1000.0, "Z2": 100.0}), renormalise=True
    )
    assert ren.loc["Z2", "allocated"] == pytest.approx(200.0, rel=1e-5)
    assert ren.attrs["outside_zones"] == pytest.approx(0.0, abs=1e-12)
    summary = error_summary(tab)
    assert summary["n"] == 2
    assert summary["worst"][0] == "Z2"
    assert summary["max_abs_rel"] == pytest.approx(0.75, rel=1e-4)


def test_compare_totals_never_creates_population_on_overlaps(
    three_munis: gpd.GeoDataFrame,
) -> None:
    s = surface_from_counts(three_munis, COUNTS)
    overlapping = layer({"Z1": box(0, 0, 40, 10), "Z2": box(0, 0, 40, 10)})
    tab = compare_totals(s, overlapping, pd.Series({"Z1": 1.0, "Z2": 1.0}))
    assert tab["allocated"].sum() == pytest.approx(s.total)


def test_reconcile_hits_targets_exactly(
    three_munis: gpd.GeoDataFrame, tracts: gpd.GeoDataFrame, zones: gpd.GeoDataFrame
) -> None:
    s = surface_from_counts(three_munis, COUNTS, tracts=tracts, tract_groups=GROUPS)
    before = s.polygons.copy()
    targets = pd.Series({"Z1": 1234.0, "Z2": 56.0})
    new, fac = reconcile_to(s, targets, zones, renormalise=False)
    pd.testing.assert_frame_equal(s.polygons, before)  # input untouched
    tab = compare_totals(new, zones, targets)
    assert tab["allocated"].to_numpy() == pytest.approx(targets.to_numpy(), rel=1e-12)
    assert fac["reached"].all()
    assert fac.loc["Z1", "factor"] == pytest.approx(1234.0 / fac.loc["Z1", "allocated"])
    # the part of C east of x = 30 is outside every zone and keeps its population:
    # C keeps 191 km² (T3 took 9 km²), 100 km² of them east of x = 30
    outside = new.polygons[new.polygons["zone_code"].isna()]
    assert outside["population"].sum() == pytest.approx(50 * 100 / 191, rel=1e-5)
    assert new.total == pytest.approx(1234.0 + 56.0 + outside["population"].sum())
    assert disjoint_area_excess(new.polygons) == pytest.approx(0.0, abs=1e-12)
    assert new.factors.to_dict() == pytest.approx(fac["factor"].to_dict())


def test_reconcile_renormalise_counts_outside_parts_once(
    three_munis: gpd.GeoDataFrame, zones: gpd.GeoDataFrame
) -> None:
    mun = pd.concat([three_munis, layer({"00009": box(50, 0, 60, 10)})])
    counts = pd.concat([COUNTS, pd.Series({"00009": 9.0})])
    s = surface_from_counts(mun, counts)
    targets = pd.Series({"Z1": 1000.0, "Z2": 100.0})
    new, fac = reconcile_to(s, targets, zones)  # renormalise=True by default
    # C's part east of x = 30 is folded into its piece in Z2 before scaling
    assert fac.loc["Z2", "allocated"] == pytest.approx(150.0 + 50.0, rel=1e-5)
    # only the polygon entirely outside every zone keeps population outside
    outside = new.polygons[new.polygons["zone_code"].isna()]
    assert list(outside["source_code"]) == ["00009"]
    assert new.total == pytest.approx(1100.0 + 9.0)
    assert any("outside every zone given" in n for n in new.notes)


def test_reconcile_reports_unreachable_zones(three_munis: gpd.GeoDataFrame) -> None:
    counts = pd.Series({"00001": 0.0, "00002": 0.0, "00003": 50.0})
    s = surface_from_counts(three_munis, counts)
    zones = layer({"Z1": box(0, 0, 20, 10), "Z2": box(20, 0, 40, 10)})
    new, fac = reconcile_to(s, pd.Series({"Z1": 10.0, "Z2": 60.0, "Z9": 1.0}), zones)
    assert not fac.loc["Z1", "reached"]
    assert fac.loc["Z2", "reached"]
    assert new.total == pytest.approx(60.0)
    assert any("not reachable" in n for n in new.notes)
    assert any("Z9" in n for n in new.notes)


def test_validation_tools_need_population(zones: gpd.GeoDataFrame) -> None:
    bad = layer({"p": box(0, 0, 1, 1)})
    with pytest.raises(InvalidParameterError, match="'population' column"):
        compare_totals(bad, zones, pd.Series({"Z1": 1.0}))
    bad["population"] = -1.0
    with pytest.raises(InvalidParameterError, match=">= 0"):
        compare_totals(bad, zones, pd.Series({"Z1": 1.0}))


# --- codes and files ---------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["4620014.02", " 4620014.02", "462001402", "4620014.02000", 4620014.02]
)
def test_normalise_ctuid(raw: object) -> None:
    assert normalise_ctuid(raw) == "4620014.02"


def test_normalise_ctuid_keeps_leading_digits() -> None:
    assert normalise_ctuid("0010001.00") == "0010001.00"
    with pytest.raises(DataIntegrityError, match="not a census tract code"):
        normalise_ctuid("abc")


def _write_mirror(root: Path) -> gpd.GeoDataFrame:
    """A three-municipality mirror: CSD, CT counts, tract polygons, attributes."""
    (root / "population").mkdir()
    (root / "statcan").mkdir()
    (root / "crosswalks").mkdir()
    (root / "population" / "census2016_pop_by_csd_qc.csv").write_text(
        "geo_uid,pop_2016\n2400001,800\n2400002,300\n2400003,50\n2432040,7\n"
        "2432045,3\n3500001,99\n",
        encoding="utf-8",
    )
    (root / "population" / "census2016_pop_by_ct_qc.csv").write_text(
        "geo_uid,pop_2016\n4000001.00,600\n4000002.00,300\n4000003.00,195\n"
        "5050001.01,1000\n",
        encoding="utf-8",
    )
    (root / "crosswalks" / "csd_qc_2016_attributes_statcan.csv").write_text(
        "CSDUID,CMAUID\n2400001,400\n2400002,400\n2400003,\n", encoding="utf-8"
    )
    tr = gpd.GeoDataFrame(
        {"CTUID": ["4000001.00", "4000002.00", "4000003.00"]},
        geometry=[box(0, 0, 8, 9), box(8, 0, 12, 9), box(12, 0, 21, 9)],
        crs=CRS,
    ).to_crs("EPSG:3347")
    tr.to_file(root / "statcan" / "ct_qc_2016.shp")
    return layer(
        {
            "00001": box(0, 0, 10, 10),
            "00002": box(10, 0, 20, 10),
            "00003": box(20, 0, 40, 10),
            "32043": box(0, 10, 5, 15),
        }
    )


def test_population_surface_reads_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mun = _write_mirror(tmp_path)
    monkeypatch.setattr(popmod, "_read_municipal_polygons", lambda root: mun)
    s = population_surface(data_dir=tmp_path)
    # Plessisville V + PE (2016) are summed on today's code 32043
    assert s.polygons.set_index("source_code").loc["32043", "population"] == 10.0
    assert ("32040", "32043") in s.params["successors_applied"]
    assert s.factors["400"] == pytest.approx(1100 / 1095)
    assert s.total == pytest.approx(1160.0)
    assert s.balance == pytest.approx(0.0, abs=1e-12)
    assert any("not Québec CSDUIDs" in n for n in s.notes)  # 3500001 ignored
    assert any("no tract polygon" in n and "505" in n for n in s.notes)
    flat = population_surface(data_dir=tmp_path, refine_with_tracts=False)
    assert set(flat.polygons["source"]) == {"csd"}
    assert flat.total == pytest.approx(1160.0)


def test_population_surface_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidParameterError, match="2016"):
        population_surface(data_dir=tmp_path, year=2021)
    with pytest.raises(LayerUnavailableError, match=r"census2016_pop_by_csd_qc\.csv"):
        population_surface(data_dir=tmp_path)
    mun = _write_mirror(tmp_path)
    monkeypatch.setattr(popmod, "_read_municipal_polygons", lambda root: mun)
    (tmp_path / "statcan" / "ct_qc_2016.shp").unlink()
    with pytest.raises(LayerUnavailableError, match="tract refinement"):
        population_surface(data_dir=tmp_path)


def test_published_totals_from_files(tmp_path: Path) -> None:
    (tmp_path / "population").mkdir()
    (tmp_path / "crosswalks").mkdir()
    (
        tmp_path / "population" / "msss_pop_by_territory_1996_2041_v20200424.csv"
    ).write_text(
        "GEO,CODE,AN,TYPE,POP\nRLS,0111,2016,Estimation,10\nRLS,0112,2016,Estimation,5\n"
        "RLS,0111,2017,Estimation,11\nRSS,01,2016,Estimation,15\n",
        encoding="utf-8",
    )
    rls = published_totals("rls", data_dir=tmp_path)
    assert rls.to_dict() == {"0111": 10.0, "0112": 5.0}
    assert published_totals("rss", data_dir=tmp_path, year=2016).to_dict() == {
        "01": 15.0
    }
    with pytest.raises(InvalidParameterError, match="covers 2016"):
        published_totals("rls", data_dir=tmp_path, year=1990)
    with pytest.raises(InvalidParameterError, match="Unknown level"):
        published_totals("clsc", data_dir=tmp_path)  # type: ignore[arg-type]
    (tmp_path / "population" / "census2016_pop_by_csd_qc.csv").write_text(
        "geo_uid,pop_2016\n2400001,800\n2400002,300\n2432040,7\n2499999,4\n",
        encoding="utf-8",
    )
    (
        tmp_path / "crosswalks" / "municipality_to_mrc_region_mamh_2025_derived.csv"
    ).write_text(
        "mus_co_geo,sda_mrs_co_mrc\n00001,01\n00002,01\n32043,32\n", encoding="utf-8"
    )
    mrc = published_totals("mrc", data_dir=tmp_path)
    assert mrc.to_dict() == {"01": 1100.0, "32": 7.0}
    assert mrc.attrs["unmatched"] == {"99999": 4.0}


def test_land_mask_keeps_population_off_water(three_munis: gpd.GeoDataFrame) -> None:
    # land is the south half of A and B; C is all water
    land = gpd.GeoSeries([box(0, 0, 20, 5)], crs=CRS)
    s = surface_from_counts(three_munis, COUNTS, land_mask=land)
    poly = s.polygons.set_index("source_code")
    assert poly.loc["00001"].geometry.equals(box(0, 0, 10, 5))
    assert poly.loc["00001", "population"] == 800.0
    # C has a count but no land: kept whole (reported), never dropped
    assert poly.loc["00003"].geometry.equals(box(20, 0, 40, 10))
    assert s.total == pytest.approx(1150.0)
    assert any("kept unclipped" in n and "00003" in n for n in s.notes)
    assert s.params["land_clipped"] is True
    zones = layer({"N": box(0, 5, 40, 10), "S": box(0, 0, 40, 5)})
    tab = compare_totals(s, zones, pd.Series({"N": 0.0, "S": 1100.0}))
    assert tab.loc["S", "allocated"] == pytest.approx(1100.0 + 25.0, rel=1e-5)
