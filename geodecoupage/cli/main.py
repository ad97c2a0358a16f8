"""The ``geodecoupage`` command: a thin click shell over the library.

Exit codes: 0 success, 1 user error (one-paragraph message, no traceback unless
``-v``), 2 usage error (click).
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any, TextIO

import click

from geodecoupage.errors import GeodecoupageError

_LEVELS = (logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Print a warning as one line, ``Category: message``, without source lines."""
    click.echo(f"{category.__name__}: {message}", err=True)


class GeodecoupageGroup(click.Group):
    """Click group that turns library errors into clean one-paragraph messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GeodecoupageError as err:
            if ctx.meta.get("geodecoupage.verbosity", 0) >= 2:
                raise
            raise click.ClickException(str(err)) from err
        except OSError as err:
            if ctx.meta.get("geodecoupage.verbosity", 0) >= 2:
                raise
            where = f" ({err.filename})" if getattr(err, "filename", None) else ""
            msg = f"{err.strerror or err}{where}. Check the path and its permissions."
            raise click.ClickException(msg) from err


@click.group(cls=GeodecoupageGroup)
@click.version_option(package_name="geodecoupage")
@click.option("-v", "--verbose", count=True, help="More log output (-vv: tracebacks).")
@click.option("-q", "--quiet", count=True, help="Less log output.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: int) -> None:
    """Audit how Québec's administrative boundary layers fail to nest.

    \b
    Examples:
      geodecoupage layers list
      geodecoupage layers check mrc rls css
      geodecoupage crosswalk mrc rls --weight population
    """
    verbosity = verbose - quiet
    ctx.meta["geodecoupage.verbosity"] = verbosity
    level = _LEVELS[min(max(verbosity + 1, 0), len(_LEVELS) - 1)]
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(levelname)s: %(message)s"
    )
    if verbosity < 2:  # -vv keeps Python's warning format (file and line)
        warnings.showwarning = _show_warning


def _register() -> None:
    # One module per command; imported here so that `geodecoupage --help` lists them.
    from geodecoupage.cli import (
        atlas,
        batch,
        data,
        layers,
        map,
        portrait,
        propose,
        report,
        version,
    )

    cli.add_command(layers.layers)
    cli.add_command(data.data)
    cli.add_command(atlas.atlas)
    cli.add_command(atlas.crosswalk)
    # audit, extended with --all-regions/--jobs/--force/--config (cli/batch.py)
    cli.add_command(batch.audit)
    cli.add_command(propose.propose)
    cli.add_command(map.map_)
    cli.add_command(report.report)
    cli.add_command(portrait.portrait)
    cli.add_command(version.version)


_register()
