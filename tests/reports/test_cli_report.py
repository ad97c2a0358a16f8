"""``geodecoupage report`` on the generated demo territory (layers patched in)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from geodecoupage.cli.main import cli
from geodecoupage.datasets.demo import demo_layers
from geodecoupage.maps.offline import external_assets

BASE = ["report", "--layers", "mrc,rls,css", "--no-population"]


@pytest.fixture(autouse=True)
def demo_data(monkeypatch: pytest.MonkeyPatch) -> None:
    layers = demo_layers()

    def read_layer(key: str, **_: Any) -> Any:
        return layers[key].copy()

    monkeypatch.setattr("geodecoupage.layers.read_layer", read_layer)


def test_usage_errors(tmp_path: Path) -> None:
    one = CliRunner().invoke(
        cli, ["report", "--layers", "mrc", "-o", str(tmp_path / "r.html")]
    )
    assert one.exit_code == 2
    assert "at least 2" in one.output
    no_out = CliRunner().invoke(cli, BASE)
    assert no_out.exit_code == 2
    assert "-o rapport.html" in no_out.output
    bad = CliRunner().invoke(
        cli, [*BASE, "--tables", "x", "-o", str(tmp_path / "r.html")]
    )
    assert bad.exit_code == 2
    assert "--tables: unknown layer 'x'" in bad.output


def test_existing_output_is_refused_before_any_computation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.html"
    out.write_text("old")

    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("computed before checking the output")

    monkeypatch.setattr("geodecoupage.cli.report.prepare", boom)
    res = CliRunner().invoke(cli, [*BASE, "-o", str(out)])
    assert res.exit_code == 1
    assert "already exists" in res.output
    assert "--overwrite" in res.output
    assert out.read_text() == "old"


def test_report_of_the_demo_names_the_known_findings(tmp_path: Path) -> None:
    pytest.importorskip("geodecoupage.overlay.atlas")
    out = tmp_path / "rapport.html"
    res = CliRunner().invoke(cli, [*BASE, "-o", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert "MRC la plus scindée" in page
    assert "Institution convoquée par le plus de tables" in page
    assert external_assets(page) == []
    for doc in re.findall(r'srcdoc="([^"]*)"', page):
        assert external_assets(html.unescape(doc)) == []
    again = CliRunner().invoke(cli, [*BASE, "-o", str(tmp_path / "b.html")])
    assert again.exit_code == 0
    assert (tmp_path / "b.html").read_bytes() == out.read_bytes()
