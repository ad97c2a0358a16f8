"""``geodecoupage data fetch|where``: the data directory."""

from __future__ import annotations

from pathlib import Path

import click

from geodecoupage.cli import options


@click.group()
def data() -> None:
    """Manage the data directory (--data-dir, then $GEODECOUPAGE_DATA, then cache).

    \b
    Examples:
      geodecoupage data where
      geodecoupage data fetch css cs_anglo
    """


@data.command("where")
@options.data_dir
def where(data_dir: Path | None) -> None:
    """Print the data directory in use."""
    from geodecoupage.layers import resolve_data_dir

    click.echo(str(resolve_data_dir(data_dir)))


@data.command("fetch")
@click.argument("keys", nargs=-1, type=click.Choice(options.LAYER_KEYS))
@click.option("--force", is_flag=True, help="Download again even if a file is present.")
@options.data_dir
def fetch(keys: tuple[str, ...], force: bool, data_dir: Path | None) -> None:
    """Download missing layers from their official source, checksums verified."""
    from geodecoupage.layers import fetch_layer

    wanted = keys or options.LAYER_KEYS
    for key in wanted:
        path = fetch_layer(key, data_dir=data_dir, force=force, progress=True)
        click.echo(f"{key}: {path}")
