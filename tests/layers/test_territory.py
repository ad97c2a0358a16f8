"""read_territory: formats, options and messages (hostile files: tests/badinputs)."""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import geopandas as gpd
import shapely

from geodecoupage.errors import (
    LayerQualityWarning,
    LayerReadError,
    LayerUnavailableError,
    LayerValidationError,
    MissingCRSError,
)
from geodecoupage.layers._text import repair_text
from geodecoupage.layers.territory import read_territory

LON0, LAT0, STEP = -72.6, 46.1, 0.05
NAMES = ["Québec", "Lévis", "Gaspé", "Val-d’Or"]


def sectors(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    cells = [
        shapely.box(LON0 + i * STEP, LAT0, LON0 + (i + 1) * STEP, LAT0 + STEP)
        for i in range(4)
    ]
    gdf = gpd.GeoDataFrame(
        {"CODE": ["001", "002", "010", "011"], "NOM": NAMES},
        geometry=cells,
        crs="EPSG:4326",
    )
    return gdf.to_crs(crs)


def save(gdf: gpd.GeoDataFrame, path: Path, **kwargs) -> Path:
    if path.suffix == ".parquet":
        gdf.to_parquet(path)
    else:
        gdf.to_file(path, **kwargs)
    return path


def zipped(folder: Path, files: list[Path], name: str = "secteurs.zip") -> Path:
    out = folder / name
    with zipfile.ZipFile(out, "w") as zf:
        for f in files:
            zf.write(f, f"export/{f.name}")
    return out


def shapefile_parts(shp: Path) -> list[Path]:
    return sorted(p for p in shp.parent.iterdir() if p.stem == shp.stem)


@pytest.fixture(
    params=["gpkg", "geojson", "shp", "zip", "parquet", "fgb", "gpkg-in-zip"]
)
def territory_file(request, tmp_path: Path) -> Path:
    kind = request.param
    gdf = sectors("EPSG:32198") if kind in {"shp", "zip"} else sectors()
    if kind in {"shp", "zip"}:
        (tmp_path / "src").mkdir()
        shp = save(gdf, tmp_path / "src" / "secteurs.shp")
        return shp if kind == "shp" else zipped(tmp_path, shapefile_parts(shp))
    if kind == "gpkg-in-zip":
        (tmp_path / "src").mkdir()
        gpkg = save(gdf, tmp_path / "src" / "secteurs.gpkg")
        return zipped(tmp_path, [gpkg])
    return save(gdf, tmp_path / f"secteurs.{kind}")


def test_every_format_reads_into_the_canonical_schema(territory_file: Path):
    gdf = read_territory(
        territory_file, code_col="CODE", name_col="NOM", key="secteurs"
    )
    assert gdf.crs.to_epsg() == 32198
    assert gdf.index.name == "code"
    assert gdf.index.dtype == "string"
    assert sorted(gdf.index) == ["001", "002", "010", "011"]  # leading zeros kept
    assert dict(zip(gdf.index, gdf["nom"], strict=True))["002"] == "Lévis"
    assert set(gdf["nom"]) == set(NAMES)
    assert (gdf["layer"] == "secteurs").all()
    assert list(gdf.columns) == ["nom", "layer", "geometry"]
    ref = sectors("EPSG:32198").set_index("CODE").geometry
    dist = shapely.hausdorff_distance(gdf.geometry.array, ref.loc[gdf.index].array)
    assert float(np.max(dist)) < 0.01
    sha = hashlib.sha256(territory_file.read_bytes()).hexdigest()
    assert gdf.attrs == {
        "layer": "secteurs",
        "title_fr": "secteurs",
        "title_en": "secteurs",
        "vintage": "",
        "attribution": "",
        "licence": "",
        "source_path": str(territory_file),
        "sha256": sha,
        "crs": "EPSG:32198",
        "repairs": (),
    }


def test_reading_leaves_the_file_untouched(tmp_path: Path):
    p = save(sectors(), tmp_path / "s.gpkg")
    before = p.read_bytes()
    read_territory(p, code_col="CODE")
    assert p.read_bytes() == before


def test_names_default_to_codes(tmp_path: Path):
    gdf = read_territory(save(sectors(), tmp_path / "s.geojson"), code_col="CODE")
    assert gdf["nom"].tolist() == gdf.index.tolist()


def test_codes_are_stripped(tmp_path: Path):
    gdf = sectors()
    gdf["CODE"] = [" 001", "002 ", "010", "011"]
    out = read_territory(save(gdf, tmp_path / "s.gpkg"), code_col="CODE")
    assert out.index.tolist() == ["001", "002", "010", "011"]


def test_numeric_codes_warn_and_point_at_the_caller(tmp_path: Path):
    gdf = sectors()
    gdf["CODE"] = [1, 2, 10, 11]
    p = save(gdf, tmp_path / "s.gpkg")
    with pytest.warns(LayerQualityWarning, match="stores codes as numbers") as rec:
        out = read_territory(p, code_col="CODE")
    assert out.index.tolist() == ["1", "2", "10", "11"]
    assert rec[0].filename == __file__


def test_float_codes_do_not_get_a_decimal_part(tmp_path: Path):
    gdf = sectors()
    gdf["CODE"] = [1.0, 2.0, 10.0, 11.0]
    p = save(gdf, tmp_path / "s.gpkg")
    with pytest.warns(LayerQualityWarning, match="stores codes as numbers"):
        out = read_territory(p, code_col="CODE")
    assert out.index.tolist() == ["1", "2", "10", "11"]


def test_a_missing_numeric_code_is_a_null_code(tmp_path: Path):
    gdf = sectors()
    gdf["CODE"] = [1.0, 2.0, 10.0, np.nan]
    p = save(gdf, tmp_path / "s.gpkg")
    with (
        pytest.warns(LayerQualityWarning, match="stores codes as numbers"),
        pytest.raises(LayerValidationError, match="null-code"),
    ):
        read_territory(p, code_col="CODE")


def test_missing_file_message_says_where_we_looked(tmp_path: Path):
    with pytest.raises(
        LayerUnavailableError, match=r"not found.*exists; check the file name"
    ):
        read_territory(tmp_path / "absent.gpkg", code_col="CODE")
    with pytest.raises(LayerUnavailableError, match="does not exist either"):
        read_territory(tmp_path / "nope" / "absent.gpkg", code_col="CODE")


def test_unknown_column_lists_the_columns(tmp_path: Path):
    p = save(sectors(), tmp_path / "s.gpkg")
    with pytest.raises(LayerReadError) as info:
        read_territory(p, code_col="code")
    msg = str(info.value)
    assert "has no column 'code' for the unit codes (code_col)" in msg
    assert "Did you mean 'CODE'?" in msg
    assert "Columns present: CODE, NOM." in msg


@pytest.mark.filterwarnings("ignore:'crs' was not provided:UserWarning")
def test_explicit_crs_for_a_file_without_one(tmp_path: Path):
    p = save(
        sectors("EPSG:32198").set_crs(None, allow_override=True), tmp_path / "s.fgb"
    )
    with pytest.raises(
        MissingCRSError, match="declares no coordinate reference system"
    ):
        read_territory(p, code_col="CODE")
    gdf = read_territory(p, code_col="CODE", crs="EPSG:32198")
    assert len(gdf) == 4


def test_explicit_crs_replaces_a_wrong_declared_one_with_a_warning(tmp_path: Path):
    lambert = sectors("EPSG:32198")
    wrong = lambert.set_crs(
        "EPSG:4326", allow_override=True
    )  # metres said to be degrees
    p = save(wrong, tmp_path / "s.gpkg")
    with pytest.raises(LayerValidationError, match="metres labelled as degrees"):
        read_territory(p, code_col="CODE")
    with pytest.warns(LayerQualityWarning, match="was replaced by"):
        gdf = read_territory(p, code_col="CODE", crs="EPSG:32198")
    assert gdf.geometry.iloc[0].equals_exact(lambert.geometry.iloc[0], 1e-6)


def test_zip_with_two_shapefiles_reads_the_one_asked(tmp_path: Path):
    (tmp_path / "a").mkdir()
    one = save(sectors("EPSG:32198"), tmp_path / "a" / "secteurs.shp")
    two = save(sectors("EPSG:32198").iloc[:2], tmp_path / "a" / "brouillon.shp")
    z = zipped(tmp_path, shapefile_parts(one) + shapefile_parts(two))
    with pytest.raises(LayerReadError, match=r"holds 2 layers.*layer="):
        read_territory(z, code_col="CODE")
    assert len(read_territory(z, code_col="CODE", layer="brouillon")) == 2
    assert len(read_territory(z, code_col="CODE", layer="secteurs")) == 4


def test_geopackage_inside_a_zip_honours_layer(tmp_path: Path):
    (tmp_path / "a").mkdir()
    gpkg = save(sectors(), tmp_path / "a" / "multi.gpkg", layer="tout")
    save(sectors().iloc[:1], gpkg, layer="un", mode="a")
    z = zipped(tmp_path, [gpkg])
    with pytest.raises(LayerReadError, match="holds 2 layers: 'tout', 'un'"):
        read_territory(z, code_col="CODE")
    assert len(read_territory(z, code_col="CODE", layer="un")) == 1


def test_zip_path_traversal_writes_nothing_outside(tmp_path: Path):
    (tmp_path / "a").mkdir()
    shp = save(sectors("EPSG:32198"), tmp_path / "a" / "secteurs.shp")
    z = tmp_path / "evil.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in shapefile_parts(shp):
            zf.write(f, f.name)
        zf.writestr("../../pwned.txt", "x")
    with pytest.raises(LayerReadError, match="unsafe member name"):
        read_territory(z, code_col="CODE")
    assert not (tmp_path.parent / "pwned.txt").exists()
    assert not (tmp_path / "pwned.txt").exists()


def test_repair_false_makes_invalid_geometry_an_error(tmp_path: Path):
    gdf = sectors()
    x, y = LON0, LAT0 + 0.2
    gdf.loc[0, "geometry"] = shapely.Polygon(
        [(x, y), (x + STEP, y + STEP), (x + STEP, y), (x, y + STEP)]
    )
    p = save(gdf, tmp_path / "s.gpkg")
    with pytest.raises(LayerValidationError, match="invalid-geometry"):
        read_territory(p, code_col="CODE", repair=False)
    with pytest.warns(LayerQualityWarning, match="Repaired:.*'001'") as rec:
        out = read_territory(p, code_col="CODE")
    assert out.geometry.is_valid.all()
    assert out.attrs["repairs"] == (
        "territoire (s.gpkg): made 1 invalid geometry valid (shapely.make_valid): "
        "'001'",
    )
    assert rec[0].filename == __file__


def test_dissolve_merges_parts_sharing_a_code(tmp_path: Path):
    gdf = sectors()
    gdf["CODE"] = ["001", "002", "001", "002"]
    p = save(gdf, tmp_path / "s.gpkg")
    with pytest.raises(LayerValidationError, match="duplicate-code"):
        read_territory(p, code_col="CODE", name_col="NOM")
    out = read_territory(p, code_col="CODE", name_col="NOM", dissolve=True)
    assert out.index.tolist() == ["001", "002"]
    assert out.index.dtype == "string"
    assert out["nom"].tolist() == ["Québec", "Lévis"]  # first name of each code
    assert out.geometry.iloc[0].geom_type == "MultiPolygon"
    total = sectors("EPSG:32198").area.sum()
    assert out.area.sum() == pytest.approx(total, rel=1e-9)


def test_tiles_false_skips_overlap_warnings(tmp_path: Path):
    gdf = sectors()
    gdf.loc[3, "geometry"] = gdf.geometry.iloc[0]
    p = save(gdf, tmp_path / "s.gpkg")
    with pytest.warns(LayerQualityWarning, match="overlap"):
        read_territory(p, code_col="CODE")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_territory(p, code_col="CODE", tiles=False)) == 4


