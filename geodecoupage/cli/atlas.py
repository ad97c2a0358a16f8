"""``geodecoupage atlas build`` and ``geodecoupage crosswalk``: the overlay engine.

Both commands read catalogue layers (and a user's ``--territory``), build their
atlas in one overlay pass
(:func:`geodecoupage.overlay.build_atlas`) and write the atoms or a crosswalk
table. Files are written atomically and never overwritten without
``--overwrite``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from geodecoupage.cli import options
from geodecoupage.layers import LAYER_KEYS
from geodecoupage.metrics._atlas import has_population
from geodecoupage.reports.inputs import read_inputs, read_population

logger = logging.getLogger(__name__)

_XW_FORMATS = ("csv", "json", "gpkg")


def _atlas_kwargs(min_area_m2: float | None, snap_m: float | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if min_area_m2 is not None:
        kwargs["min_area_m2"] = min_area_m2
    if snap_m is not None:
        kwargs["snap_m"] = snap_m
    return kwargs


snap_m = click.option(
    "--snap-m",
    type=click.FloatRange(0.0, min_open=True),
    default=None,
    help="Snapping grid in metres (default 1).",
)

population_support = click.option(
    "--population-support",
    type=click.Choice(["land", "area"]),
    default="land",
    show_default=True,
    help="Where a census polygon's people go: on the part of it the water-free "
    "layers (rls, cisss) cover, or spread over its whole area.",
)


@click.group("atlas")
def atlas() -> None:
    """Build the atlas (common refinement) of several layers."""


@atlas.command("build")
@options.layers
@options.territory
@options.data_dir
@options.output
@options.overwrite
@options.min_area_m2
@snap_m
@click.option(
    "--population/--no-population",
    default=False,
    show_default=True,
    help="Allocate the census population surface of the data directory to atoms.",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "dask"]),
    default="local",
    show_default=True,
    help="local: this process; dask: partitions on a dask.distributed cluster "
    "(same atoms; needs pip install 'geodecoupage[scale]').",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="With --engine dask: address of a running Dask scheduler, e.g. "
    "tcp://10.0.0.5:8786 (default: a local cluster for this run).",
)
@population_support
def build(
    layers: tuple[str, ...] | None,
    territory: Any,
    data_dir: Path | None,
    output: Path | None,
    overwrite: bool,
    min_area_m2: float | None,
    snap_m: float | None,
    population: bool,
    engine: str,
    scheduler: str | None,
    population_support: str,
) -> None:
    """Build the atlas of --layers and save it (GeoPackage or GeoParquet).

    One row per atom: one code column per layer (empty where the layer does not
    cover), area_m2 (equal-area), population, n_parts, geometry (EPSG:32198).
    The file also holds the slivers and the atlas parameters, so audit, report,
    map and crosswalk can reuse it with --atlas FILE instead of building the
    atlas again (geodecoupage.overlay.read_atlas in Python). A summary goes to
    stderr.

    \b
    Examples:
      geodecoupage atlas build --layers mrc,rls,css -o atlas.gpkg
      geodecoupage atlas build --layers mrc,rls --population -o atlas.parquet
      geodecoupage atlas build --territory demarches.gpkg --code-col id \\
          --layers cisss,css -o atlas.gpkg
      geodecoupage atlas build --layers mrc,rls,css --engine dask -o atlas.gpkg
      geodecoupage atlas build --layers mrc,rls --engine dask \\
          --scheduler tcp://10.0.0.5:8786 -o atlas.gpkg
      geodecoupage audit --atlas atlas.gpkg --layers mrc,rls --tables mrc -o out/
    """
    from geodecoupage._io import check_writable
    from geodecoupage.overlay import build_atlas, save_atlas
    from geodecoupage.overlay.io import ATLAS_SUFFIXES

    if not layers:
        msg = "--layers is required, e.g. --layers mrc,rls,css."
        raise click.UsageError(msg)
    if output is None:
        msg = "-o/--output is required: a .gpkg or .parquet file."
        raise click.UsageError(msg)
    if scheduler is not None and engine != "dask":
        msg = "--scheduler needs --engine dask."
        raise click.UsageError(msg)
    if output.suffix.lower() not in ATLAS_SUFFIXES:
        msg = (
            f"Cannot tell the format of {str(output)!r}: use a .gpkg (GeoPackage) "
            f"or .parquet (GeoParquet) file name."
        )
        raise click.UsageError(msg)
    check_writable(output, overwrite=overwrite)  # refuse before the long part
    data = read_inputs(layers, data_dir, territory=territory)
    kwargs = _atlas_kwargs(min_area_m2, snap_m)
    if population:
        kwargs["population"] = read_population(data_dir, required=True)
        kwargs["population_support"] = population_support
    if engine == "dask":
        kwargs.update(engine="dask", scheduler=scheduler)
    result = build_atlas(data, **kwargs)
    atoms = result.atoms
    save_atlas(result, output, overwrite=overwrite)
    cov = result.coverage()
    p = result.params
    click.echo(
        f"{len(atoms)} atoms, {atoms['area_m2'].sum() / 1e6:,.1f} km² "
        f"({cov.loc['*', 'covered_share']:.1%} covered by every layer); "
        f"{p['n_slivers']} slivers merged or kept "
        f"({float(p['sliver_area_m2']) / 1e6:,.2f} km²) -> {output}",  # type: ignore[arg-type]
        err=True,
    )


def _complete_key(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[str]:
    keys = [*LAYER_KEYS, ctx.params.get("territory_key") or "territoire"]
    return [k for k in keys if k.startswith(incomplete)]


def _check_pair_keys(source: str, target: str, territory: Any) -> None:
    """Usage error unless SOURCE and TARGET are catalogue or territory keys."""
    tkey = territory.key if territory is not None else None
    known = list(dict.fromkeys([*LAYER_KEYS, *([tkey] if tkey else [])]))
    for name, value in (("SOURCE", source), ("TARGET", target)):
        if value not in known:
            hint = "" if tkey else " (or a territory key, with --territory FILE)"
            msg = f"{value!r} is not a layer key; choose from {', '.join(known)}{hint}."
            raise click.BadParameter(msg, param_hint=f"'{name}'")
    if tkey is not None and tkey not in (source, target):
        msg = (
            f"--territory is read as {tkey!r}: name it as SOURCE or TARGET, e.g. "
            f"geodecoupage crosswalk {tkey} {target} --territory ..."
        )
        raise click.UsageError(msg)


@click.command("crosswalk")
@click.argument("source", metavar="SOURCE", shell_complete=_complete_key)
@click.argument("target", metavar="TARGET", shell_complete=_complete_key)
@options.territory
@click.option(
    "--weight",
    type=click.Choice(["area", "population"]),
    default="area",
    show_default=True,
    help="Allocation weight; population uses the census surface of the data.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(_XW_FORMATS)),
    default=None,
    help="Output format (default: from the -o suffix, else csv).",
)
@click.option(
    "--include-gaps",
    is_flag=True,
    default=False,
    help="Keep the parts of a unit the other layer does not cover (empty code).",
)
@options.data_dir
@options.atlas
@options.output
@options.overwrite
@options.min_area_m2
@snap_m
@population_support
def crosswalk(
    source: str,
    target: str,
    territory: Any,
    weight: str,
    fmt: str | None,
    include_gaps: bool,
    data_dir: Path | None,
    atlas_path: Path | None,
    output: Path | None,
    overwrite: bool,
    min_area_m2: float | None,
    snap_m: float | None,
    population_support: str,
) -> None:
    """Print or write the crosswalk (allocation table) from SOURCE to TARGET.

    Columns: source_code, target_code, area_m2, share_of_source, share_of_target
    (and population, pop_share_of_source, pop_share_of_target with --weight
    population). Codes are the official codes, zero-padded as published. Without
    -o, CSV (or JSON) goes to stdout. SOURCE or TARGET may be the key of a
    --territory file (default key: territoire). With --weight population, a
    census polygon's people are placed on its land part by default (the part the
    water-free RLS/CISSS layers cover); --population-support area spreads them
    over the whole polygon, water included.

    \b
    Examples:
      geodecoupage crosswalk mrc rls
      geodecoupage crosswalk mrc rls --weight population -o mrc_rls.csv
      geodecoupage crosswalk rls css --format gpkg -o rls_css.gpkg
      geodecoupage crosswalk territoire cisss --territory demarches.gpkg \\
          --code-col id -o demarches_cisss.csv
      geodecoupage crosswalk mrc rls --atlas atlas.gpkg -o mrc_rls.csv

    With --atlas FILE (from geodecoupage atlas build), the crosswalk is read off
    the saved atlas: SOURCE and TARGET must be among its layers (a territory key
    too), --weight population needs an atlas built with --population, and
    --territory, --min-area-m2, --snap-m and --population-support are refused.
    """
    from geodecoupage._io import atomic_path, check_writable
    from geodecoupage.overlay import build_atlas

    if atlas_path is not None:
        options.reject_with_atlas(
            click.get_current_context(), options.ATLAS_BUILD_PARAMS
        )
    else:
        _check_pair_keys(source, target, territory)
    if fmt is None:
        suffix = output.suffix.lower().lstrip(".") if output is not None else ""
        fmt = suffix if suffix in _XW_FORMATS else "csv"
    if fmt == "gpkg" and output is None:
        msg = "--format gpkg needs -o/--output (a GeoPackage cannot go to stdout)."
        raise click.UsageError(msg)
    if output is not None:
        check_writable(output, overwrite=overwrite)
    if atlas_path is not None:
        result = _saved_atlas_for(atlas_path, source, target, weight)
    else:
        tkey = territory.key if territory is not None else None
        data = read_inputs(
            [k for k in (source, target) if k != tkey], data_dir, territory=territory
        )
        kwargs = _atlas_kwargs(min_area_m2, snap_m)
        if weight == "population":
            kwargs["population"] = read_population(data_dir, required=True)
            kwargs["population_support"] = population_support
        result = build_atlas(data, **kwargs)
    table = result.crosswalk(
        source,
        target,
        weight="population" if weight == "population" else "area",
        include_gaps=include_gaps,
    ).reset_index()
    for col in ("source_code", "target_code"):
        table[col] = table[col].astype(object).where(table[col].notna(), None)

    if fmt == "csv":
        text = table.to_csv(index=False, lineterminator="\n")
    elif fmt == "json":
        records = json.loads(table.to_json(orient="records", double_precision=15))
        text = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    else:
        text = ""
    if output is None:
        click.echo(text, nl=False)
    elif fmt == "gpkg":
        frame = _pair_geometries(result.atoms, source, target, table)
        with atomic_path(output, overwrite=overwrite) as tmp:
            frame.to_file(tmp, driver="GPKG", layer="crosswalk")
    else:
        with atomic_path(output, overwrite=overwrite) as tmp:
            tmp.write_bytes(text.encode("utf-8"))
    if output is not None:
        click.echo(f"{len(table)} rows -> {output}", err=True)


def _saved_atlas_for(path: Path, source: str, target: str, weight: str) -> Any:
    """The saved atlas, checked to hold SOURCE, TARGET (and populations)."""
    from geodecoupage.overlay import read_atlas

    result = read_atlas(path)
    for name, value in (("SOURCE", source), ("TARGET", target)):
        if value not in result.layers:
            msg = (
                f"{value!r} is not a layer of the atlas {str(path)!r}, which holds "
                f"{', '.join(result.layers)}; choose one of these, or build an "
                f"atlas with it."
            )
            raise click.BadParameter(msg, param_hint=f"'{name}'")
    if weight == "population" and not has_population(result):
        msg = (
            f"--weight population: the atlas {str(path)!r} has no population (it "
            f"was built without --population). Rebuild it with geodecoupage atlas "
            f"build --population, or use --weight area."
        )
        raise click.UsageError(msg)
    return result


def _pair_geometries(atoms: Any, source: str, target: str, table: Any) -> Any:
    """The table with the geometry of each (source, target) pair."""
    import geopandas as gpd
    import shapely

    src = atoms[source].astype(object).where(atoms[source].notna(), None)
    tgt = atoms[target].astype(object).where(atoms[target].notna(), None)
    geoms: dict[tuple[Any, Any], list[Any]] = {}
    for s, t, g in zip(src, tgt, atoms.geometry.values, strict=True):
        geoms.setdefault((s, t), []).append(g)
    shapes = [
        shapely.union_all(geoms.get((s, t), []))
        for s, t in zip(table["source_code"], table["target_code"], strict=True)
    ]
    return gpd.GeoDataFrame(table, geometry=shapes, crs=atoms.crs)
