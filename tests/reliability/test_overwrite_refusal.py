"""Every CLI command that writes refuses to replace an existing output.

For each command and for *each* of its output files taken alone, the file is
created first with sentinel bytes; the command must then exit with code 1, say
how to proceed (``--overwrite``), leave the sentinel byte for byte, and write
nothing else (no partial set of outputs, no temporary file). Data reading is
patched to record whether the command read anything before refusing: a refusal
must come before the (long) computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from geodecoupage.cli.main import cli
from geodecoupage.cli.propose import ENVELOPE_FILES, REASSIGN_FILES, REGION_FILES
from geodecoupage.datasets.demo import demo_layers, demo_population
from geodecoupage.metrics import OUTPUT_FILES

SENTINEL = b"work the user wants to keep\n"


@dataclass(frozen=True)
class Writer:
    """A writing command: its arguments and the outputs it would create."""

    name: str
    args: tuple[str, ...]  # "{out}" is replaced by the output path
    output: str  # file name, or a folder name when *files* is given
    files: tuple[str, ...] = ()  # outputs inside the folder

    def targets(self) -> list[str]:
        if not self.files:
            return [self.output]
        return [f"{self.output}/{f}" for f in self.files]


WRITERS = (
    Writer("atlas-build-gpkg", ("atlas", "build", "--layers", "mrc,rls"), "a.gpkg"),
    Writer(
        "atlas-build-parquet", ("atlas", "build", "--layers", "mrc,rls"), "a.parquet"
    ),
    Writer("crosswalk-csv", ("crosswalk", "mrc", "rls"), "xw.csv"),
    Writer("crosswalk-json", ("crosswalk", "mrc", "rls"), "xw.json"),
    Writer("crosswalk-gpkg", ("crosswalk", "mrc", "rls", "--format", "gpkg"), "x.gpkg"),
    Writer(
        "audit",
        ("audit", "--layers", "mrc,rls", "--tables", "mrc", "--no-population"),
        "audit",
        OUTPUT_FILES,
    ),
    Writer("map", ("map", "--layers", "mrc,rls"), "carte.html"),
    Writer("report", ("report", "--layers", "mrc,rls", "--no-population"), "r.html"),
    Writer(
        "propose-envelopes",
        ("propose", "envelopes", "--layers", "rls,css"),
        "env",
        ENVELOPE_FILES,
    ),
    Writer(
        "propose-reassign",
        ("propose", "reassign", "--layers", "rls,css"),
        "re",
        REASSIGN_FILES,
    ),
    Writer(
        "propose-regions",
        ("propose", "regions", "--layers", "rls,css", "--floor", "5000"),
        "reg",
        REGION_FILES,
    ),
    Writer(
        "portrait-csv",
        ("portrait", "--indicator", "{indicator}", "--code-col", "geo_uid"),
        "p.csv",
    ),
    Writer(
        "portrait-json",
        ("portrait", "--indicator", "{indicator}", "--code-col", "geo_uid"),
        "p.json",
    ),
)

CASES = [(w, t) for w in WRITERS for t in w.targets()]


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Patch every data read to the demo territory and record it."""
    layers = demo_layers()
    seen: list[str] = []

    def read_layer(key: str, **_: Any) -> Any:
        seen.append(key)
        return layers[key].copy()

    def population(*_: Any, **__: Any) -> Any:
        seen.append("population")
        return demo_population()

    monkeypatch.setattr("geodecoupage.layers.read_layer", read_layer)
    monkeypatch.setattr(
        "geodecoupage.overlay.population.population_surface", population
    )
    monkeypatch.setattr("geodecoupage.cli.propose.read_population", population)
    return seen


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _args(w: Writer, root: Path) -> list[str]:
    indicator = root / "indicator.csv"
    if w.name.startswith("portrait"):
        pd.DataFrame({"geo_uid": ["2491001"], "pop": [10.0]}).to_csv(
            indicator, index=False
        )
    args = [a.replace("{indicator}", str(indicator)) for a in w.args]
    if w.name.startswith("portrait"):
        args += ["--to", "rls"]
    return [*args, "-o", str(root / "out" / w.output)]


@pytest.mark.parametrize(
    ("writer", "target"), CASES, ids=[f"{w.name}:{t.split('/')[-1]}" for w, t in CASES]
)
def test_existing_output_is_refused_untouched_and_nothing_else_is_written(
    writer: Writer, target: str, tmp_path: Path, reads: list[str]
) -> None:
    existing = tmp_path / "out" / target
    existing.parent.mkdir(parents=True, exist_ok=True)
    existing.write_bytes(SENTINEL)
    args = _args(writer, tmp_path)
    before = _snapshot(tmp_path / "out")
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1, res.output
    assert "already exists" in res.output
    assert "--overwrite" in res.output
    assert "Traceback" not in res.output
    assert existing.read_bytes() == SENTINEL
    assert _snapshot(tmp_path / "out") == before  # no other output, no temp file
    assert reads == [], f"read {reads} before refusing"


def test_batch_refuses_a_folder_that_is_not_its_own(
    tmp_path: Path, reads: list[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_bytes(SENTINEL)
    res = CliRunner().invoke(
        cli,
        ["audit", "--all-regions", "--layers", "mrc,rls", "--no-population",
         "-o", str(out)],
    )  # fmt: skip
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    assert _snapshot(out) == {"notes.txt": SENTINEL}


@pytest.mark.parametrize("writer", WRITERS[:3], ids=[w.name for w in WRITERS[:3]])
def test_overwrite_flag_replaces_the_sentinel(
    writer: Writer, tmp_path: Path, reads: list[str]
) -> None:
    existing = tmp_path / "out" / writer.output
    existing.parent.mkdir(parents=True)
    existing.write_bytes(SENTINEL)
    res = CliRunner().invoke(cli, [*_args(writer, tmp_path), "--overwrite"])
    assert res.exit_code == 0, res.output
    assert existing.read_bytes() != SENTINEL
    assert [p.name for p in existing.parent.iterdir()] == [existing.name]
