"""Ctrl-C in the middle of a batch audit: no partial file, and a rerun resumes.

``tests/cli/test_batch.py`` raises ``KeyboardInterrupt`` from a patched writer
in the same process. Here a real ``SIGINT`` is sent to the process group of a
separate ``geodecoupage audit --all-regions`` process (what a terminal does on
Ctrl-C), once with one process and once with two worker processes, while a
temporary file of territory 91 exists (``_cli_driver`` holds the rename that
would complete it). Then the same command runs again: complete territories are
skipped and the folder ends byte for byte equal to an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DRIVER = Path(__file__).with_name("_cli_driver.py")
MARKER = ".complete.json"
BATCH = ["audit", "--all-regions", "--layers", "mrc,rls", "--tables", "mrc",
         "--no-population", "--threshold", "0.02"]  # fmt: skip
START_TIMEOUT_S = 240.0

pytestmark = pytest.mark.slow


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("GDC_TEST_PAUSE_AT", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DRIVER), *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def reference(tmp_path: Path) -> dict[str, bytes]:
    """An uninterrupted run, made after the others so that it runs the same code.

    ``batch.json`` and the markers hold a fingerprint of the package code: a
    reference made earlier would differ if the code changed in between.
    """
    out = tmp_path / "reference"
    res = _run([*BATCH, "-o", str(out)])
    assert res.returncode == 0, res.stderr
    return snapshot(out)


def _interrupt_while_writing(out: Path, jobs: int, suffix: str) -> tuple[int, str]:
    """Start the batch, wait for the paused rename of *suffix*, send SIGINT."""
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), *BATCH, "--jobs", str(jobs), "-o", str(out)],
        env=_env(GDC_TEST_PAUSE_AT=suffix),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a terminal job
    )
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    paused = None
    try:
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("PAUSED "):
                paused = Path(line.split(" ", 1)[1].strip())
                break
            assert time.monotonic() < deadline, "".join(lines)
        assert paused is not None, "".join(lines)
        assert ".partial" in paused.name
        assert paused.exists()  # the half-written file is there right now
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        _, rest = proc.communicate(timeout=120)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc.returncode, "".join(lines) + rest


@pytest.mark.parametrize("jobs", [1, 2])
def test_sigint_mid_write_leaves_no_partial_file_and_a_rerun_resumes(
    jobs: int, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, err = _interrupt_while_writing(out, jobs, "91/pairs.csv")
    assert code != 0, err
    assert "Traceback" not in err, err
    leftovers = [p for p in out.rglob("*") if ".partial" in p.name]
    assert leftovers == [], leftovers
    assert not (out / "91" / MARKER).exists()
    assert not (out / "index.csv").exists()
    interrupted = snapshot(out)
    again = _run([*BATCH, "--jobs", str(jobs), "-o", str(out)])
    assert again.returncode == 0, again.stderr
    if jobs == 1:  # the province was complete before 91 started
        assert "1 déjà complet(s)" in again.stdout, again.stdout
    resumed = snapshot(out)
    ref = reference(tmp_path)
    for rel, data in interrupted.items():  # what was there was complete
        assert data == ref.get(rel), rel
    assert resumed == ref
