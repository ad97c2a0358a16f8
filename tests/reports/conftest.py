"""Reuse the toy layers and atlas of tests/maps (tests/ is not a package)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "_maps_toys_reports", Path(__file__).resolve().parents[1] / "maps" / "conftest.py"
)
if _spec is None or _spec.loader is None:  # pragma: no cover
    raise ImportError("tests/maps/conftest.py not found")
_toys = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _toys
_spec.loader.exec_module(_toys)
toy_layers = _toys.toy_layers
toy_atlas = _toys.toy_atlas


@pytest.fixture(scope="module")
def report_fr() -> str:
    """The French report on the toy layers, built once per module (slow part)."""
    from geodecoupage.reports import build_report

    return build_report(
        _toys.make_toy_layers(), atlas=_toys.make_toy_atlas(), params={"cli": "report"}
    )
