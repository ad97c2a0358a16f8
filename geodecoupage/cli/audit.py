"""``geodecoupage audit``: nesting, agreement and over-concertation scores."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from geodecoupage.cli import options
from geodecoupage.cli.report import prepare

logger = logging.getLogger(__name__)


@click.command("audit")
@options.data_dir
@options.atlas
@options.layers
@options.territory
@click.option(
    "--tables",
    default=None,
    metavar="KEY",
    help="Table layer of the over-concertation risk (e.g. mrc; default with "
    "--territory: the territory); the other layers are the institutions.",
)
@options.region
@options.threshold
@options.min_area_m2
@click.option(
    "--tolerance-m",
    type=click.FloatRange(0.0),
    default=100.0,
    show_default=True,
    help="Boundary coincidence tolerance, in metres.",
)
@options.population
@options.lang
@options.output
@options.overwrite
def audit(
    data_dir: Path | None,
    atlas_path: Path | None,
    layers: tuple[str, ...] | None,
    territory: Any,
    tables: str | None,
    region: str | None,
    threshold: float,
    min_area_m2: float | None,
    tolerance_m: float,
    population: bool,
    lang: str,
    output: Path | None,
    overwrite: bool,
) -> None:
    """Score how LAYERS fail to nest, and the over-concertation load of TABLES.

    Writes incoherence.csv, pairs.csv, matrix.csv, risk_tables.csv,
    risk_institutions.csv, sensitivity.csv and summary.json into the -o folder
    and prints a short summary; without -o, prints the JSON summary on stdout.

    With --territory FILE --code-col COL, the file's units (e.g. the territories
    of local coordination tables) are one more layer, named by --territory-key;
    without --tables they are the tables, and the LAYERS units each one
    overlaps are its institutions.

    \b
    Examples:
      geodecoupage audit --layers mrc,rls,css --tables mrc -o out/
      geodecoupage audit --layers mrc,cisss,rls,css --tables mrc --region 06 -o mtl/
      geodecoupage audit --layers mrc,rls --threshold 0.05 --lang en | jq .pairs
      geodecoupage audit --territory demarches.gpkg --code-col id \\
          --layers cisss,css,municipalites --region 05 -o estrie/
      geodecoupage atlas build --layers mrc,rls,css --population -o qc.gpkg
      geodecoupage audit --atlas qc.gpkg --layers mrc,rls,css --tables mrc -o out/
      geodecoupage audit --atlas qc.gpkg --layers mrc,rls,css --region 06 -o mtl/

    With --atlas FILE, the saved atlas is used as it is (no overlay): options
    that would change it (--min-area-m2, --population/--no-population,
    --territory) are refused, and --region audits the region inside the saved
    atlas, as the batch audit does.
    """
    from geodecoupage.metrics import OUTPUT_FILES
    from geodecoupage.metrics import audit as run_audit

    tkey = territory.key if territory is not None else None
    catalogue = list(layers or ())
    keys = list(dict.fromkeys([*([tkey] if tkey else []), *catalogue]))
    if len(keys) < 2:
        msg = (
            "--layers needs at least two layer keys, e.g. --layers mrc,rls,css "
            "(one with --territory, e.g. --layers cisss)."
        )
        raise click.UsageError(msg)
    if tables is None and tkey is not None:
        tables = tkey
    if tables is not None and tables not in (*options.LAYER_KEYS, tkey):
        known = ", ".join([*([tkey] if tkey else []), *options.LAYER_KEYS])
        msg = f"--tables: unknown layer {tables!r}; choose from {known}."
        raise click.UsageError(msg)
    if output is not None and not overwrite:
        # Refuse before the (long) computation, not after.
        from geodecoupage._io import check_writable

        for name in OUTPUT_FILES:
            check_writable(output / name, overwrite=False)
    if tables is not None and tables not in keys:
        keys.append(tables)
    if atlas_path is not None:
        options.reject_with_atlas(
            click.get_current_context(), options.ATLAS_BUILD_PARAMS
        )
    prep = prepare(
        keys,
        data_dir=data_dir,
        region=region,
        min_area_m2=min_area_m2,
        population=population,
        territory=territory,
        lang=lang,
        atlas_path=atlas_path,
    )
    result = run_audit(
        prep.atlas,
        layers=keys,
        tables=tables,
        threshold=threshold,
        tolerance_m=tolerance_m,
        within=prep.within,
        names=prep.names,
    )
    if output is None:
        click.echo(result.to_json(lang=lang), nl=False)
        click.echo(result.summary(lang=lang), err=True, nl=False)
        return
    result.write(output, overwrite=overwrite, lang=lang)
    click.echo(result.summary(lang=lang), nl=False)
