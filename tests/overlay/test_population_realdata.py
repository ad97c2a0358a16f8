"""Population surface on the real Québec data (``realdata``; each test < ~30 s).

Figures asserted here are the ones measured and quoted in
``docs/methodologie.md`` (section *population*), with loose bounds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import geopandas as gpd

from geodecoupage.layers import read_layer
from geodecoupage.overlay.population import (
    CSD_2016_SUCCESSORS,
    PopulationSurface,
    compare_totals,
    error_summary,
    population_surface,
    published_totals,
    reconcile_to,
)

pytestmark = pytest.mark.realdata

CENSUS_QC_2016 = 8_163_960  # sum of the CSD table (official total 8 164 361)
MSSS_QC_2016 = 8_225_950


@pytest.fixture(scope="module")
def flat(quebec_data: Path) -> PopulationSurface:
    return population_surface(data_dir=quebec_data, refine_with_tracts=False)


@pytest.fixture(scope="module")
def refined(quebec_data: Path) -> PopulationSurface:
    return population_surface(data_dir=quebec_data)


@pytest.fixture(scope="module")
def rls(quebec_data: Path) -> gpd.GeoDataFrame:
    return read_layer("rls", data_dir=quebec_data)


@pytest.fixture(scope="module")
def mrc(quebec_data: Path) -> gpd.GeoDataFrame:
    return read_layer("mrc", data_dir=quebec_data)


def test_municipal_surface_places_the_whole_census(flat: PopulationSurface) -> None:
    assert flat.census_total == CENSUS_QC_2016
    assert flat.total == pytest.approx(CENSUS_QC_2016, abs=1e-3)
    assert flat.unallocated_total == 0.0
    assert set(flat.polygons["source"]) == {"csd"}
    assert len(flat.polygons) == 1344
    assert len(flat.params["successors_applied"]) == len(CSD_2016_SUCCESSORS)
    assert flat.polygons.crs.to_epsg() == 32198


def test_tract_surface_conserves_and_controls(refined: PopulationSurface) -> None:
    assert refined.total == pytest.approx(CENSUS_QC_2016, abs=1e-3)
    assert refined.balance == pytest.approx(0.0, abs=1e-3)
    by = refined.by_source()
    assert by.loc["ct", "n_polygons"] == 1382  # 1 402 tracts minus 20 without count
    assert by.loc["ct", "population"] == pytest.approx(5_941_570, abs=5)
    assert by.loc["csd_gap", "population"] == 0.0
    # 8 tracted CMA/CA; tract and municipal totals agree up to census rounding
    assert sorted(refined.factors.index) == [
        "408",
        "421",
        "433",
        "442",
        "447",
        "450",
        "462",
        "505",
    ]
    assert refined.factors.between(0.999, 1.001).all()
    assert any("505" in n and "no tract polygon" in n for n in refined.notes)


def test_published_totals(quebec_data: Path) -> None:
    rls_pub = published_totals("rls", data_dir=quebec_data)
    assert len(rls_pub) == 96
    assert rls_pub.sum() == MSSS_QC_2016
    assert published_totals("rss", data_dir=quebec_data).sum() == MSSS_QC_2016
    mrc_pub = published_totals("mrc", data_dir=quebec_data)
    assert len(mrc_pub) == 104
    # every CSD count lands in an MRC or is listed (Indian settlements)
    assert mrc_pub.sum() + sum(mrc_pub.attrs["unmatched"].values()) == CENSUS_QC_2016


def test_error_per_mrc_and_effect_of_tracts(
    quebec_data: Path,
    flat: PopulationSurface,
    refined: PopulationSurface,
    mrc: gpd.GeoDataFrame,
) -> None:
    pub = published_totals("mrc", data_dir=quebec_data)
    e_flat = error_summary(compare_totals(flat, mrc, pub))
    e_ref = error_summary(compare_totals(refined, mrc, pub))
    assert e_ref["median_abs_rel"] < 0.005
    assert e_ref["max_abs_rel"] < 0.12
    # the tracts cut the summed absolute error by more than half
    assert e_ref["sum_abs_diff"] < 0.5 * e_flat["sum_abs_diff"]
    assert e_ref["max_abs_rel"] < e_flat["max_abs_rel"]


def test_error_per_rls(
    quebec_data: Path, refined: PopulationSurface, rls: gpd.GeoDataFrame
) -> None:
    pub = published_totals("rls", data_dir=quebec_data)
    strict = compare_totals(refined, rls, pub)
    # the RLS layer leaves out water with a coarse coastline: ~5 % of the
    # population falls outside every RLS polygon
    outside = strict.attrs["outside_zones"] / refined.total
    assert 0.03 < outside < 0.08
    ren = error_summary(compare_totals(refined, rls, pub, renormalise=True))
    assert ren["n"] == 96
    assert ren["median_abs_rel"] < 0.01
    assert ren["max_abs_rel"] < 0.1


def test_reconcile_to_msss_rls(
    quebec_data: Path, refined: PopulationSurface, rls: gpd.GeoDataFrame
) -> None:
    pub = published_totals("rls", data_dir=quebec_data)
    new, fac = reconcile_to(refined, pub, rls)
    assert fac["reached"].all()
    # census 2016 vs MSSS estimate, plus allocation error: 0.94-1.06 (measured)
    assert fac["factor"].between(0.9, 1.1).all()
    by_zone = new.polygons.groupby("zone_code")["population"].sum()
    assert by_zone.to_numpy() == pytest.approx(pub.reindex(by_zone.index), rel=1e-12)
    # re-measured independently by area: equal up to floating-point border residue
    tab = compare_totals(new, rls, pub)
    assert tab["allocated"].to_numpy() == pytest.approx(
        pub.reindex(tab.index), rel=1e-4
    )
    outside = new.polygons.loc[new.polygons["zone_code"].isna(), "population"].sum()
    assert new.total == pytest.approx(MSSS_QC_2016 + outside, rel=1e-12)
    assert isinstance(fac, pd.DataFrame)
