"""Run ``geodecoupage`` commands in a fresh process on the generated demo territory.

Usage: ``python _cli_driver.py ARGS... [:: ARGS...]``: each ``::``-separated group
is one ``geodecoupage`` invocation, run in order in this process; the exit code
is the first non-zero one. Layers and the population surface come from
:mod:`geodecoupage.datasets.demo` (nothing reads a data directory).

With ``GDC_TEST_PAUSE_AT=<path suffix>`` in the environment, the rename that
completes an atomic write whose destination ends with that suffix first prints
``PAUSED <temporary file>`` on stderr and sleeps, so a test can interrupt the
process exactly while a temporary file exists. The hook is installed at import,
so worker processes started with ``spawn`` (which re-import this file as
``__mp_main__``) get it too.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

_PAUSE_AT = os.environ.get("GDC_TEST_PAUSE_AT")
if _PAUSE_AT:
    _real_replace = os.replace

    def _paused_replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if str(dst).replace(os.sep, "/").endswith(_PAUSE_AT):
            sys.stderr.write(f"PAUSED {src}\n")
            sys.stderr.flush()
            time.sleep(float(os.environ.get("GDC_TEST_PAUSE_S", "120")))
        _real_replace(src, dst, *args, **kwargs)

    os.replace = _paused_replace


def _patch() -> None:
    import geodecoupage.layers
    import geodecoupage.overlay.population
    from geodecoupage.cli import propose
    from geodecoupage.datasets.demo import demo_layers, demo_population
    from geodecoupage.reports import batch

    layers = demo_layers()
    pop = demo_population()
    geodecoupage.layers.read_layer = lambda key, **_: layers[key].copy()  # type: ignore[assignment]
    geodecoupage.overlay.population.population_surface = lambda *_, **__: pop.copy()  # type: ignore[assignment]
    propose._population = lambda *_: pop.copy()  # type: ignore[attr-defined]
    batch.data_fingerprint = lambda keys, **_: {"demo": "generated"}  # type: ignore[assignment]


def main(argv: list[str]) -> int:
    """Run each ``::``-separated group of arguments as one command."""
    _patch()
    from geodecoupage.cli.main import cli

    groups: list[list[str]] = [[]]
    for arg in argv:
        if arg == "::":
            groups.append([])
        else:
            groups[-1].append(arg)
    for args in groups:
        try:
            cli.main(args=args, prog_name="geodecoupage", standalone_mode=True)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            if code:
                return code
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
