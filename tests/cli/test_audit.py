"""``geodecoupage audit`` on the generated demo territory (layers patched in)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from geodecoupage.cli.main import cli
from geodecoupage.datasets.demo import demo_layers

FILES = (
    "incoherence.csv",
    "pairs.csv",
    "matrix.csv",
    "risk_tables.csv",
    "risk_institutions.csv",
    "sensitivity.csv",
    "summary.json",
)
BASE = ["audit", "--layers", "mrc,rls,css", "--tables", "mrc", "--no-population"]


@pytest.fixture(autouse=True)
def demo_data(monkeypatch: pytest.MonkeyPatch) -> None:
    layers = demo_layers()

    def read_layer(key: str, **_: Any) -> Any:
        return layers[key].copy()

    monkeypatch.setattr("geodecoupage.layers.read_layer", read_layer)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, [*BASE, *args], catch_exceptions=False)


def test_audit_writes_every_table_and_prints_a_french_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = run("-o", str(out))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    assert "Table la plus chargée" in res.output
    assert "mrc → rls" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["heaviest_table"]["layer"] == "mrc"
    header = (out / "risk_tables.csv").read_text().splitlines()[0]
    assert header.startswith("code,nom,n_rls,")


def test_outputs_are_byte_identical_and_never_overwritten_silently(
    tmp_path: Path,
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert run("-o", str(a)).exit_code == 0
    assert run("-o", str(b)).exit_code == 0
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    again = CliRunner().invoke(cli, [*BASE, "-o", str(a)])
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert "--overwrite" in again.output
    assert run("-o", str(a), "--overwrite").exit_code == 0


def test_without_output_json_goes_to_stdout(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, [*BASE, "--lang", "en"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert set(data) >= {"layers", "params", "pairs", "heaviest_table"}
    assert data["heaviest_table"]["explanation"].startswith("The MRC")
    assert "Heaviest table" in res.stderr


def test_region_restricts_the_rows(tmp_path: Path) -> None:
    mrc = demo_layers()["mrc"]
    region = sorted(mrc["regions_code"].unique())[0]
    in_region = set(mrc.index[mrc["regions_code"] == region])
    res = run("--region", region, "-o", str(tmp_path / "r"))
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert set(summary["params"]["within"]["mrc"]) == in_region
    tables = (tmp_path / "r" / "risk_tables.csv").read_text().splitlines()[1:]
    assert {line.split(",")[0] for line in tables} == in_region
    bad = CliRunner().invoke(cli, [*BASE, "--region", "zz"])
    assert bad.exit_code == 1
    assert "Unknown region code 'zz'" in bad.output


def test_usage_errors() -> None:
    one = CliRunner().invoke(cli, ["audit", "--layers", "mrc"])
    assert one.exit_code == 2
    assert "at least two" in one.output
    unknown = CliRunner().invoke(cli, ["audit", "--layers", "mrc,nope"])
    assert unknown.exit_code == 2
    assert "unknown layer" in unknown.output
    tables = CliRunner().invoke(cli, ["audit", "--layers", "mrc,rls", "--tables", "x"])
    assert tables.exit_code == 2
