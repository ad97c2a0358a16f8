"""Strip outputs and run counts from the notebooks before committing them.

Usage::

    python notebooks/strip_outputs.py            # strip every notebooks/*.ipynb
    python notebooks/strip_outputs.py --check    # exit 1 if one has outputs

Only the standard library; the notebooks keep their cells, their kernel and
language metadata, and nothing else (no outputs, execution counts, cell ids,
widget state or timing metadata). ``tests/notebooks/test_notebooks_clean.py``
fails when a committed notebook was not stripped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KEEP_METADATA = ("kernelspec", "language_info")


def strip(nb: dict[str, Any]) -> dict[str, Any]:
    """Return *nb* without outputs, execution counts, ids and extra metadata."""
    cells = []
    for cell in nb.get("cells", []):
        clean: dict[str, Any] = {
            "cell_type": cell["cell_type"],
            "metadata": {},
            "source": cell.get("source", ""),
        }
        if cell["cell_type"] == "code":
            clean["execution_count"] = None
            clean["outputs"] = []
        cells.append(clean)
    meta = nb.get("metadata", {})
    return {
        "cells": cells,
        "metadata": {k: meta[k] for k in KEEP_METADATA if k in meta},
        "nbformat": 4,
        "nbformat_minor": 4,
    }


def dumps(nb: dict[str, Any]) -> str:
    """Serialise like Jupyter does (1-space indent, UTF-8, final newline)."""
    return json.dumps(nb, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    """Strip (or check, with ``--check``) every notebook next to this script."""
    check = "--check" in argv
    dirty = []
    for path in sorted(HERE.glob("*.ipynb")):
        text = path.read_text(encoding="utf-8")
        clean = dumps(strip(json.loads(text)))
        if clean != text:
            dirty.append(path.name)
            if not check:
                path.write_text(clean, encoding="utf-8")
    if check and dirty:
        print("Notebooks with outputs or metadata to strip: " + ", ".join(dirty))
        print("Run: python notebooks/strip_outputs.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
