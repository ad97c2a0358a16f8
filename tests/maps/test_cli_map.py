"""``geodecoupage map`` on the generated demo territory (layers patched in)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from geodecoupage.cli.main import cli
from geodecoupage.datasets.demo import demo_layers
from geodecoupage.maps.offline import external_assets

NNBSP = "\u202f"


@pytest.fixture(autouse=True)
def demo_data(monkeypatch: pytest.MonkeyPatch) -> None:
    layers = demo_layers()

    def read_layer(key: str, **_: Any) -> Any:
        return layers[key].copy()

    monkeypatch.setattr("geodecoupage.layers.read_layer", read_layer)


def _decoded(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda g: chr(int(g.group(1), 16)), text)


def test_one_layer_map_needs_no_atlas(tmp_path: Path) -> None:
    out = tmp_path / "carte.html"
    res = CliRunner().invoke(cli, ["map", "--layers", "mrc", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == str(out)
    page = out.read_text(encoding="utf-8")
    assert external_assets(page) == []
    assert "Données synthétiques générées par geodecoupage" in _decoded(out)
    again = CliRunner().invoke(cli, ["map", "--layers", "mrc", "-o", str(out)])
    assert again.exit_code == 1
    assert "already exists" in again.output
    ok = CliRunner().invoke(
        cli, ["map", "--layers", "mrc", "-o", str(out), "--overwrite", "--cdn"]
    )
    assert ok.exit_code == 0
    assert any("leaflet" in u for u in external_assets(out.read_text()))


def test_unknown_colour_column_is_a_clean_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "map",
            "--layers",
            "mrc",
            "--color-by",
            "nope",
            "-o",
            str(tmp_path / "m.html"),
        ],
    )
    assert res.exit_code == 1
    assert "Available columns:" in res.output
    assert "regions_code" in res.output
    assert "Traceback" not in res.output


def test_usage_errors(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["map", "-o", str(tmp_path / "m.html")])
    assert res.exit_code == 2
    assert "--layers needs at least 1" in res.output
    res = CliRunner().invoke(cli, ["map", "--layers", "mrc"])
    assert res.exit_code == 2
    assert "-o" in res.output


def test_overlap_map_of_the_demo_shows_a_known_split(tmp_path: Path) -> None:
    pytest.importorskip("geodecoupage.overlay.atlas")
    out = tmp_path / "carte.html"
    res = CliRunner().invoke(
        cli,
        ["map", "--layers", "municipalites,rls,css", "-o", str(out)],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    page = _decoded(out)
    # 99020 Saint-Médard-du-Rivage: 9102 53.07 %, 9103 46.93 % (by construction)
    assert re.search(
        rf"Municipalité 99020 : 53{NNBSP}% dans [^,]+, 47{NNBSP}% dans", page
    )
    assert external_assets(out.read_text()) == []
