"""``geodecoupage atlas build`` and ``geodecoupage crosswalk`` on the demo territory.

``read_layer`` and the population surface are patched to the generated demo
territory (:mod:`geodecoupage.datasets.demo`), so nothing reads the data directory.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd

from geodecoupage.cli.main import cli
from geodecoupage.datasets.demo import demo_layers, demo_population

XW_COLUMNS = "source_code,target_code,area_m2,share_of_source,share_of_target"
POP_COLUMNS = "population,pop_share_of_source,pop_share_of_target"


@pytest.fixture(autouse=True)
def demo_data(demo_catalogue: None, demo_census: None) -> None:
    """Every test reads the demo layers and population (see tests/conftest.py)."""


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(
        io.StringIO(text), dtype={"source_code": str, "target_code": str}
    )


def test_crosswalk_prints_csv_with_exactly_the_documented_columns() -> None:
    res = run("crosswalk", "mrc", "rls")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == XW_COLUMNS
    table = read_csv(res.stdout)
    assert (
        table["share_of_source"]
        .groupby(table["source_code"])
        .sum()
        .round(9)
        .eq(1)
        .all()
    )
    assert table["source_code"].str.len().min() >= 1


def test_crosswalk_codes_stay_zero_padded_strings() -> None:
    layers = demo_layers()
    res = run("crosswalk", "rls", "css")
    assert res.exit_code == 0, res.output
    table = read_csv(res.stdout)
    assert set(table["source_code"]) <= {str(c) for c in layers["rls"].index}
    assert set(table["target_code"]) <= {str(c) for c in layers["css"].index}
    padded = [c for c in layers["rls"].index if str(c).startswith("0")]
    if padded:
        assert any(line.startswith(padded[0] + ",") for line in res.stdout.splitlines())


def test_crosswalk_population_adds_the_population_columns() -> None:
    res = run("crosswalk", "mrc", "rls", "--weight", "population")
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == f"{XW_COLUMNS},{POP_COLUMNS}"
    table = read_csv(res.stdout)
    total = demo_population()["population"].sum()
    assert table["population"].sum() == pytest.approx(total, rel=1e-6)


def test_crosswalk_is_the_mirror_of_the_reverse_crosswalk() -> None:
    ab = read_csv(run("crosswalk", "mrc", "css").stdout)
    ba = read_csv(run("crosswalk", "css", "mrc").stdout)
    ab = ab.set_index(["source_code", "target_code"]).sort_index()
    ba = ba.set_index(["target_code", "source_code"]).sort_index()
    ba.index.names = ab.index.names
    pd.testing.assert_series_equal(ab["area_m2"], ba["area_m2"], check_names=False)
    pd.testing.assert_series_equal(
        ab["share_of_source"], ba["share_of_target"], check_names=False
    )


def test_self_crosswalk_is_the_identity() -> None:
    table = read_csv(run("crosswalk", "rls", "rls").stdout)
    assert (table["source_code"] == table["target_code"]).all()
    assert table["share_of_source"].eq(1.0).all()


def test_crosswalk_json_and_file_outputs(tmp_path: Path) -> None:
    res = run("crosswalk", "mrc", "rls", "--format", "json")
    assert res.exit_code == 0, res.output
    records = json.loads(res.stdout)
    assert list(records[0]) == XW_COLUMNS.split(",")
    out = tmp_path / "xw.json"
    res = run("crosswalk", "mrc", "rls", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text()) == records  # format taken from the suffix
    csv_out = tmp_path / "xw.csv"
    assert run("crosswalk", "mrc", "rls", "-o", str(csv_out)).exit_code == 0
    assert csv_out.read_text().splitlines()[0] == XW_COLUMNS


def test_crosswalk_geopackage_holds_one_feature_per_pair(tmp_path: Path) -> None:
    out = tmp_path / "xw.gpkg"
    res = run("crosswalk", "mrc", "css", "--format", "gpkg", "-o", str(out))
    assert res.exit_code == 0, res.output
    gdf = gpd.read_file(out, layer="crosswalk")
    table = read_csv(run("crosswalk", "mrc", "css").stdout)
    assert len(gdf) == len(table)
    assert gdf.crs == "EPSG:32198"
    assert gdf.is_valid.all()


def test_crosswalk_refuses_to_overwrite_without_the_flag(tmp_path: Path) -> None:
    out = tmp_path / "xw.csv"
    out.write_text("keep me")
    res = run("crosswalk", "mrc", "rls", "-o", str(out))
    assert res.exit_code == 1
    assert "already exists" in res.output
    assert out.read_text() == "keep me"
    res = run("crosswalk", "mrc", "rls", "-o", str(out), "--overwrite")
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith(XW_COLUMNS)


def test_crosswalk_unknown_layer_is_a_usage_error() -> None:
    res = CliRunner().invoke(cli, ["crosswalk", "mrc", "provinces"])
    assert res.exit_code == 2
    assert "provinces" in res.output


def test_crosswalk_layer_missing_from_the_data_is_a_clean_error() -> None:
    res = CliRunner().invoke(cli, ["crosswalk", "mrc", "cs_anglo"])
    assert res.exit_code == 1
    assert "not in the demo territory" in res.output
    assert "Traceback" not in res.output


def test_crosswalk_gpkg_to_stdout_is_refused() -> None:
    res = CliRunner().invoke(cli, ["crosswalk", "mrc", "rls", "--format", "gpkg"])
    assert res.exit_code == 2
    assert "needs -o" in res.output


def test_crosswalk_include_gaps_adds_rows_with_an_empty_code() -> None:
    plain = read_csv(run("crosswalk", "mrc", "rls").stdout)
    gaps = read_csv(run("crosswalk", "mrc", "rls", "--include-gaps").stdout)
    assert len(gaps) >= len(plain)
    assert gaps["area_m2"].sum() >= plain["area_m2"].sum()


@pytest.mark.parametrize("suffix", [".gpkg", ".parquet"])
def test_atlas_build_writes_the_atoms(tmp_path: Path, suffix: str) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    out = tmp_path / f"atlas{suffix}"
    res = run("atlas", "build", "--layers", "mrc,rls,css", "-o", str(out))
    assert res.exit_code == 0, res.output
    atoms = (
        gpd.read_file(out, layer="atoms")
        if suffix == ".gpkg"
        else gpd.read_parquet(out)
    )
    assert {"mrc", "rls", "css", "area_m2", "population", "geometry"} <= set(
        atoms.columns
    )
    assert atoms.crs == "EPSG:32198"
    assert "atoms" in res.stderr


def test_atlas_build_with_population(tmp_path: Path) -> None:
    out = tmp_path / "atlas.gpkg"
    res = run("atlas", "build", "--layers", "mrc,rls", "--population", "-o", str(out))
    assert res.exit_code == 0, res.output
    atoms = gpd.read_file(out, layer="atoms")
    total = demo_population()["population"].sum()
    assert atoms["population"].sum() == pytest.approx(total, rel=1e-6)


def test_atlas_build_refuses_overwrite_and_unknown_formats(tmp_path: Path) -> None:
    out = tmp_path / "atlas.gpkg"
    out.write_bytes(b"old")
    res = run("atlas", "build", "--layers", "mrc,rls", "-o", str(out))
    assert res.exit_code == 1
    assert "already exists" in res.output
    assert out.read_bytes() == b"old"
    bad = CliRunner().invoke(
        cli, ["atlas", "build", "--layers", "mrc,rls", "-o", str(tmp_path / "a.shp")]
    )
    assert bad.exit_code == 2
    assert ".gpkg" in bad.output


def test_atlas_build_unknown_layer_and_missing_output() -> None:
    res = CliRunner().invoke(
        cli, ["atlas", "build", "--layers", "mrc,nowhere", "-o", "x.gpkg"]
    )
    assert res.exit_code == 2
    assert "nowhere" in res.output
    res = CliRunner().invoke(cli, ["atlas", "build", "--layers", "mrc,rls"])
    assert res.exit_code == 2
    assert "-o/--output is required" in res.output
