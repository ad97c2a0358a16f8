"""``geodecoupage layers list|check``: the catalogue and layer validation."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import click
import pandas as pd

from geodecoupage.cli import options
from geodecoupage.cli._table import render_table
from geodecoupage.errors import GeodecoupageError, LayerUnavailableError
from geodecoupage.i18n import pick

#: Reference area of the province: the SDA regions layer, water included, measured
#: in the equal-area AREA_CRS (km²). EPSG:32198 gives 1 680 539 km², 0.93 % less.
PROVINCE_KM2 = 1_696_364.0


@click.group()
def layers() -> None:
    """List the layer catalogue and validate layers.

    \b
    Examples:
      geodecoupage layers list
      geodecoupage layers check mrc rls css
      geodecoupage layers check --all
      geodecoupage layers check --file mon_territoire.gpkg --code-col id
    """


@layers.command("list")
@options.data_dir
@options.lang
@options.fmt("table", "json", "csv")
def list_layers(data_dir: Path | None, lang: str, fmt: str) -> None:
    """List the 12 catalogue layers and whether each is available."""
    from geodecoupage.layers import available_layers

    table = available_layers(data_dir, lang=lang)
    if fmt == "json":
        click.echo(table.reset_index().to_json(orient="records", force_ascii=False))
        return
    if fmt == "csv":
        click.echo(table.to_csv(), nl=False)
        return
    yes, no = pick(lang, fr="oui", en="yes"), pick(lang, fr="non", en="no")
    view = pd.DataFrame(
        {
            pick(lang, fr="couche", en="layer"): table.index,
            pick(lang, fr="disponible", en="available"): [
                yes if a else no for a in table["available"]
            ],
            pick(lang, fr="millésime", en="vintage"): table["vintage"].to_numpy(),
            pick(lang, fr="titre", en="title"): table["title"].to_numpy(),
        }
    )
    click.echo(render_table(view))
    for key, row in table.loc[~table["available"]].iterrows():
        click.echo(f"\n{key}: {row['reason']}")


def _summarise(key: str, gdf: Any, lang: str, tiles: bool) -> dict[str, Any]:
    from geodecoupage.crs import area_m2
    from geodecoupage.layers.validate import validate_layer

    issues = validate_layer(gdf, name=key, tiles=tiles)
    area_km2 = float(area_m2(gdf.geometry).sum()) / 1e6
    return {
        "layer": key,
        "available": True,
        "units": len(gdf),
        "vintage": gdf.attrs.get("vintage", ""),
        "crs": str(gdf.crs.to_string()) if gdf.crs is not None else "",
        "area_km2": round(area_km2, 1),
        "coverage_pct": round(100.0 * area_km2 / PROVINCE_KM2, 2),
        "errors": [i.message for i in issues if i.severity == "error"],
        "warnings": [i.message for i in issues if i.severity == "warning"],
    }


@layers.command("check")
@click.argument("keys", nargs=-1, type=click.Choice(options.LAYER_KEYS))
@click.option("--all", "all_layers", is_flag=True, help="Check every catalogue layer.")
@click.option(
    "--file",
    "file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Check a user territory file instead of catalogue layers.",
)
@options.territory_file_options("--file")
@click.option(
    "--no-repair",
    is_flag=True,
    help="With --file: report invalid geometry as an error instead of repairing it.",
)
@options.data_dir
@options.lang
@options.fmt("table", "json")
def check(
    keys: tuple[str, ...],
    all_layers: bool,
    file: Path | None,
    code_col: str | None,
    name_col: str | None,
    layer_name: str | None,
    declared_crs: str | None,
    no_repair: bool,
    dissolve: bool,
    data_dir: Path | None,
    lang: str,
    fmt: str,
) -> None:
    """Load and validate layers; print a summary (units, vintage, CRS, area, coverage).

    Exits with 1 when a layer has blocking problems; unavailable layers are listed
    with the reason (an error only when asked for by name).
    """
    from geodecoupage.layers import get_spec, read_layer, read_territory

    if file is not None:
        if keys or all_layers:
            raise click.UsageError(
                "--file cannot be combined with layer keys or --all."
            )
        if not code_col:
            raise click.UsageError(
                "--file needs --code-col (the column of unit codes)."
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gdf = read_territory(
                file,
                code_col=code_col,
                name_col=name_col,
                layer=layer_name,
                crs=declared_crs,
                repair=not no_repair,
                dissolve=dissolve,
            )
        # read_territory validated the file already; its warnings are the issues
        row = _summarise(file.name, gdf, lang, tiles=False)
        row["warnings"] = [str(w.message) for w in caught]
        rows = [row]
    else:
        if not keys and not all_layers:
            raise click.UsageError("name layers to check (e.g. mrc rls) or use --all.")
        wanted = options.LAYER_KEYS if all_layers else keys
        rows = []
        for key in wanted:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    gdf = read_layer(key, data_dir=data_dir)
                row = _summarise(key, gdf, lang, tiles=get_spec(key).tiles)
                row["warnings"] += [str(w.message) for w in caught]
            except LayerUnavailableError as err:
                if not all_layers:
                    raise
                row = {"layer": key, "available": False, "reason": str(err)}
            except GeodecoupageError as err:
                row = {"layer": key, "available": True, "errors": [str(err)]}
            rows.append(row)
    _emit(rows, fmt, lang)
    if any(r.get("errors") for r in rows):
        n = sum(1 for r in rows if r.get("errors"))
        msg = pick(
            lang,
            fr=f"{n} couche(s) ont des problèmes bloquants (détails ci-dessus).",
            en=f"{n} layer(s) have blocking problems (details above).",
        )
        raise click.ClickException(msg)


def _emit(rows: list[dict[str, Any]], fmt: str, lang: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    na = pick(lang, fr="indisponible", en="unavailable")
    view = pd.DataFrame(
        [
            {
                pick(lang, fr="couche", en="layer"): r["layer"],
                pick(lang, fr="unités", en="units"): r.get("units", ""),
                pick(lang, fr="millésime", en="vintage"): r.get("vintage", na)
                if r.get("available")
                else na,
                "CRS": r.get("crs", ""),
                pick(lang, fr="superficie km²", en="area km²"): r.get("area_km2", ""),
                pick(lang, fr="couverture %", en="coverage %"): r.get(
                    "coverage_pct", ""
                ),
                pick(lang, fr="erreurs", en="errors"): len(r.get("errors", [])),
                pick(lang, fr="avertissements", en="warnings"): len(
                    r.get("warnings", [])
                ),
            }
            for r in rows
        ]
    )
    click.echo(render_table(view))
    note = pick(
        lang,
        fr="Superficies mesurées en Albers équivalente (Québec), géométries en "
        "EPSG:32198 ; couverture = superficie / 1 696 364 km² "
        "(régions SDA, eau incluse).",
        en="Areas measured in an equal-area Albers (Québec), geometry in EPSG:32198; "
        "coverage = area / 1,696,364 km² (SDA regions, water included).",
    )
    click.echo(note)
    for r in rows:
        for kind in ("errors", "warnings"):
            for m in r.get(kind, []):
                tag = "ERREUR" if kind == "errors" else "avertissement"
                click.echo(f"- {r['layer']} [{tag}] {m}")
        if not r.get("available", True):
            click.echo(f"- {r['layer']}: {r['reason']}")
