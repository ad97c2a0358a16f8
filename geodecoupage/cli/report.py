"""``geodecoupage report``: the one-file HTML audit report (works offline)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from geodecoupage.cli import options
from geodecoupage.reports.inputs import read_layers, read_population

logger = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Layers read (and restricted to a region), their atlas and the territory."""

    layers: dict[str, Any]
    atlas: Any
    within: dict[str, tuple[str, ...]] | None = None
    names: dict[str, dict[str, str]] = field(default_factory=dict)


def prepare(
    keys: Sequence[str],
    *,
    data_dir: Path | None,
    region: str | None,
    min_area_m2: float | None,
    population: bool,
) -> Prepared:
    """Read *keys*, restrict them to *region* and build their atlas."""
    from geodecoupage.overlay.atlas import build_atlas

    read_keys = list(keys)
    if region is not None and "mrc" not in read_keys:
        read_keys.append("mrc")  # a region is a set of MRC
    data = read_layers(read_keys, data_dir)
    within = None
    if region is not None:
        from geodecoupage.metrics.region import select_region

        sel = select_region(data, region=region)
        data = dict(sel.layers)
        within = {k: tuple(v) for k, v in sel.within.items()}
    kwargs: dict[str, Any] = {}
    if min_area_m2 is not None:
        kwargs["min_area_m2"] = min_area_m2
    if population:
        surface = read_population(data_dir)
        if surface is not None:
            kwargs["population"] = surface
    atlas = build_atlas(data, **kwargs)
    names = {
        k: {str(c): str(n) for c, n in g["nom"].items()}
        for k, g in data.items()
        if "nom" in g.columns
    }
    shown = {k: data[k] for k in keys}
    return Prepared(layers=shown, atlas=atlas, within=within, names=names)


def check_layer_keys(layers: tuple[str, ...] | None, *, at_least: int) -> list[str]:
    """Return the --layers keys, or raise a usage error when too few."""
    if not layers or len(layers) < at_least:
        msg = (
            f"--layers needs at least {at_least} layer key(s), e.g. "
            "--layers mrc,rls,css."
        )
        raise click.UsageError(msg)
    return list(dict.fromkeys(layers))


@click.command("report")
@options.data_dir
@options.layers
@click.option(
    "--tables",
    default="auto",
    show_default=True,
    metavar="KEY|auto|none",
    help="Table layer of the over-concertation risk (auto: mrc, then "
    "mtl_quartiers, when listed); the institutions are the listed rss, cisss, "
    "rls, clsc, css and school-board layers.",
)
@options.region
@options.threshold
@options.min_area_m2
@options.population
@options.simplify_m
@click.option("--no-maps", is_flag=True, default=False, help="Leave out the maps.")
@click.option(
    "--date",
    "date",
    default=None,
    metavar="TEXT",
    help="Date printed in the header (none by default: reruns are byte-identical).",
)
@options.lang
@options.output
@options.overwrite
def report(
    data_dir: Path | None,
    layers: tuple[str, ...] | None,
    tables: str,
    region: str | None,
    threshold: float,
    min_area_m2: float | None,
    population: bool,
    simplify_m: float | None,
    no_maps: bool,
    date: str | None,
    lang: str,
    output: Path | None,
    overwrite: bool,
) -> None:
    """Write the audit of LAYERS as one HTML file that opens offline.

    The report holds the findings (most split units, the institution summoned
    by the most tables), the layer-pair matrix, the ranked tables, interactive
    maps, figures, the parameters, the data vintages and checksums, and the
    attributions. Prints the path written.

    \b
    Examples:
      geodecoupage report --layers mrc,cisss,rls,css -o rapport.html
      geodecoupage report --layers mrc,rls,css --region 06 -o mtl.html --lang en
    """
    from geodecoupage._io import check_writable
    from geodecoupage.metrics import audit as run_audit
    from geodecoupage.reports.report import INSTITUTION_LAYERS, write_report

    keys = check_layer_keys(layers, at_least=2)
    if output is None:
        msg = "give the report's path with -o, e.g. -o rapport.html."
        raise click.UsageError(msg)
    table_layer: str | None
    if tables == "none":
        table_layer = None
    elif tables == "auto":
        table_layer = "auto"
    elif tables in options.LAYER_KEYS:
        table_layer = tables
        if tables not in keys:
            keys.append(tables)
    else:
        known = ", ".join(options.LAYER_KEYS)
        msg = (
            f"--tables: unknown layer {tables!r}; choose auto, none or one of {known}."
        )
        raise click.UsageError(msg)
    check_writable(output, overwrite=overwrite)  # before the long computation
    prep = prepare(
        keys,
        data_dir=data_dir,
        region=region,
        min_area_m2=min_area_m2,
        population=population,
    )
    if table_layer == "auto":
        table_layer = next((k for k in ("mrc", "mtl_quartiers") if k in keys), None)
    institutions = [k for k in keys if k in INSTITUTION_LAYERS and k != table_layer]
    result = run_audit(
        prep.atlas,
        layers=keys,
        tables=table_layer if institutions else None,
        institutions=institutions or None,
        threshold=threshold,
        within=prep.within,
        names=prep.names,
    )
    params = {
        "layers": ",".join(keys),
        "tables": table_layer or "none",
        "region": region or "",
        "population": population,
        "min_area_m2": min_area_m2 if min_area_m2 is not None else "default",
    }
    out = write_report(
        output,
        prep.layers,
        overwrite=overwrite,
        atlas=prep.atlas,
        audit=result,
        table_layer=table_layer,
        within=prep.within,
        threshold=threshold,
        params=params,
        region=region,
        date=date,
        include_maps=not no_maps,
        simplify_m=simplify_m,
        lang=lang,
    )
    click.echo(str(out))