def test_public_entry_point_is_the_same_function(tmp_path: Path):
    from geodecoupage.layers import read_territory as public

    p = save(sectors(), tmp_path / "s.geojson")
    pd.testing.assert_frame_equal(
        public(p, code_col="CODE", name_col="NOM"),
        read_territory(p, code_col="CODE", name_col="NOM"),
    )


@pytest.mark.realdata
def test_real_rls_shapefile_reads_as_a_territory(quebec_data: Path):
    gdf = read_territory(
        quebec_data / "health" / "rls" / "rls_no_water.shp",
        code_col="RLS_code",
        name_col="RLS_nom",
        key="rls",
        tiles=False,
    )
    assert len(gdf) == 96
    assert gdf.index.str.fullmatch(r"\d{4}").all()
    assert gdf.geometry.is_valid.all()
    assert not gdf["nom"].str.contains("Ã", regex=False).any()


@pytest.mark.realdata
def test_real_census_tracts_are_repaired(quebec_data: Path):
    with pytest.warns(LayerQualityWarning, match="made 2 invalid geometries valid"):
        gdf = read_territory(
            quebec_data / "statcan" / "ct_qc_2016.shp",
            code_col="CTUID",
            name_col="CTNAME",
            tiles=False,
        )
    assert len(gdf) == 1402
    assert gdf.index.str.fullmatch(r"\d{7}\.\d{2}").all()


