"""``geodecoupage portrait``: an indicator table moved to any layer or territory."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import click

from geodecoupage.cli import options

logger = logging.getLogger(__name__)


def _split(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [c.strip() for c in value.split(",") if c.strip()]


def _read_indicator(path: Path, code_col: str) -> Any:
    import pandas as pd

    from geodecoupage.errors import InvalidParameterError

    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            # Codes stay text: leading zeros and CTUID decimals are kept.
            return pd.read_csv(path, dtype={code_col: str})
        if suffix == ".parquet":
            return pd.read_parquet(path)
    except (ValueError, UnicodeDecodeError) as err:
        msg = f"Cannot read the indicator table {str(path)!r}: {err}."
        raise InvalidParameterError(msg) from err
    msg = f"The indicator table must be a .csv or .parquet file, not {path.name!r}."
    raise click.UsageError(msg)


@click.command("portrait")
@click.option(
    "--indicator",
    "indicator_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    metavar="FILE.csv",
    help="Indicator table: one row per census subdivision (CSD 24xxxxx), "
    "municipality (5-digit code) or census tract (CTUID).",
)
@click.option(
    "--code-col", required=True, metavar="COLUMN", help="The code column of the table."
)
@click.option(
    "--to",
    "target",
    required=True,
    metavar="LAYER|FILE",
    help="Target: a layer key (e.g. rls, mtl_quartiers) or a territory file "
    "(GeoPackage, GeoJSON, Shapefile…) with --to-code-col.",
)
@click.option(
    "--to-code-col",
    default=None,
    metavar="COLUMN",
    help="With a territory file for --to: its column of unit codes.",
)
@click.option(
    "--extensive",
    default=None,
    metavar="COL[,COL...]",
    help="Count columns, split by population and summed (default: every numeric "
    "column when --intensive is not given).",
)
@click.option(
    "--intensive",
    default=None,
    metavar="COL[,COL...]",
    help="Rate or mean columns, averaged weighted by population.",
)
@click.option(
    "--source",
    type=click.Choice(["auto", "csd", "municipal", "ct"]),
    default="auto",
    show_default=True,
    help="Kind of codes in --code-col.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0.0, 0.5, max_open=True),
    default=0.01,
    show_default=True,
    help="A source unit counts as split when less than 1 - tolerance of its "
    "population lies in one target unit (error statement only).",
)
@options.data_dir
@options.lang
@options.output
@options.overwrite
def portrait(
    indicator_path: Path,
    code_col: str,
    target: str,
    to_code_col: str | None,
    extensive: str | None,
    intensive: str | None,
    source: str,
    tolerance: float,
    data_dir: Path | None,
    lang: str,
    output: Path | None,
    overwrite: bool,
) -> None:
    """Aggregate an indicator table by census or municipal code to a layer.

    Extensive columns (counts) are split between the target units in
    proportion to the census population of each source unit inside them;
    intensive columns (rates) are population-weighted means. The allocation
    error is stated: the share of each target's population that comes from
    source units split between several targets (column allocated_share, and a
    summary on the terminal). With -o FILE.csv writes one row per target unit,
    with -o FILE.json everything; without -o prints the JSON on stdout.

    \b
    Examples:
      geodecoupage portrait --indicator census2016_pop_by_csd_qc.csv \\
          --code-col geo_uid --to rls -o ages_rls.csv
      geodecoupage portrait --indicator taux.csv --code-col csd \\
          --intensive taux_chomage --to mtl_quartiers
      geodecoupage portrait --indicator census2016_pop_by_ct_qc.csv \\
          --code-col geo_uid --to mon_territoire.gpkg --to-code-col id
    """
    from geodecoupage._io import check_writable
    from geodecoupage.layers import LAYER_KEYS, read_territory
    from geodecoupage.overlay.portrait import portrait as make_portrait

    if output is not None:
        if output.suffix.lower() not in (".csv", ".json"):
            msg = "-o must end in .csv (values) or .json (everything)."
            raise click.UsageError(msg)
        check_writable(output, overwrite=overwrite)  # before the long computation
    to: Any
    if target in LAYER_KEYS:
        if to_code_col is not None:
            msg = "--to-code-col goes with a territory file, not a layer key."
            raise click.UsageError(msg)
        to = target
    else:
        path = Path(target)
        if not path.exists():
            msg = (
                f"--to: {target!r} is neither a layer key ({', '.join(LAYER_KEYS)}) "
                f"nor an existing file."
            )
            raise click.UsageError(msg)
        if to_code_col is None:
            msg = "--to with a territory file needs --to-code-col COLUMN."
            raise click.UsageError(msg)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            to = read_territory(path, code_col=to_code_col)
        for w in caught:
            logger.warning("%s: %s", path.name, w.message)
    table = _read_indicator(indicator_path, code_col)
    result = make_portrait(
        table,
        code_col=code_col,
        to=to,
        extensive=_split(extensive),
        intensive=_split(intensive),
        source=source,  # type: ignore[arg-type]
        tolerance=tolerance,
        data_dir=data_dir,
    )
    if output is None:
        click.echo(result.to_json(), nl=False)
        click.echo(result.summary(lang), err=True, nl=False)
        return
    result.write(output, overwrite=overwrite)
    click.echo(result.summary(lang), nl=False)
