"""``--atlas FILE``: audit, report, map and crosswalk reuse a saved atlas.

The reference is the same command building its atlas: with an atlas saved by
``geodecoupage atlas build`` from the same layers and parameters, the outputs must
be byte-identical. ``read_layer`` and the population surface are patched to the
generated demo territory (:mod:`geodecoupage.datasets.demo`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from geodecoupage.cli.main import cli
from geodecoupage.datasets.demo import demo_layers, demo_population
from geodecoupage.overlay import read_atlas

LAYERS = "mrc,rls,css"
AUDIT = ["audit", "--layers", LAYERS, "--tables", "mrc"]


@pytest.fixture(autouse=True)
def demo_data(demo_catalogue: None, demo_census: None) -> None:
    """Every test reads the demo layers and population (see tests/conftest.py)."""


@pytest.fixture
def no_overlay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make building an atlas fail: with --atlas, nothing may be built."""

    def fail(*_: Any, **__: Any) -> Any:
        msg = "build_atlas called although --atlas was given"
        raise AssertionError(msg)

    monkeypatch.setattr("geodecoupage.overlay.atlas.build_atlas", fail)
    monkeypatch.setattr("geodecoupage.overlay.build_atlas", fail)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo atlas of mrc,rls,css with population, saved in both formats."""
    out = tmp_path_factory.mktemp("atlas")
    paths = {}
    with pytest.MonkeyPatch.context() as mp:
        layers = demo_layers()
        pop = demo_population()
        mp.setattr("geodecoupage.layers.read_layer", lambda k, **_: layers[k].copy())
        mp.setattr(
            "geodecoupage.overlay.population.population_surface",
            lambda **_: pop.copy(),
        )
        for suffix in ("gpkg", "parquet"):
            path = out / f"atlas.{suffix}"
            res = run("atlas", "build", "--layers", LAYERS, "--population")
            assert res.exit_code == 2  # no -o: usage error, nothing built
            res = run(
                "atlas", "build", "--layers", LAYERS, "--population", "-o", str(path)
            )
            assert res.exit_code == 0, res.output
            assert "atoms" in res.output
            assert str(path) in res.output
            paths[suffix] = path
    return paths


@pytest.fixture(scope="module")
def built_audit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The audit folder of the command building its own atlas (the reference)."""
    out = tmp_path_factory.mktemp("built") / "audit"
    with pytest.MonkeyPatch.context() as mp:
        layers = demo_layers()
        pop = demo_population()
        mp.setattr("geodecoupage.layers.read_layer", lambda k, **_: layers[k].copy())
        mp.setattr(
            "geodecoupage.overlay.population.population_surface",
            lambda **_: pop.copy(),
        )
        res = run(*AUDIT, "-o", str(out))
    assert res.exit_code == 0, res.output
    return out


