"""The fuzzing harness (``fuzz/fuzz_readers.py``) works, without fuzzing for long.

Seeds must be valid inputs (no finding), mutators must be deterministic and
bounded, a raw exception or a foreign warning must be recorded once, and a
short plain-loop run (no atheris) must execute inputs.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

# imported before the harness, so its atheris instrumentation is a no-op here
from geodecoupage.layers import read_layer, read_territory

PATH = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_readers.py"


@pytest.fixture(scope="module")
def fz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_fuzz_readers_under_test", PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_harness_drives_the_real_readers(fz: ModuleType) -> None:
    assert fz.read_territory is read_territory
    assert fz.read_layer is read_layer
    assert fz.TARGETS == ("geojson", "zip", "shapefile", "gpkg", "fgb", "loader")


@pytest.mark.parametrize(
    "target", ["geojson", "zip", "shapefile", "gpkg", "fgb", "loader"]
)
def test_seeds_are_valid_inputs(fz: ModuleType, target: str, tmp_path: Path) -> None:
    runner = fz.Runner(target, tmp_path / "findings", tmp_path)
    seeds = fz.seeds(target, tmp_path / "seeds")
    assert seeds
    for seed in seeds:
        runner.run(seed)
    assert runner.crashes == 0, sorted(
        p.name for p in (tmp_path / "findings").iterdir()
    )
    assert runner.count == len(seeds)


@pytest.mark.parametrize("target", ["geojson", "zip", "shapefile", "loader"])
def test_mutators_are_deterministic_bounded_and_change_the_input(
    fz: ModuleType, target: str, tmp_path: Path
) -> None:
    seed = fz.seeds(target, tmp_path)[0]
    outs = [fz.mutate(target, seed, 4096, k) for k in range(30)]
    assert outs == [fz.mutate(target, seed, 4096, k) for k in range(30)]
    assert all(isinstance(o, bytes) and 1 <= len(o) <= max(4096, 1) for o in outs)
    assert sum(o != seed for o in outs) >= 20


def test_json_mutations_keep_a_document(fz: ModuleType) -> None:
    import random

    doc = {"type": "FeatureCollection", "features": [{"a": [1.5, "x"]}]}
    rng = random.Random(1)
    for _ in range(200):
        doc = fz.mutate_json(doc, rng)
    assert doc is not None


def test_a_raw_exception_and_a_foreign_warning_are_recorded_once(
    fz: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: Any, **__: Any) -> None:
        warnings.warn("not ours", RuntimeWarning, stacklevel=1)
        raise ValueError("raw")

    monkeypatch.setattr(fz, "read_territory", boom)
    runner = fz.Runner("geojson", tmp_path / "findings", tmp_path)
    seed = fz.seeds("geojson", tmp_path / "seeds")[0]
    runner.run(seed)
    runner.run(seed + b" ")
    assert runner.crashes == 2  # one exception, one warning; not twice
    names = sorted(p.name for p in (tmp_path / "findings").iterdir())
    assert len(names) == 4  # .bin + .txt each
    assert any("exception-ValueError" in n for n in names)
    assert any("warning-RuntimeWarning" in n for n in names)
    text = next((tmp_path / "findings").glob("*ValueError*.txt")).read_text()
    assert "ValueError: raw" in text


def test_named_errors_are_not_findings(
    fz: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geodecoupage.errors import LayerQualityWarning, LayerReadError

    def named(*_: Any, **__: Any) -> None:
        warnings.warn("ours", LayerQualityWarning, stacklevel=1)
        raise LayerReadError("named")

    monkeypatch.setattr(fz, "read_territory", named)
    runner = fz.Runner("geojson", tmp_path / "findings", tmp_path)
    runner.run(fz.seeds("geojson", tmp_path / "seeds")[0])
    assert runner.crashes == 0


def test_plain_loop_runs_for_the_time_given(
    fz: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fz, "HAVE_ATHERIS", False)
    monkeypatch.setattr(fz, "atheris", None)
    fz.fuzz_one("zip", 2.0, tmp_path / "findings", tmp_path / "corpus")
    assert sorted(p.name for p in (tmp_path / "corpus" / "zip").iterdir()) == [
        "seed0",
        "seed1",
    ]