# ---------------------------------------------------------------------------
# property: codes and names survive every format unchanged


code_text = st.text(alphabet="0123456789ABX-_", min_size=1, max_size=8).filter(
    lambda c: c.strip() == c and c.strip() != ""
)
# Names that repair_text leaves alone: an accented capital directly followed by
# « » ’ – ... (e.g. "É«") is itself a double encoding and is repaired by design
# (documented in repair_text), so it cannot round-trip unchanged; names are read
# stripped of surrounding spaces.
name_text = st.text(
    alphabet=st.sampled_from(list("abcéèàâîôûçÉÎ -'’«»–0123456789")), max_size=30
).filter(lambda n: repair_text(n) == n and n == n.strip())


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    codes=st.lists(code_text, min_size=1, max_size=6, unique=True),
    names=st.lists(name_text, min_size=6, max_size=6),
    fmt=st.sampled_from(["gpkg", "geojson", "fgb", "parquet", "shp"]),
)
def test_property_codes_and_names_round_trip(tmp_path_factory, codes, names, fmt):
    folder = tmp_path_factory.mktemp("rt")
    cells = [
        shapely.box(LON0 + i * STEP, LAT0, LON0 + (i + 1) * STEP, LAT0 + STEP)
        for i in range(len(codes))
    ]
    names = names[: len(codes)]
    gdf = gpd.GeoDataFrame(
        {"CODE": codes, "NOM": names}, geometry=cells, crs="EPSG:4326"
    )
    out = read_territory(
        save(gdf, folder / f"s.{fmt}"), code_col="CODE", name_col="NOM"
    )
    # A format may store "" as NULL: an empty name and a missing one are equal.
    got = {
        k: v if isinstance(v, str) else ""
        for k, v in zip(out.index, out["nom"], strict=True)
    }
    assert got == dict(zip(codes, names, strict=True))
