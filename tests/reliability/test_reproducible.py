"""Two runs with the same inputs write the same bytes, in separate processes.

The in-process reruns of ``tests/cli`` share one hash seed and one set of
imported modules; here every command runs twice in a fresh interpreter with a
different ``PYTHONHASHSEED`` (set and dict-of-set iteration orders differ), on
the generated demo territory (:mod:`_cli_driver`).

Field that cannot be identical, kept out of the comparison: the GeoPackage
``gpkg_contents.last_change`` timestamp that GDAL writes. Every other table of
the GeoPackage (attributes *and* geometry blobs) must be equal; with
``OGR_CURRENT_DATE`` set in the environment, GDAL writes that date instead and
the GeoPackage files are byte-identical too (checked below).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("_cli_driver.py")
FIXED_DATE = "2000-01-01T00:00:00.000Z"

pytestmark = pytest.mark.slow

COMMANDS = [
    ["crosswalk", "mrc", "rls", "-o", "{out}/xw.csv"],
    ["crosswalk", "mrc", "rls", "--weight", "population", "-o", "{out}/xwp.json"],
    ["crosswalk", "mrc", "css", "--format", "gpkg", "-o", "{out}/xw.gpkg"],
    ["atlas", "build", "--layers", "mrc,rls,css", "--population", "-o",
     "{out}/atlas.gpkg"],
    ["atlas", "build", "--layers", "mrc,rls", "-o", "{out}/atlas.parquet"],
    ["audit", "--layers", "mrc,rls,css", "--tables", "mrc", "-o", "{out}/audit"],
    ["audit", "--all-regions", "--layers", "mrc,rls", "--tables", "mrc",
     "-o", "{out}/batch"],
    ["propose", "envelopes", "--layers", "rls,css", "-o", "{out}/env"],
    ["map", "--layers", "mrc,rls", "-o", "{out}/carte.html"],
    ["report", "--layers", "mrc,rls,css", "-o", "{out}/rapport.html"],
]  # fmt: skip
EXPECTED_FILES = {
    "xw.csv", "xwp.json", "xw.gpkg", "atlas.gpkg", "atlas.parquet",
    "audit/summary.json", "audit/pairs.csv", "batch/index.csv",
    "batch/91/incoherence.csv", "env/envelopes.gpkg", "env/envelopes.csv",
    "carte.html", "rapport.html",
}  # fmt: skip


def start_all(
    out: Path, seed: int, commands: list[list[str]], **env: str
) -> subprocess.Popen[str]:
    args: list[str] = []
    for cmd in commands:
        if args:
            args.append("::")
        args += [a.replace("{out}", str(out)) for a in cmd]
    environ = {k: v for k, v in os.environ.items() if k != "OGR_CURRENT_DATE"}
    environ.pop("GDC_TEST_PAUSE_AT", None)
    environ.update(PYTHONHASHSEED=str(seed), **env)
    return subprocess.Popen(
        [sys.executable, str(DRIVER), *args],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_pair(
    a: Path, b: Path, commands: list[list[str]], seeds: tuple[int, int], **env: str
) -> None:
    """Both runs at once: same code (batch markers fingerprint it), half the time."""
    procs = [
        start_all(out, seed, commands, **env)
        for out, seed in zip((a, b), seeds, strict=True)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def gpkg_tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of a GeoPackage, rows sorted, ``last_change`` blanked."""
    with sqlite3.connect(path) as con:
        names = [
            r[0]
            for r in con.execute(
                "select name from sqlite_master where type='table' order by name"
            )
        ]
        out = {}
        for name in names:
            cur = con.execute(f'select * from "{name}"')
            cols = [d[0] for d in cur.description]
            rows = [
                tuple(
                    None if c == "last_change" else v
                    for c, v in zip(cols, r, strict=True)
                )
                for r in cur.fetchall()
            ]
            out[name] = sorted(rows, key=repr)
    return out


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    a = tmp_path_factory.mktemp("run") / "a"
    b = tmp_path_factory.mktemp("run") / "b"
    run_pair(a, b, COMMANDS, (1, 2))
    return a, b


def test_both_runs_wrote_every_expected_output(two_runs: tuple[Path, Path]) -> None:
    a, b = two_runs
    assert set(files(a)) >= EXPECTED_FILES
    assert set(files(a)) == set(files(b))


def test_csv_json_html_parquet_outputs_are_byte_identical(
    two_runs: tuple[Path, Path],
) -> None:
    a, b = two_runs
    fa, fb = files(a), files(b)
    differ = [n for n in fa if not n.endswith(".gpkg") and fa[n] != fb[n]]
    assert differ == []


def test_geopackages_differ_only_by_gdal_last_change(
    two_runs: tuple[Path, Path],
) -> None:
    a, b = two_runs
    gpkgs = sorted(p.relative_to(a) for p in a.rglob("*.gpkg"))
    assert len(gpkgs) == 3
    for rel in gpkgs:
        ta, tb = gpkg_tables(a / rel), gpkg_tables(b / rel)
        assert ta.keys() == tb.keys(), rel
        for name in ta:
            assert ta[name] == tb[name], (rel, name)


def test_geopackages_are_byte_identical_with_a_fixed_ogr_date(tmp_path: Path) -> None:
    cmds = [COMMANDS[2], COMMANDS[3]]
    run_pair(tmp_path / "a", tmp_path / "b", cmds, (3, 4), OGR_CURRENT_DATE=FIXED_DATE)
    fa, fb = files(tmp_path / "a"), files(tmp_path / "b")
    assert set(fa) == {"xw.gpkg", "atlas.gpkg"}
    assert fa == fb
