"""``geodecoupage report``: the one-file HTML audit report (works offline)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from geodecoupage.cli import options
from geodecoupage.metrics._atlas import has_population
from geodecoupage.reports.inputs import read_inputs, read_population

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
    territory: Any = None,
    lang: str = "fr",
    atlas_path: Path | None = None,
) -> Prepared:
    """Read *keys* (and the *territory*), restrict them to *region*, build the atlas.

    *keys* may hold the territory's key; the territory is read from *territory*
    (a :class:`geodecoupage.reports.inputs.TerritorySource`). With *atlas_path*,
    the saved atlas is read instead of built
    (:func:`geodecoupage.reports.inputs.read_saved_atlas`; the region is then
    studied inside it) and *min_area_m2*, *population* and *territory* are not
    used: the caller refuses them (:func:`geodecoupage.cli.options.reject_with_atlas`).
    """
    from geodecoupage.overlay.atlas import build_atlas
    from geodecoupage.reports.inputs import read_saved_atlas, select_inputs_region

    if atlas_path is not None:
        saved = read_saved_atlas(atlas_path, keys, data_dir, region=region)
        return Prepared(
            layers={k: saved.layers[k] for k in keys},
            atlas=saved.atlas,
            within=None if saved.within is None else dict(saved.within),
            names={k: dict(v) for k, v in saved.names.items()},
        )

    tkey = territory.key if territory is not None else None
    read_keys = [k for k in keys if k != tkey]
    if region is not None and "mrc" not in read_keys:
        read_keys.append("mrc")  # a region is a set of MRC
    data = read_inputs(read_keys, data_dir, territory=territory, lang=lang)
    within = None
    kwargs: dict[str, Any] = {}
    if region is not None:
        sel = select_inputs_region(data, region=region, territory_key=tkey)
        data = dict(sel.layers)
        within = {k: tuple(v) for k, v in sel.within.items()}
        kwargs["land"] = sel.land  # the selected RLS alone leave out land
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


def layer_keys(
    layers: tuple[str, ...] | None, territory: Any, *, at_least: int
) -> list[str]:
    """Return the territory's key (first, if any) and the --layers keys.

    Raises a usage error when they are fewer than *at_least*.
    """
    keys = [territory.key] if territory is not None else []
    keys += [k for k in layers or () if k not in keys]
    if len(keys) < at_least:
        extra = " (the territory counts as one)" if territory is not None else ""
        msg = (
            f"--layers needs at least {at_least} layer key(s){extra}, e.g. "
            "--layers mrc,rls,css."
        )
        raise click.UsageError(msg)
    return keys


@click.command("report")
@options.data_dir
@options.atlas
@options.layers
@options.territory
@click.option(
    "--tables",
    default="auto",
    show_default=True,
    metavar="KEY|auto|none",
    help="Table layer of the over-concertation risk (auto: the --territory, "
    "else mrc, then mtl_quartiers, when listed); the institutions are the listed "
    "rss, cisss, rls, clsc, css and school-board layers (every other listed "
    "layer when the tables are the territory).",
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
    atlas_path: Path | None,
    layers: tuple[str, ...] | None,
    territory: Any,
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
      geodecoupage report --territory demarches.gpkg --code-col id \\
          --layers cisss,css,municipalites -o demarches.html
      geodecoupage report --atlas qc.gpkg --layers mrc,rls,css -o rapport.html

    With --atlas FILE (from geodecoupage atlas build), the saved atlas is used
    as it is: --min-area-m2, --population/--no-population and --territory are
    refused; --region studies the region inside it.
    """
    from geodecoupage._io import check_writable
    from geodecoupage.metrics import audit as run_audit
    from geodecoupage.reports.report import INSTITUTION_LAYERS, write_report

    keys = layer_keys(layers, territory, at_least=2)
    tkey = territory.key if territory is not None else None
    if output is None:
        msg = "give the report's path with -o, e.g. -o rapport.html."
        raise click.UsageError(msg)
    table_layer: str | None
    if tables == "none":
        table_layer = None
    elif tables == "auto":
        table_layer = "auto"
    elif tables in (*options.LAYER_KEYS, tkey):
        table_layer = tables
        if tables not in keys:
            keys.append(tables)
    else:
        known = ", ".join([*([tkey] if tkey else []), *options.LAYER_KEYS])
        msg = (
            f"--tables: unknown layer {tables!r}; choose auto, none or one of {known}."
        )
        raise click.UsageError(msg)
    if atlas_path is not None:
        options.reject_with_atlas(
            click.get_current_context(), options.ATLAS_BUILD_PARAMS
        )
    check_writable(output, overwrite=overwrite)  # before the long computation
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
    if atlas_path is not None:  # the atlas says whether it holds populations
        population = has_population(prep.atlas)
    if table_layer == "auto":
        auto = (tkey, "mrc", "mtl_quartiers")
        table_layer = next((k for k in auto if k is not None and k in keys), None)
    if table_layer is not None and table_layer == tkey:
        # A territory's tables summon every other layer: towns and MRC too.
        institutions = [k for k in keys if k != table_layer]
    else:
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
        **({"territory": str(territory.path)} if territory is not None else {}),
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
