"""Batch audit (``audit --all-regions``) on the generated demo territory.

The demo territory has two regions (91, 92) of three MRC each, so a batch is the
province plus two regions. Layers are passed in (library) or patched in (CLI).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from geodecoupage.cli.main import cli
from geodecoupage.datasets import demo_layers
from geodecoupage.errors import InvalidParameterError, OutputExistsError
from geodecoupage.metrics import OUTPUT_FILES
from geodecoupage.reports import batch as batch_mod
from geodecoupage.reports.batch import (
    BATCH_FILE,
    INDEX_COLUMNS,
    MARKER,
    PROVINCE,
    audit_regions,
    rank_regions,
)
from geodecoupage.reports.config import AuditConfig, read_config

CFG = AuditConfig(
    layers=("mrc", "rls"), tables="mrc", population=False, thresholds=(0.01,)
)
TERRITORIES = (PROVINCE, "91", "92")


@pytest.fixture(scope="module")
def layers() -> dict[str, Any]:
    return demo_layers()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under *root* (relative path -> bytes)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory, layers: dict[str, Any]) -> Path:
    """A complete batch folder (copy it before changing it)."""
    out = tmp_path_factory.mktemp("batch") / "out"
    audit_regions(out, config=CFG, layers=layers)
    return out


def copy(done: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(done, dest)
    return dest


# -- library -------------------------------------------------------------------


def test_batch_writes_one_folder_per_territory_and_a_ranked_index(done: Path) -> None:
    names = {p.name for p in done.iterdir()}
    assert names == {*TERRITORIES, BATCH_FILE, "audit.toml", "index.csv", "index.html"}
    for code in TERRITORIES:
        files = {p.name for p in (done / code).iterdir()}
        assert files == {*OUTPUT_FILES, MARKER}
        marker = json.loads((done / code / MARKER).read_text())
        assert set(marker["files"]) == set(OUTPUT_FILES)
    index = pd.read_csv(done / "index.csv", dtype={"code": str})
    assert list(index.columns) == list(INDEX_COLUMNS)
    assert index["code"].tolist()[0] == PROVINCE
    assert pd.isna(index["rank"].iloc[0])
    regions = index.iloc[1:]
    assert regions["rank"].tolist() == [1, 2]
    assert regions["incoherence"].is_monotonic_decreasing
    assert set(regions["code"]) == {"91", "92"}
    assert ((index["incoherence"] >= 0) & (index["incoherence"] <= 1)).all()
    page = (done / "index.html").read_text()
    for code in ("91", "92"):
        assert f'href="{code}/summary.json"' in page
    assert "Audit par région" in page
    assert read_config(done / "audit.toml") == CFG


def test_index_rows_match_each_territory_summary(done: Path) -> None:
    index = pd.read_csv(done / "index.csv", dtype={"code": str}).set_index("code")
    for code in TERRITORIES:
        summary = json.loads((done / code / "summary.json").read_text())
        top = summary["heaviest_table"]
        assert index.loc[code, "heaviest_table"] == f"mrc:{top['code']}"
        assert index.loc[code, "heaviest_table_score"] == pytest.approx(top["score"])
        pairs = pd.read_csv(done / code / "pairs.csv")
        assert index.loc[code, "n_units"] == pairs["n_units"].sum()
    # A region's rows are its own units only: region MRC codes appear in its tables.
    mrc = demo_layers()["mrc"]
    for region in ("91", "92"):
        tables = pd.read_csv(done / region / "risk_tables.csv", dtype={"code": str})
        expected = set(mrc.index[mrc["regions_code"] == region])
        assert set(tables["code"]) == expected


def test_layers_that_nest_score_zero_incoherence(
    tmp_path: Path, layers: dict[str, Any]
) -> None:
    # Municipalities nest in their MRC by construction of the demo territory.
    cfg = AuditConfig(
        layers=("municipalites", "mrc"),
        tables=None,
        population=False,
        thresholds=(0.01,),
    )
    result = audit_regions(tmp_path / "n", config=cfg, layers=layers)
    assert result.index["incoherence"].tolist() == [0.0, 0.0, 0.0]
    assert result.index["nesting_index_area"].tolist() == [1.0, 1.0, 1.0]


def test_second_run_skips_everything_and_changes_no_byte(
    done: Path, tmp_path: Path, layers: dict[str, Any]
) -> None:
    out = copy(done, tmp_path)
    before = snapshot(out)
    seen: list[tuple[str, str]] = []
    result = audit_regions(
        out,
        config=CFG,
        layers=layers,
        progress=lambda o, i, n: seen.append((o.code, o.status)),
    )
    assert result.counts() == {"done": 0, "skipped": 3, "failed": 0}
    assert sorted(seen) == sorted((c, "skipped") for c in TERRITORIES)
    assert snapshot(out) == before


def test_two_independent_runs_write_identical_bytes(
    done: Path, tmp_path: Path, layers: dict[str, Any]
) -> None:
    other = tmp_path / "other"
    audit_regions(other, config=CFG, layers=layers)
    assert snapshot(other) == snapshot(done)


def test_force_audits_again_with_identical_output(
    done: Path, tmp_path: Path, layers: dict[str, Any]
) -> None:
    out = copy(done, tmp_path)
    result = audit_regions(out, config=CFG, layers=layers, force=True)
    assert result.counts()["done"] == 3
    assert snapshot(out) == snapshot(done)


def test_a_changed_output_file_is_audited_again(
    done: Path, tmp_path: Path, layers: dict[str, Any]
) -> None:
    out = copy(done, tmp_path)
    (out / "91" / "pairs.csv").write_text("edited by hand\n")
    (out / "92" / "matrix.csv").unlink()
    result = audit_regions(out, config=CFG, layers=layers)
    status = {o.code: o.status for o in result.outcomes}
    assert status == {PROVINCE: "skipped", "91": "done", "92": "done"}
    assert snapshot(out) == snapshot(done)


def test_interrupted_run_leaves_no_partial_file_and_resumes(
    done: Path,
    tmp_path: Path,
    layers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "int"
    real_write = batch_mod.write_json

    def interrupt_marker_of_91(path: Any, obj: Any, **kw: Any) -> Any:
        if Path(path).parent.name == "91":
            raise KeyboardInterrupt
        return real_write(path, obj, **kw)

    monkeypatch.setattr(batch_mod, "write_json", interrupt_marker_of_91)
    with pytest.raises(KeyboardInterrupt):
        audit_regions(out, config=CFG, layers=layers)
    assert not list(out.rglob("*.partial*"))
    assert (out / PROVINCE / MARKER).is_file()
    assert not (out / "91" / MARKER).exists()
    assert not (out / "index.csv").exists()
    monkeypatch.setattr(batch_mod, "write_json", real_write)
    result = audit_regions(out, config=CFG, layers=layers)
    status = {o.code: o.status for o in result.outcomes}
    assert status == {PROVINCE: "skipped", "91": "done", "92": "done"}
    assert snapshot(out) == snapshot(done)


def test_leftover_temporary_files_are_removed(
    done: Path, tmp_path: Path, layers: dict[str, Any]
) -> None:
    out = copy(done, tmp_path)
    leftover = out / "92" / ".pairs.abc123.partial.csv"
    leftover.write_text("half a file")
    audit_regions(out, config=CFG, layers=layers)
    assert not leftover.exists()


def test_other_parameters_are_refused_unless_overwrite(
    done: Path, tmp_path: Path, layers: dict[str, Any]
) -> None:
    out = copy(done, tmp_path)
    other = CFG.merged(threshold=0.05)
    with pytest.raises(OutputExistsError, match=r"other parameters.*threshold"):
        audit_regions(out, config=other, layers=layers)
    result = audit_regions(out, config=other, layers=layers, overwrite=True)
    assert result.counts()["done"] == 3
    summary = json.loads((out / "91" / "summary.json").read_text())
    assert summary["params"]["threshold"] == 0.05


def test_a_folder_that_is_not_a_batch_is_refused(
    tmp_path: Path, layers: dict[str, Any]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(OutputExistsError, match="not a geodecoupage batch folder"):
        audit_regions(tmp_path, config=CFG, layers=layers)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_selected_regions_and_unknown_codes(
    tmp_path: Path, layers: dict[str, Any]
) -> None:
    one = CFG.merged(regions=("92",), province=False)
    result = audit_regions(tmp_path / "one", config=one, layers=layers)
    assert result.index["code"].tolist() == ["92"]
    assert not (tmp_path / "one" / PROVINCE).exists()
    with pytest.raises(InvalidParameterError, match=r"Unknown region code\(s\) 42"):
        audit_regions(
            tmp_path / "bad", config=CFG.merged(regions=("42",)), layers=layers
        )
    with pytest.raises(InvalidParameterError, match="jobs must be 0"):
        audit_regions(tmp_path / "j", config=CFG, layers=layers, jobs=-1)


def test_a_failing_territory_is_reported_and_the_others_complete(
    tmp_path: Path, layers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = batch_mod._audit_atlas

    def fail_92(*args: Any, **kw: Any) -> Any:
        if kw.get("label") == "92":
            raise InvalidParameterError("no atom in 92")
        return real(*args, **kw)

    monkeypatch.setattr(batch_mod, "_audit_atlas", fail_92)
    result = audit_regions(tmp_path / "f", config=CFG, layers=layers)
    assert [o.code for o in result.failed] == ["92"]
    assert result.failed[0].error == "no atom in 92"
    assert result.index["code"].tolist() == [PROVINCE, "91"]
    assert not (tmp_path / "f" / "92" / MARKER).exists()
    assert "✗ 92: no atom in 92" in result.summary()


def test_rank_regions_orders_by_incoherence_then_code() -> None:
    rows = [
        {"code": "03", "nom": "c", "incoherence": 0.2},
        {"code": PROVINCE, "nom": "p", "incoherence": 0.3},
        {"code": "01", "nom": "a", "incoherence": 0.2},
        {"code": "02", "nom": "b", "incoherence": None},
        {"code": "04", "nom": "d", "incoherence": 0.9},
    ]
    index = rank_regions(rows)
    assert index["code"].tolist() == [PROVINCE, "04", "01", "03", "02"]
    assert index["rank"].tolist()[1:] == [1, 2, 3, 4]
    assert pd.isna(index["rank"].iloc[0])


def test_worker_processes_give_the_same_bytes(
    done: Path, tmp_path: Path, layers: dict[str, Any]
) -> None:
    out = tmp_path / "jobs"
    two = CFG.merged(regions=("91", "92"), province=False)
    result = audit_regions(out, config=two, layers=layers, jobs=2)
    assert result.counts()["done"] == 2
    for region in ("91", "92"):
        assert snapshot(out / region) == snapshot(done / region)


# -- command line ----------------------------------------------------------------


@pytest.fixture
def patched(monkeypatch: pytest.MonkeyPatch, layers: dict[str, Any]) -> None:
    def read_layer(key: str, **_: Any) -> Any:
        return layers[key].copy()

    monkeypatch.setattr("geodecoupage.layers.read_layer", read_layer)
    monkeypatch.setattr(
        batch_mod, "data_fingerprint", lambda keys, **_: {"demo": "generated"}
    )


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "audit.toml"
    path.write_text(CFG.to_toml())
    return path


def run(*args: str, quiet: bool = False) -> Any:
    return CliRunner().invoke(cli, [*(["-q"] if quiet else []), "audit", *args])


@pytest.mark.usefixtures("patched")
def test_cli_all_regions_then_resume(tmp_path: Path, config_file: Path) -> None:
    out = tmp_path / "out"
    first = run("--all-regions", "--config", str(config_file), "-o", str(out))
    assert first.exit_code == 0, first.output
    assert "3 audité(s)" in first.stdout
    assert "[3/3]" in first.stderr  # plain progress lines when not on a terminal
    before = snapshot(out)
    second = run("--all-regions", "--config", str(config_file), "-o", str(out))
    assert second.exit_code == 0, second.output
    assert "3 déjà complet(s)" in second.stdout
    assert snapshot(out) == before
    changed = run(
        "--all-regions", "--config", str(config_file), "--threshold", "0.05",
        "-o", str(out),
    )  # fmt: skip
    assert changed.exit_code == 1
    assert "other parameters" in changed.stderr
    assert "Traceback" not in changed.output


@pytest.mark.usefixtures("patched")
def test_cli_options_override_the_config(tmp_path: Path, config_file: Path) -> None:
    out = tmp_path / "out"
    res = run(
        "--all-regions", "--config", str(config_file), "--lang", "en",
        "--layers", "mrc,rls", "-o", str(out), quiet=True,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert read_config(out / "audit.toml") == CFG.merged(lang="en")
    assert "Audit by region" in (out / "index.html").read_text()
    assert res.stderr == ""  # -q: no progress lines


def test_cli_usage_errors(tmp_path: Path, config_file: Path) -> None:
    no_out = run("--all-regions")
    assert no_out.exit_code == 2
    assert "-o DIR" in no_out.output
    both = run("--all-regions", "--region", "06", "-o", str(tmp_path / "x"))
    assert both.exit_code == 2
    assert "exclude each other" in both.output
    jobs = run("--layers", "mrc,rls", "--jobs", "2")
    assert jobs.exit_code == 2
    assert "go with --all-regions" in jobs.output
    missing = run("--all-regions", "--config", str(tmp_path / "nope.toml"))
    assert missing.exit_code == 2


def test_cli_bad_config_is_one_paragraph_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('layers = ["mrc", "zz"]\nthreshhold = 0.1\n')
    res = run("--all-regions", "--config", str(bad), "-o", str(tmp_path / "o"))
    assert res.exit_code == 1
    assert "unknown key 'threshhold'" in res.stderr
    assert "unknown layer(s) 'zz'" in res.stderr
    assert "Traceback" not in res.output
    assert len(res.stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken.toml"
    broken.write_text("layers = [mrc\n")
    res = run("--all-regions", "--config", str(broken), "-o", str(tmp_path / "o"))
    assert res.exit_code == 1
    assert "is not valid TOML" in res.stderr


@pytest.mark.usefixtures("patched")
def test_cli_single_audit_with_config_matches_the_plain_audit(
    tmp_path: Path, config_file: Path
) -> None:
    cfg = tmp_path / "one.toml"
    cfg.write_text(CFG.merged(thresholds=(0.0, 0.001, 0.01, 0.05, 0.1)).to_toml())
    a, b = tmp_path / "a", tmp_path / "b"
    plain = run(
        "--layers", "mrc,rls", "--tables", "mrc", "--no-population",
        "--region", "91", "-o", str(a),
    )  # fmt: skip
    assert plain.exit_code == 0, plain.output
    with_cfg = run("--config", str(cfg), "--region", "91", "-o", str(b))
    assert with_cfg.exit_code == 0, with_cfg.output
    assert snapshot(a) == snapshot(b)
    stdout = run("--config", str(cfg), "--region", "91")
    assert stdout.exit_code == 0
    assert json.loads(stdout.stdout)["params"]["within"]["mrc"]


def test_a_code_change_invalidates_complete_territories(
    done: Path,
    tmp_path: Path,
    layers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = copy(done, tmp_path)
    monkeypatch.setattr(batch_mod, "code_fingerprint", lambda: "another checkout")
    with pytest.raises(OutputExistsError, match="source code changed"):
        audit_regions(out, config=CFG, layers=layers)
    result = audit_regions(out, config=CFG, layers=layers, overwrite=True)
    assert result.counts()["done"] == 3
