"""Options shared by every ``geodecoupage`` command, defined once (rio style)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

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


atlas = click.option(
    "--atlas",
    "atlas_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Use the atlas saved by 'geodecoupage atlas build -o FILE' (.gpkg or "
    ".parquet) instead of building one; --layers must be among its layers.",
)


def reject_with_atlas(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Usage error when an option of *names* that builds the atlas was given.

    With ``--atlas FILE`` the atlas is used as saved: an option that would
    change it (sliver threshold, snapping, population, territory, engine) was
    fixed when it was built. Options left at their default are ignored.
    """
    from click.core import ParameterSource

    given = []
    for param in ctx.command.params:
        if param.name not in names:
            continue
        source = ctx.get_parameter_source(param.name)
        if source is not None and source is not ParameterSource.DEFAULT:
            opts = [*param.opts, *param.secondary_opts]
            given.append("/".join(o for o in opts if o.startswith("--")))
    if given:
        msg = (
            f"--atlas FILE uses the atlas as it was saved: {', '.join(given)} would "
            f"change it. Leave {'it' if len(given) == 1 else 'them'} out, or build "
            f"a new atlas with them (geodecoupage atlas build ... -o FILE)."
        )
        raise click.UsageError(msg)


#: Parameters of the --territory options (read into one TerritorySource).
_TERRITORY_PARAMS = (
    "territory",
    "code_col",
    "name_col",
    "layer_name",
    "declared_crs",
    "dissolve",
    "territory_key",
)
#: Options that change the atlas, refused with ``--atlas``.
ATLAS_BUILD_PARAMS = (
    "min_area_m2",
    "snap_m",
    "population",
    "population_support",
    *_TERRITORY_PARAMS,
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


# ---- a user's territory file -------------------------------------------------
# ``layers check --file`` and the analysis commands' ``--territory`` read the same
# file options; *via* names the option they go with in the help.


def _compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    """Apply *decorators* so that their options show in the order given."""

    def apply(f: F) -> F:
        for deco in reversed(decorators):
            f = deco(f)
        return f

    return apply


def territory_file_options(via: str) -> Callable[[F], F]:
    """Return the options that say how to read a territory file given with *via*.

    ``--code-col``, ``--name-col``, ``--layer-name``, ``--crs`` (parameter
    ``declared_crs``) and ``--dissolve``: the arguments of
    :func:`geodecoupage.layers.read_territory`.
    """
    return _compose(
        click.option(
            "--code-col", default=None, help=f"With {via}: the column of unit codes."
        ),
        click.option(
            "--name-col", default=None, help=f"With {via}: the column of unit names."
        ),
        click.option(
            "--layer-name",
            default=None,
            help=f"With {via}: layer inside a GeoPackage.",
        ),
        click.option(
            "--crs",
            "declared_crs",
            default=None,
            metavar="CRS",
            help=f"With {via}: the file's CRS when it declares none (e.g. EPSG:4326).",
        ),
        click.option(
            "--dissolve",
            is_flag=True,
            help=f"With {via}: merge features sharing a code.",
        ),
    )


def _territory_source(params: dict[str, Any]) -> Any:
    """The :class:`TerritorySource` of the ``--territory`` options, or None."""
    from geodecoupage.reports.inputs import TerritorySource

    path = params["territory"]
    if path is None:
        flags = {
            "code_col": "--code-col",
            "name_col": "--name-col",
            "layer_name": "--layer-name",
            "declared_crs": "--crs",
            "dissolve": "--dissolve",
        }
        given = [flag for p, flag in flags.items() if params[p]]
        if given:
            msg = f"{', '.join(given)}: only with --territory FILE."
            raise click.UsageError(msg)
        return None
    if not params["code_col"]:
        msg = "--territory needs --code-col (the column of unit codes)."
        raise click.UsageError(msg)
    return TerritorySource(
        path=path,
        code_col=params["code_col"],
        name_col=params["name_col"],
        layer=params["layer_name"],
        crs=params["declared_crs"],
        dissolve=params["dissolve"],
        key=params["territory_key"],
    )


def territory(f: F) -> F:
    """Add ``--territory FILE`` and its reading options to an analysis command.

    The command receives one ``territory`` argument instead: a
    :class:`geodecoupage.reports.inputs.TerritorySource`, or None without
    ``--territory``. Reading options without ``--territory``, or ``--territory``
    without ``--code-col``, are usage errors (exit code 2).
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        raw = {p: kwargs.pop(p) for p in _TERRITORY_PARAMS}
        return f(*args, territory=_territory_source(raw), **kwargs)

    decorated = _compose(
        click.option(
            "--territory",
            "territory",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            metavar="FILE",
            help="A user territory file (e.g. the territories of local "
            "coordination tables) analysed with the layers, under the key of "
            "--territory-key.",
        ),
        territory_file_options("--territory"),
        click.option(
            "--territory-key",
            default="territoire",
            show_default=True,
            metavar="NAME",
            help="With --territory: the territory's layer key in tables, maps "
            "and crosswalks (not a catalogue key).",
        ),
    )(wrapper)
    return cast(F, decorated)
