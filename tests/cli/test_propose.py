"""``geodecoupage propose`` on the generated demo territory (layers patched in)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd

from geodecoupage.cli.main import cli
from geodecoupage.cli.propose import ENVELOPE_FILES, REASSIGN_FILES, REGION_FILES
from geodecoupage.datasets.demo import DEMO_EXPECTED, demo_layers, demo_population


@pytest.fixture(autouse=True)
def demo_data(monkeypatch: pytest.MonkeyPatch) -> None:
    layers = demo_layers()

    def read_layer(key: str, **_: Any) -> Any:
        return layers[key].copy()

    monkeypatch.setattr("geodecoupage.layers.read_layer", read_layer)
    monkeypatch.setattr(
        "geodecoupage.cli.propose.read_population", lambda _d: demo_population()
    )


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["propose", *args], catch_exceptions=False)


def test_envelopes_writes_its_files(tmp_path: Path) -> None:
    res = run("envelopes", "--layers", "mrc,rls,css", "-o", str(tmp_path))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(ENVELOPE_FILES)
    assert "Enveloppes cohérentes" in res.output
    groups = pd.read_csv(tmp_path / "envelopes.csv", dtype={"group": str})
    assert groups["population"].sum() == pytest.approx(
        DEMO_EXPECTED.total_population, rel=1e-6
    )
    gpkg = gpd.read_file(tmp_path / "envelopes.gpkg", layer="groups")
    assert len(gpkg) == len(groups)


def test_reassign_top_proposals_and_scores(tmp_path: Path) -> None:
    res = run("reassign", "--layers", "rls,css", "-o", str(tmp_path), "--lang", "en")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(REASSIGN_FILES)
    props = pd.read_csv(tmp_path / "reassign_proposals.csv", dtype={"base": str})
    # the demo's split municipalities above 1 %: 99020 and 99034 (RLS), 99029 (CSS);
    # 99027's 0.19 % sliver is below the threshold
    assert set(zip(props["base"], props["layer"], strict=True)) == {
        ("99020", "rls"),
        ("99034", "rls"),
        ("99029", "css"),
    }
    assert (props["status"] == "applied").all()
    scores = pd.read_csv(tmp_path / "reassign_scores.csv")
    split = scores[
        (scores["source"] == "municipalites") & (scores["metric"] == "n_split")
    ]
    assert (split["after"] <= split["before"]).all()
    assert split["after"].sum() == 0
    assert "Persons moved" in res.output


def test_regions_of_one_region(tmp_path: Path) -> None:
    res = run(
        "regions",
        "--layers",
        "rls,css",
        "--region",
        "91",
        "--floor",
        "10000",
        "-o",
        str(tmp_path),
    )
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(REGION_FILES)
    members = pd.read_csv(tmp_path / "regions.csv", dtype={"code": str})
    munis = demo_layers()["municipalites"]
    in_region = set(munis.index[munis["regions_code"] == "91"])
    assert set(members["code"]) == in_region
    per = members.groupby("group")["group_population"].first()
    assert (per >= 10000).all()
    scores = pd.read_csv(tmp_path / "regions_scores.csv")
    total = scores[(scores["layer"] == "all") & (scores["metric"] == "straddles")].iloc[
        0
    ]
    assert total["after"] <= total["before"]


def test_regions_stdout_json_without_output() -> None:
    res = CliRunner().invoke(
        cli,
        ["propose", "regions", "--layers", "rls,css", "--floor", "5000"],
        catch_exceptions=False,
    )
    assert res.exit_code == 0
    payload = json.loads(res.stdout)
    assert payload["command"] == "regions"
    assert {"n_groups", "objective", "groups", "scores", "params"} <= set(payload)


def test_outputs_are_never_overwritten_silently(tmp_path: Path) -> None:
    assert run("envelopes", "--layers", "rls,css", "-o", str(tmp_path)).exit_code == 0
    res = CliRunner().invoke(
        cli, ["propose", "envelopes", "--layers", "rls,css", "-o", str(tmp_path)]
    )
    assert res.exit_code == 1
    assert "already exists" in res.output
    assert "--overwrite" in res.output
    again = run("envelopes", "--layers", "rls,css", "-o", str(tmp_path), "--overwrite")
    assert again.exit_code == 0


def test_infeasible_floor_is_a_clean_error() -> None:
    res = CliRunner().invoke(
        cli, ["propose", "regions", "--layers", "rls", "--floor", "1e9"]
    )
    assert res.exit_code == 1
    assert "below the floor" in res.output
    assert "Traceback" not in res.output


def test_usage_errors() -> None:
    res = CliRunner().invoke(cli, ["propose", "envelopes"])
    assert res.exit_code == 2
    assert "--layers is required" in res.output
    res = CliRunner().invoke(cli, ["propose", "envelopes", "--layers", "mrc,nope"])
    assert res.exit_code == 2
    assert "unknown layer" in res.output
    res = CliRunner().invoke(cli, ["propose", "regions", "--layers", "rls"])
    assert res.exit_code == 2
    assert "--floor" in res.output
