"""Every available layer of the real-data mirror loads into the canonical schema."""

from __future__ import annotations

from pathlib import Path

import pytest

from geodecoupage.crs import area_m2
from geodecoupage.layers import LAYER_KEYS, available_layers, get_spec, read_layer

pytestmark = pytest.mark.realdata

CODE_PATTERNS = {
    "regions": r"^\d{2}$",
    "mrc": r"^\d{2,3}$",
    "municipalites": r"^\d{5}$",
    "rss": r"^\d{2}$",
    "cisss": r"^\d{3}$",
    "rls": r"^\d{4}$",
    "css": r"^[78]\d{2}000$",
    "cs_anglo": r"^8\d{2}000$",
    "cs_statut": r"^[67]\d{2}000$",
    "mtl_arrondissements": r"^(REM\d{2}|66\d{3})$",
    "mtl_quartiers": r"^\d{2}$",
}
# Share of the province (SDA regions, water included) each covers, as documented in
# PROVENANCE.md and docs/methodologie.md (tolerance 0.2 point).
COVERAGE = {
    "regions": 100.0,
    "mrc": 99.8,
    "rss": 100.0,
    "rls": 90.9,
    "cisss": 90.9,
    "municipalites": 100.0,
    "css": 65.2,
    "cs_anglo": 65.2,
    "cs_statut": 34.9,
}
# The regions layer measured in the equal-area CRS (PROVENANCE.md's 1 680 539 km²
# was measured in the conformal EPSG:32198, 0.93 % lower).
PROVINCE_KM2 = 1_696_364.0


@pytest.mark.parametrize("key", [k for k in LAYER_KEYS if k != "clsc"])
def test_layer_loads_in_canonical_schema(key: str, quebec_data: Path) -> None:
    gdf = read_layer(key, data_dir=quebec_data)
    spec = get_spec(key)
    assert gdf.index.name == "code"
    assert gdf.index.is_unique
    assert gdf.index.str.match(CODE_PATTERNS[key]).all(), gdf.index[:5].tolist()
    assert gdf.crs.to_epsg() == 32198
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    assert gdf.is_valid.all()
    assert not gdf.is_empty.any()
    assert gdf["nom"].notna().all()
    assert (gdf["layer"] == key).all()
    assert gdf.attrs["attribution"] == spec.attribution
    assert len(gdf.attrs["sha256"]) == 64 or gdf.attrs["source_path"].startswith(
        "derived"
    )
    if spec.expected_count is not None:
        assert len(gdf) == spec.expected_count
    if key in COVERAGE:
        pct = 100 * area_m2(gdf.geometry).sum() / 1e6 / PROVINCE_KM2
        assert pct == pytest.approx(COVERAGE[key], abs=0.2)


def test_parent_codes_point_at_real_units(quebec_data: Path) -> None:
    rls = read_layer("rls", data_dir=quebec_data)
    cisss = read_layer("cisss", data_dir=quebec_data)
    rss = read_layer("rss", data_dir=quebec_data)
    mrc = read_layer("mrc", data_dir=quebec_data)
    regions = read_layer("regions", data_dir=quebec_data)
    assert set(rls["cisss_code"]) == set(cisss.index)
    assert set(rls["rss_code"]) <= set(rss.index)
    assert set(cisss["rss_code"]) <= set(rss.index)
    assert set(mrc["regions_code"]) == set(regions.index)
    muni = read_layer("municipalites", data_dir=quebec_data)
    known = muni["mrc_code"].dropna()
    assert len(known) > 1200
    assert set(known) <= set(mrc.index)


def test_names_are_proper_utf8(quebec_data: Path) -> None:
    css = read_layer("css", data_dir=quebec_data)
    names = " ".join(css["nom"])
    assert "Monts-et-Marées" in names
    assert "Ã" not in names
    muni = read_layer("municipalites", data_dir=quebec_data)
    assert muni.loc["66023", "nom"] == "Montréal"


def test_clsc_is_listed_unavailable_with_reason(quebec_data: Path) -> None:
    table = available_layers(quebec_data)
    assert table["available"].sum() == 11
    assert not table.loc["clsc", "available"]
    assert "no polygons" in table.loc["clsc", "reason"]


def test_cisss_can_be_derived_from_rls(quebec_data: Path, tmp_path: Path) -> None:
    # a data directory holding only the RLS file: CISSS is derived by dissolve
    (tmp_path / "health" / "rls").mkdir(parents=True)
    for f in (quebec_data / "health" / "rls").iterdir():
        (tmp_path / "health" / "rls" / f.name).symlink_to(f)
    derived = read_layer("cisss", data_dir=tmp_path)
    official = read_layer("cisss", data_dir=quebec_data)
    assert set(derived.index) == set(official.index)
    a = area_m2(derived.geometry.sort_index())
    b = area_m2(official.geometry.sort_index())
    assert a == pytest.approx(b, rel=1e-3)
