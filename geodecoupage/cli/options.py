"""Options shared by every ``geodecoupage`` command, defined once (rio style)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from geodecoupage.layers._registry import LAYER_KEYS as LAYER_KEYS  # re-exported

F = TypeVar("F", bound=Callable[..., Any])


def _split_layers(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    if value is None:
        return None
    keys = tuple(k.strip() for k in value.split(",") if k.strip())
    bad = [k for k in keys if k not in LAYER_KEYS]
    if bad:
        raise click.BadParameter(
            f"unknown layer(s) {', '.join(bad)}; choose from {', '.join(LAYER_KEYS)}."
        )
    if len(keys) < 1:
        raise click.BadParameter("give at least one layer key, e.g. mrc,rls,css.")
    return keys


def _complete_layers(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[str]:
    """Shell completion of ``--layers``: the last comma-separated key."""
    head, _, last = incomplete.rpartition(",")
    done = set(head.split(",")) if head else set()
    prefix = f"{head}," if head else ""
    return [prefix + k for k in LAYER_KEYS if k.startswith(last) and k not in done]


def _complete_region(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[str]:
    """Shell completion of ``--region``: the 17 administrative region codes."""
    return [c for c in (f"{i:02d}" for i in range(1, 18)) if c.startswith(incomplete)]


data_dir = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: $GEODECOUPAGE_DATA, then the per-user cache).",
)
layers = click.option(
    "--layers",
    "layers",
    callback=_split_layers,
    shell_complete=_complete_layers,
    default=None,
    metavar="KEY[,KEY...]",
    help="Comma-separated layer keys, e.g. mrc,rls,css.",
)
region = click.option(
    "--region",
    default=None,
    shell_complete=_complete_region,
    metavar="CODE",
    help="Restrict to one administrative region (two-digit code, e.g. 06).",
)
threshold = click.option(
    "--threshold",
    type=click.FloatRange(0.0, 0.5),
    default=0.01,
    show_default=True,
    help="Significance threshold: overlaps below this share are ignored.",
)
min_area_m2 = click.option(
    "--min-area-m2",
    type=click.FloatRange(0.0),
    default=None,
    help="Atoms smaller than this (m²) are slivers, merged into a neighbour.",
)
output = click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Output path (default: machine-readable output on stdout).",
)
overwrite = click.option(
    "--overwrite", is_flag=True, default=False, help="Replace existing outputs."
)
population = click.option(
    "--population/--no-population",
    default=True,
    show_default=True,
    help="Weight by the census population surface when the data has it.",
)
simplify_m = click.option(
    "--simplify-m",
    type=click.FloatRange(0.0),
    default=None,
    help="Display simplification of maps and figures, in metres (default: "
    "automatic, ~200 m for the province; 0 keeps every vertex).",
)
lang = click.option(
    "--lang",
    type=click.Choice(["fr", "en"]),
    default="fr",
    show_default=True,
    help="Language of summaries and reports.",
)


def fmt(*choices: str) -> Callable[[F], F]:
    """Return a ``--format`` option restricted to *choices* (first is default)."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(list(choices)),
        default=choices[0],
        show_default=True,
        help="Output format.",
    )
