"""The province atlas of mrc, rls and css on the real data mirror.

Conservation (each layer's area is found in its atoms, up to the slivers moved
and the overlaps inside a layer counted once) and coverage figures (RLS leave
out water, school service centres cover the south only).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import geopandas as gpd

from geodecoupage.crs import area_m2
from geodecoupage.overlay import Atlas, build_atlas

pytestmark = pytest.mark.realdata

KEYS = ("mrc", "rls", "css")


@pytest.fixture(scope="module")
def layers(quebec_data: Path) -> dict[str, gpd.GeoDataFrame]:
    from geodecoupage.layers import read_layer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quality warnings of the mirror files
        return {k: read_layer(k, data_dir=quebec_data) for k in KEYS}


@pytest.fixture(scope="module")
def atlas(layers: dict[str, gpd.GeoDataFrame]) -> Atlas:
    return build_atlas(layers)


def test_each_layer_area_is_conserved_up_to_slivers_and_self_overlaps(atlas, layers):
    moved = atlas.params["sliver_area_m2"]
    for key in KEYS:
        own = float(area_m2(layers[key].geometry).sum())
        overlap = atlas.params["self_overlap_area_m2"][key]
        covered = float(atlas.unit_totals(key)["area_m2"].sum())
        assert abs(covered - (own - overlap)) <= moved + 1e-6 * own, key


def test_total_area_is_the_sum_of_atoms_and_slivers_are_a_tiny_share(atlas):
    total = float(atlas.atoms["area_m2"].sum())
    assert total == pytest.approx(atlas.params["total_area_m2"], rel=1e-12)
    assert 1.68e12 < total < 1.71e12  # Québec: about 1.69 million km² (equal-area)
    assert 0 < atlas.params["sliver_area_m2"] < 1e-3 * total
    assert atlas.params["n_atoms"] < atlas.params["n_atoms_before_slivers"]


def test_coverage_figures_match_the_provenance_notes(atlas):
    cov = atlas.coverage()
    assert cov.loc["mrc", "covered_share"] > 0.99
    assert 0.88 < cov.loc["rls", "covered_share"] < 0.93  # no water in RLS
    # CSS: 1 093 563 km² (MEQ superficie), south of the Cree and Kativik lands
    assert cov.loc["css", "area_m2"] == pytest.approx(1.0936e12, rel=0.02)
    assert cov.loc["*", "gap_area_m2"] > 0.3 * cov.loc["mrc", "area_m2"]
    assert atlas.atoms[list(KEYS)].isna().all(axis=1).sum() == 0


def test_crosswalks_are_consistent_on_the_province(atlas):
    xw = atlas.crosswalk("mrc", "rls")
    np.testing.assert_allclose(
        xw["share_of_source"].groupby(level=0).sum(), 1.0, rtol=1e-12
    )
    back = atlas.crosswalk("rls", "mrc")
    np.testing.assert_allclose(
        xw["area_m2"].sort_index().to_numpy(),
        back["area_m2"].swaplevel().sort_index().to_numpy(),
    )
    rls_codes = xw.index.get_level_values(1)
    assert all(len(c) == 4 for c in rls_codes)  # RLS codes: 4 digits, zero-padded
    assert len(atlas.crosswalk("css", "css")) == 60


def test_atoms_are_valid_and_carry_their_area(atlas):
    atoms = atlas.atoms
    assert atoms.crs == "EPSG:32198"
    assert atoms.is_valid.all()
    # area_m2 is the sum of the faces' equal-area areas; the outline has extra
    # vertices on long straight EPSG:32198 edges (cell borders), which moves its
    # equal-area area slightly (measured: at most 6e-5 relative)
    np.testing.assert_allclose(area_m2(atoms.geometry), atoms["area_m2"], rtol=1e-4)
    assert atlas.params["kernel"]["edge_anomalies"] == 0
