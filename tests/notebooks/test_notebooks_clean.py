"""The committed notebooks: numbered, French, output-free, public API only.

Executing them is nbmake's job (``make test`` runs ``pytest ... notebooks
--nbmake``); this file checks what git holds.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
FILES = sorted(NOTEBOOKS.glob("*.ipynb"))
EXPECTED = ("01_", "02_", "03_", "04_", "05_")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def test_the_five_numbered_notebooks_are_there() -> None:
    assert [p.name[:3] for p in FILES] == list(EXPECTED)
    assert not list(NOTEBOOKS.glob(".ipynb_checkpoints"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = load(path)
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} cell {i} has outputs"
            assert cell.get("execution_count") is None, f"{path.name} cell {i}"
        assert not cell.get("metadata"), f"{path.name} cell {i} has metadata"
    assert set(nb["metadata"]) <= {"kernelspec", "language_info"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_notebook_is_french_short_and_uses_the_public_api(path: Path) -> None:
    nb = load(path)
    first = source(nb["cells"][0])
    assert first.startswith(f"# {path.name[:2]} — "), first[:40]
    code = [source(c) for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) <= 15, "keep notebooks short"
    for text in code:
        assert not re.search(r"['\"](/|[A-Za-z]:\\\\)", text), "absolute path"
        assert "/work/" not in text
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[0] == "geodecoupage":
                    assert not any(p.startswith("_") for p in parts), node.module
                    assert not any(a.name.startswith("_") for a in node.names)
            if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
                pytest.fail(f"private attribute {node.attr} in {path.name}")


def test_strip_script_finds_nothing_to_strip() -> None:
    res = subprocess.run(
        [sys.executable, str(NOTEBOOKS / "strip_outputs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert res.returncode == 0, res.stdout


def test_strip_script_removes_outputs(tmp_path: Path) -> None:
    sys.path.insert(0, str(NOTEBOOKS))
    try:
        import strip_outputs
    finally:
        sys.path.remove(str(NOTEBOOKS))
    nb = load(FILES[0])
    cell = next(c for c in nb["cells"] if c["cell_type"] == "code")
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
    cell["execution_count"] = 3
    cell["metadata"] = {"scrolled": True}
    nb["metadata"]["widgets"] = {"state": {}}
    clean = strip_outputs.strip(nb)
    assert strip_outputs.dumps(clean) == FILES[0].read_text(encoding="utf-8")
