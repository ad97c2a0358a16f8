"""``geodecoupage map``: an interactive overlap map as one offline HTML file."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from geodecoupage.cli import options

logger = logging.getLogger(__name__)


@click.command("map")
@options.data_dir
@options.atlas
@options.layers
@options.territory
@options.region
@options.threshold
@options.min_area_m2
@click.option(
    "--color-by",
    default=None,
    metavar="COLUMN",
    help="Colour units by this column of the layers (e.g. regions_code).",
)
@click.option(
    "--population/--no-population",
    default=False,
    show_default=True,
    help="Add census populations to the tooltips (slower).",
)
@options.simplify_m
@click.option(
    "--cdn",
    is_flag=True,
    default=False,
    help="Link Leaflet from its CDN instead of inlining it (smaller file, needs "
    "Internet to open).",
)
@options.lang
@options.output
@options.overwrite
def map_(
    data_dir: Path | None,
    atlas_path: Path | None,
    layers: tuple[str, ...] | None,
    territory: Any,
    region: str | None,
    threshold: float,
    min_area_m2: float | None,
    color_by: str | None,
    population: bool,
    simplify_m: float | None,
    cdn: bool,
    lang: str,
    output: Path | None,
    overwrite: bool,
) -> None:
    """Draw LAYERS on one map: split units highlighted, crosswalks in tooltips.

    With two layers or more, the map shows which units another layer splits
    and, on hover, how each unit is shared ("RLS 0612 : 61 % dans ..."). The
    HTML file holds Leaflet itself, so it opens without Internet. Prints the
    path written.

    \b
    Examples:
      geodecoupage map --layers mrc,rls,css -o carte.html
      geodecoupage map --layers mtl_arrondissements,cisss --region 06 -o mtl.html
      geodecoupage map --territory demarches.gpkg --code-col id --name-col nom \\
          --layers cisss,css -o demarches.html
      geodecoupage map --atlas qc.gpkg --layers mrc,rls --region 06 -o mtl.html

    With --atlas FILE (from geodecoupage atlas build), the saved atlas gives the
    crosswalks (and populations, if it has them): --min-area-m2,
    --population/--no-population and --territory are refused.
    """
    from geodecoupage._io import check_writable
    from geodecoupage.cli.report import layer_keys, prepare
    from geodecoupage.maps import overlap_map, save_map
    from geodecoupage.reports.inputs import read_inputs

    keys = layer_keys(layers, territory, at_least=1)
    if output is None:
        msg = "give the map's path with -o, e.g. -o carte.html."
        raise click.UsageError(msg)
    if atlas_path is not None:
        options.reject_with_atlas(
            click.get_current_context(), options.ATLAS_BUILD_PARAMS
        )
    check_writable(output, overwrite=overwrite)
    bounds = None
    if len(keys) == 1 and region is None and atlas_path is None:
        catalogue = keys if territory is None else []  # the one layer shown
        data = read_inputs(catalogue, data_dir, territory=territory, lang=lang)
        atlas = None
    else:
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
        data, atlas = prep.layers, prep.atlas if len(keys) > 1 else None
        if prep.within is not None:
            from geodecoupage.reports.report import territory_bounds

            bounds = territory_bounds(prep.atlas, prep.within)
    m = overlap_map(
        data,
        atlas=atlas,
        color_by=color_by,
        threshold=threshold,
        simplify_m=simplify_m,
        bounds=bounds,
        self_contained=not cdn,
        lang=lang,  # type: ignore[arg-type]
    )
    out = save_map(m, output, overwrite=overwrite, self_contained=not cdn)
    click.echo(str(out))
