"""``--territory``: a user's territory in audit, map, report, atlas build, crosswalk.

The territory is three 15 km squares over the generated demo territory
(:mod:`geodecoupage.datasets.demo`, patched in for ``read_layer``), written to a
GeoPackage in a tmp dir; the references are computed here with shapely.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd
import shapely
from shapely.geometry import box

from geodecoupage.cli.main import cli
from geodecoupage.crs import WORK_CRS, area_m2
from geodecoupage.datasets.demo import demo_layers

#: (code, name, xmin, ymin): 15 km squares in EPSG:32198; T1 in region 91, T3 in
#: region 92, T2 near their border.
SQUARES = (
    ("T1", "Table des Aulnes", -330_000.0, 170_000.0),
    ("T2", "Table du Centre", -300_000.0, 190_000.0),
    ("T3", "Table de l'Est", -262_000.0, 170_000.0),
)
SIDE = 15_000.0
TAU = 0.01


@pytest.fixture(autouse=True)
def demo_data(demo_catalogue: None) -> None:
    """Every test reads the demo layers (see tests/conftest.py)."""


def _squares(dx: float = 0.0) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"id": [c for c, *_ in SQUARES], "label": [n for _, n, *_ in SQUARES]},
        geometry=[box(x + dx, y, x + dx + SIDE, y + SIDE) for *_, x, y in SQUARES],
        crs=WORK_CRS,
    )


@pytest.fixture
def territory(tmp_path: Path) -> Path:
    path = tmp_path / "demarches.gpkg"
    _squares().to_file(path)
    return path


@pytest.fixture
def far_territory(tmp_path: Path) -> Path:
    """The squares moved 200 km east: in Québec, outside the demo territory."""
    path = tmp_path / "loin.gpkg"
    _squares(dx=200_000.0).to_file(path)
    return path


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def terr(path: Path, *extra: str) -> list[str]:
    return ["--territory", str(path), "--code-col", "id", "--name-col", "label", *extra]


def expected_partners(layer: gpd.GeoDataFrame) -> dict[str, int]:
    """Institutions of *layer* each square must coordinate with (shapely only).

    A link is significant when it holds more than τ of the square or of the
    institution's part covered by the squares, or is either side's largest link.
    """
    rows = []
    for code, _, x, y in SQUARES:
        sq = box(x, y, x + SIDE, y + SIDE)
        for inst, geom in zip(layer.index, layer.geometry, strict=True):
            a = shapely.intersection(sq, geom).area
            if a > 0:
                rows.append((code, str(inst), a))
    frame = pd.DataFrame(rows, columns=["t", "j", "a"])
    s = frame["a"] / frame.groupby("t")["a"].transform("sum")
    u = frame["a"] / frame.groupby("j")["a"].transform("sum")
    top_t = frame["a"] == frame.groupby("t")["a"].transform("max")
    top_j = frame["a"] == frame.groupby("j")["a"].transform("max")
    frame["sig"] = (s > TAU) | (u > TAU) | top_t | top_j
    return frame[frame["sig"]].groupby("t").size().astype(int).to_dict()


def contains_name(text: str, name: str) -> bool:
    """*name* in the page, as HTML text or inside embedded JSON."""
    import html

    forms = {name, html.escape(name), json.dumps(name)[1:-1]}
    forms.add(json.dumps(html.escape(name))[1:-1])
    forms.add(json.dumps(html.escape(name))[1:-1].replace("&", "\\u0026"))
    return any(f in text for f in forms)


# ---- audit --------------------------------------------------------------------


def test_audit_counts_each_tables_institutions_like_shapely(
    territory: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    res = run(
        "audit",
        *terr(territory),
        "--layers",
        "rls,css",
        "--no-population",
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.output
    tables = pd.read_csv(out / "risk_tables.csv", dtype={"code": str}).set_index("code")
    assert sorted(tables.index) == ["T1", "T2", "T3"]
    assert dict(tables["nom"]) == {c: n for c, n, *_ in SQUARES}
    layers = demo_layers()
    for key in ("rls", "css"):
        want = expected_partners(layers[key])
        got = tables[f"n_{key}"].astype(int).to_dict()
        assert got == want, key
    total = tables["n_rls"] + tables["n_css"]
    assert (tables["n_institutions"] == total).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["heaviest_table"]["layer"] == "territoire"
    assert summary["params"]["tables"] == "territoire"
    assert "territoire → rls" in res.output


def test_audit_region_keeps_the_squares_that_meet_the_region(
    territory: Path, tmp_path: Path
) -> None:
    mrc = demo_layers()["mrc"]
    region = shapely.union_all(mrc[mrc["regions_code"] == "92"].geometry.values)
    squares = _squares()
    meets = [
        c
        for c, g in zip(squares["id"], squares.geometry, strict=True)
        if shapely.intersection(g, region).area > 1.0
    ]
    assert 0 < len(meets) < len(SQUARES)  # the test separates something
    out = tmp_path / "r92"
    res = run(
        "audit",
        *terr(territory),
        "--layers",
        "rls,css",
        "--region",
        "92",
        "--no-population",
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.output
    tables = pd.read_csv(out / "risk_tables.csv", dtype={"code": str})
    assert sorted(tables["code"]) == sorted(meets)


def test_audit_tables_can_be_a_catalogue_layer_with_the_territory_as_partner(
    territory: Path,
) -> None:
    res = run(
        "audit",
        *terr(territory),
        "--layers",
        "mrc,rls",
        "--tables",
        "mrc",
        "--no-population",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["params"]["tables"] == "mrc"
    assert "territoire" in data["params"]["institutions"]


# ---- crosswalk and atlas --------------------------------------------------------


@pytest.mark.parametrize("order", ["source", "target"])
def test_crosswalk_shares_of_each_square_sum_to_one(
    territory: Path, order: str
) -> None:
    pair = ["territoire", "rls"] if order == "source" else ["rls", "territoire"]
    res = run("crosswalk", *pair, *terr(territory))
    assert res.exit_code == 0, res.output
    table = pd.read_csv(io.StringIO(res.stdout), dtype=str)
    col = "source_code" if order == "source" else "target_code"
    share = "share_of_source" if order == "source" else "share_of_target"
    sums = table.assign(v=table[share].astype(float)).groupby(col)["v"].sum()
    assert sorted(sums.index) == ["T1", "T2", "T3"]
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-6)
    # Each square's area is conserved (equal-area measure of the squares).
    areas = table.assign(v=table["area_m2"].astype(float)).groupby(col)["v"].sum()
    ref = pd.Series(area_m2(_squares().geometry), index=_squares()["id"])
    np.testing.assert_allclose(areas.sort_index(), ref.sort_index(), rtol=1e-3)


def test_crosswalk_needs_the_territory_key_as_source_or_target(
    territory: Path,
) -> None:
    res = run("crosswalk", "mrc", "rls", *terr(territory))
    assert res.exit_code == 2
    assert "SOURCE or TARGET" in res.output
    res = run("crosswalk", "territoire", "rls")
    assert res.exit_code == 2
    assert "with --territory FILE" in res.output


def test_atlas_build_has_a_territory_column(territory: Path, tmp_path: Path) -> None:
    out = tmp_path / "atlas.gpkg"
    res = run("atlas", "build", "--layers", "rls", *terr(territory), "-o", str(out))
    assert res.exit_code == 0, res.output
    atoms = gpd.read_file(out, layer="atoms")
    assert set(atoms["territoire"].dropna()) == {"T1", "T2", "T3"}


# ---- map and report --------------------------------------------------------------


def test_map_names_the_squares_and_credits_the_user(
    territory: Path, tmp_path: Path
) -> None:
    out = tmp_path / "carte.html"
    res = run("map", *terr(territory), "--layers", "rls", "--cdn", "-o", str(out))
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    for _, name, *_ in SQUARES:
        assert contains_name(text, name), name
    assert contains_name(text, "territoire : fourni par l'utilisateur (demarches.gpkg)")


def test_report_names_the_squares_in_english(territory: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    res = run(
        "report",
        *terr(territory),
        "--layers",
        "rls,css",
        "--no-population",
        "--no-maps",
        "--lang",
        "en",
        "-o",
        str(out),
    )
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    for _, name, *_ in SQUARES:
        assert contains_name(text, name), name
    assert "territoire: supplied by the user (demarches.gpkg)" in text
    assert "fourni par" not in text


# ---- errors ---------------------------------------------------------------------

OUTSIDE_CASES = {
    "audit": ["audit", "--layers", "rls,css", "--no-population", "-o", "{out}"],
    "map": ["map", "--layers", "rls", "-o", "{out}.html"],
    "report": ["report", "--layers", "rls", "--no-population", "-o", "{out}.html"],
    "crosswalk": ["crosswalk", "territoire", "rls", "-o", "{out}.csv"],
    "atlas": ["atlas", "build", "--layers", "rls", "-o", "{out}.gpkg"],
}


@pytest.mark.parametrize("command", sorted(OUTSIDE_CASES))
def test_a_territory_outside_the_layers_exits_1_and_writes_nothing(
    far_territory: Path, tmp_path: Path, command: str
) -> None:
    out = tmp_path / "out"
    args = [a.replace("{out}", str(out)) for a in OUTSIDE_CASES[command]]
    before = set(tmp_path.iterdir())
    res = run(*args, *terr(far_territory))
    assert res.exit_code == 1, res.output
    assert "shares no territory with rls" in res.output
    assert "loin.gpkg" in res.output
    assert "--crs" in res.output
    assert "Traceback" not in res.output
    assert set(tmp_path.iterdir()) == before


def test_a_territory_outside_the_region_exits_1(
    territory: Path, tmp_path: Path
) -> None:
    mrc = demo_layers()["mrc"]
    inside = mrc[mrc["regions_code"] == "91"]
    only_t1 = tmp_path / "t1.gpkg"
    sq = _squares()
    sq = sq[sq["id"] == "T1"]
    assert sq.geometry.iloc[0].within(shapely.union_all(inside.geometry.values))
    sq.to_file(only_t1)
    res = run(
        "audit", *terr(only_t1), "--layers", "rls", "--region", "92", "--no-population"
    )
    assert res.exit_code == 1, res.output
    assert "shares no territory with region 92" in res.output


def test_a_territory_key_equal_to_a_catalogue_key_is_refused(territory: Path) -> None:
    res = run(
        "audit",
        *terr(territory, "--territory-key", "css"),
        "--layers",
        "rls,css",
        "--no-population",
    )
    assert res.exit_code == 1
    assert "'css' is already a catalogue layer key" in res.output
    assert "--territory-key" in res.output


def test_territory_without_code_col_is_a_usage_error(territory: Path) -> None:
    res = run("audit", "--territory", str(territory), "--layers", "rls")
    assert res.exit_code == 2
    assert "--territory needs --code-col" in res.output
    res = run("map", "--code-col", "id", "--layers", "rls", "-o", "x.html")
    assert res.exit_code == 2
    assert "--code-col: only with --territory FILE" in res.output


def test_territory_is_refused_with_all_regions(territory: Path, tmp_path: Path) -> None:
    res = run("audit", *terr(territory), "--all-regions", "-o", str(tmp_path / "b"))
    assert res.exit_code == 2
    assert "not with --all-regions" in res.output


def test_territory_options_share_their_help_with_layers_check() -> None:
    from geodecoupage.cli.layers import check
    from geodecoupage.cli.map import map_

    shared = ("code_col", "name_col", "layer_name", "declared_crs", "dissolve")
    a = {p.name: getattr(p, "help", "") for p in check.params}
    b = {p.name: getattr(p, "help", "") for p in map_.params}
    for name in shared:
        assert a[name] == b[name].replace("--territory", "--file"), name