def assert_same_folder(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("suffix", ["gpkg", "parquet"])
def test_audit_with_saved_atlas_is_byte_identical(
    saved: dict[str, Path],
    built_audit: Path,
    tmp_path: Path,
    suffix: str,
    no_overlay: None,
) -> None:
    out = tmp_path / "reused"
    res = run(*AUDIT, "--atlas", str(saved[suffix]), "-o", str(out))
    assert res.exit_code == 0, res.output
    assert_same_folder(built_audit, out)


def test_atlas_build_output_reads_back_with_its_layers(saved: dict[str, Path]) -> None:
    atlas = read_atlas(saved["gpkg"])
    assert atlas.layers == ("mrc", "rls", "css")
    assert atlas.atoms["population"].notna().all()
    assert atlas.params["n_atoms"] == len(atlas.atoms)


def test_audit_of_a_region_inside_the_saved_atlas(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    from geodecoupage.metrics import audit

    layers = demo_layers()
    mrc = layers["mrc"]
    codes = sorted(mrc.index[mrc["regions_code"] == "91"])
    assert 0 < len(codes) < len(mrc)
    out = tmp_path / "r91"
    res = run(*AUDIT, "--atlas", str(saved["gpkg"]), "--region", "91", "-o", str(out))
    assert res.exit_code == 0, res.output
    # the reference: the batch's way, the province atlas with within = the MRC
    names = {
        k: {str(c): str(n) for c, n in layers[k]["nom"].items()}
        for k in ("mrc", "rls", "css")
    }
    expected = tmp_path / "expected"
    audit(
        read_atlas(saved["gpkg"]),
        layers=["mrc", "rls", "css"],
        tables="mrc",
        within={"mrc": codes},
        names=names,
    ).write(expected)
    for name in ("incoherence.csv", "pairs.csv", "risk_tables.csv"):
        assert (out / name).read_bytes() == (expected / name).read_bytes(), name
    tables = (out / "risk_tables.csv").read_text().splitlines()[1:]
    assert sorted(line.split(",")[0] for line in tables) == codes


def test_unknown_region_in_saved_atlas_is_a_clean_error(
    saved: dict[str, Path],
) -> None:
    res = run(*AUDIT, "--atlas", str(saved["gpkg"]), "--region", "42")
    assert res.exit_code == 1
    assert "42" in res.output


@pytest.mark.parametrize(
    "extra",
    [
        ["--min-area-m2", "5"],
        ["--no-population"],
        ["--population"],
        ["--territory", "x.gpkg", "--code-col", "id"],
    ],
)
def test_audit_refuses_options_that_change_the_atlas(
    saved: dict[str, Path], extra: list[str]
) -> None:
    res = run(*AUDIT, "--atlas", str(saved["gpkg"]), *extra)
    assert res.exit_code == 2, res.output
    assert "uses the atlas as it was saved" in res.output
    assert extra[0] in res.output


@pytest.mark.parametrize("extra", [["--all-regions"], ["--config", "audit.toml"]])
def test_atlas_is_refused_with_the_batch_options(
    saved: dict[str, Path], tmp_path: Path, extra: list[str]
) -> None:
    (tmp_path / "audit.toml").write_text('layers = ["mrc", "rls"]\n')
    if extra[0] == "--config":
        extra = ["--config", str(tmp_path / "audit.toml")]
    res = run(*AUDIT, "--atlas", str(saved["gpkg"]), *extra, "-o", str(tmp_path / "o"))
    assert res.exit_code == 2, res.output
    assert "not with --all-regions or --config" in res.output


def test_layers_outside_the_atlas_are_refused(saved: dict[str, Path]) -> None:
    res = run("audit", "--layers", "mrc,municipalites", "--atlas", str(saved["gpkg"]))
    assert res.exit_code == 1
    assert "municipalites are not in the atlas" in res.output
    assert "holds mrc, rls, css" in res.output


def test_region_needs_mrc_in_the_atlas(tmp_path: Path) -> None:
    path = tmp_path / "rc.gpkg"
    assert run("atlas", "build", "--layers", "rls,css", "-o", str(path)).exit_code == 0
    res = run("audit", "--layers", "rls,css", "--atlas", str(path), "--region", "91")
    assert res.exit_code == 1
    assert "has no mrc layer" in res.output


def test_file_that_is_not_an_atlas_is_a_clean_error(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    import geopandas as gpd

    old = tmp_path / "old.gpkg"
    gpd.read_file(saved["gpkg"], layer="atoms").to_file(old, layer="atoms")
    res = run(*AUDIT, "--atlas", str(old))
    assert res.exit_code == 1
    assert "is not a readable atlas" in res.output
    assert "atlas build" in res.output


@pytest.mark.parametrize("weight", ["area", "population"])
def test_crosswalk_with_saved_atlas_is_byte_identical(
    tmp_path: Path, weight: str
) -> None:
    # the atlas the command builds: same two layers, population surface only
    # with --weight population (it is a hidden layer of the overlay). An atlas
    # with more layers gives the same crosswalk up to the last digits (sums over
    # more, smaller atoms).
    path = tmp_path / "mrc_rls.parquet"
    pop = ["--population"] if weight == "population" else []
    build = ["atlas", "build", "--layers", "mrc,rls", *pop, "-o", str(path)]
    assert run(*build).exit_code == 0
    base = ["crosswalk", "mrc", "rls", "--weight", weight]
    built = run(*base)
    with pytest.MonkeyPatch.context() as mp:  # nothing built with --atlas
        mp.setattr("geodecoupage.overlay.build_atlas", None)
        reused = run(*base, "--atlas", str(path))
    assert built.exit_code == 0, built.output
    assert reused.exit_code == 0, reused.output
    assert reused.output == built.output
    assert reused.output.count("\n") > 5


def test_crosswalk_refuses_snap_and_layers_outside_the_atlas(
    saved: dict[str, Path],
) -> None:
    res = run("crosswalk", "mrc", "rls", "--atlas", str(saved["gpkg"]), "--snap-m", "2")
    assert res.exit_code == 2
    assert "--snap-m" in res.output
    res = run("crosswalk", "mrc", "regions", "--atlas", str(saved["gpkg"]))
    assert res.exit_code == 2
    assert "'regions' is not a layer of the atlas" in res.output


def test_crosswalk_population_needs_an_atlas_with_population(tmp_path: Path) -> None:
    path = tmp_path / "nopop.gpkg"
    assert run("atlas", "build", "--layers", "mrc,rls", "-o", str(path)).exit_code == 0
    res = run("crosswalk", "mrc", "rls", "--weight", "population", "--atlas", str(path))
    assert res.exit_code == 2
    assert "has no population" in res.output


def test_report_with_saved_atlas_is_byte_identical(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    base = ["report", "--layers", LAYERS, "--tables", "mrc", "--no-maps"]
    a, b = tmp_path / "built.html", tmp_path / "reused.html"
    assert run(*base, "-o", str(a)).exit_code == 0
    with pytest.MonkeyPatch.context() as mp:  # nothing built with --atlas
        mp.setattr("geodecoupage.overlay.atlas.build_atlas", None)
        res = run(*base, "--atlas", str(saved["gpkg"]), "-o", str(b))
    assert res.exit_code == 0, res.output
    assert a.read_bytes() == b.read_bytes()
    res = run(*base, "--atlas", str(saved["gpkg"]), "--min-area-m2", "1", "-o", "x")
    assert res.exit_code == 2
    assert "--min-area-m2" in res.output


def test_map_with_saved_atlas_is_byte_identical(
    saved: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("folium")
    base = ["map", "--layers", "mrc,rls", "--population"]
    a, b = tmp_path / "built.html", tmp_path / "reused.html"
    assert run(*base, "-o", str(a)).exit_code == 0
    res = run("map", "--layers", "mrc,rls", "--atlas", str(saved["gpkg"]), "-o", str(b))
    assert res.exit_code == 0, res.output
    assert a.read_bytes() == b.read_bytes()
