"""``geodecoupage propose``: envelopes, reassignment scenarios, regionalisation.

A thin shell over :mod:`geodecoupage.grouping`: read the layers, build the atlas
(with the census population surface when available), run one proposer and write
its tables and GeoPackage into the ``-o`` folder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
import pandas as pd

from geodecoupage.cli import options
from geodecoupage.reports.inputs import read_layers, read_population

logger = logging.getLogger(__name__)

ENVELOPE_FILES = (
    "envelopes.gpkg",
    "envelopes.csv",
    "envelopes_links.csv",
    "envelopes_summary.txt",
)
REASSIGN_FILES = (
    "reassign_proposals.csv",
    "reassign_scores.csv",
    "reassign_populations.csv",
    "reassign_summary.txt",
    "reassign_moved.gpkg",
)
REGION_FILES = (
    "regions.gpkg",
    "regions.csv",
    "regions_scores.csv",
    "regions_summary.txt",
)


class _Setup:
    """Layers read, restricted to a region, and the atlas built on them."""

    def __init__(
        self,
        *,
        base: str,
        layers: tuple[str, ...],
        extra: Sequence[str],
        region: str | None,
        data_dir: Path | None,
        min_area_m2: float | None,
        population: bool,
    ) -> None:
        from geodecoupage.overlay.atlas import build_atlas

        keys = list(dict.fromkeys([base, *layers, *extra]))
        read_keys = list(keys)
        if region is not None and "mrc" not in read_keys:
            read_keys.append("mrc")
        data = read_layers(read_keys, data_dir)
        self.base_layer = data[base]
        self.units: list[str] | None = None
        kwargs: dict[str, Any] = {}
        if region is not None:
            from geodecoupage.metrics.region import select_region

            sel = select_region(data, region=region)
            data = {k: v for k, v in sel.layers.items() if k in keys}
            kwargs["land"] = sel.land  # the selected RLS alone leave out land
            self.units = _units_of_region(data[base], base, region, sel.mrc_codes)
            logger.info(
                "Region %s: %d %s units to group.", region, len(self.units), base
            )
        else:
            data = {k: v for k, v in data.items() if k in keys}
        if min_area_m2 is not None:
            kwargs["min_area_m2"] = min_area_m2
        if population:
            surface = read_population(data_dir)
            if surface is not None:
                kwargs["population"] = surface
        self.atlas = build_atlas(data, **kwargs)
        self.names = {str(c): str(n) for c, n in data[base]["nom"].items()}
        self.geometry = data[base].geometry


def _units_of_region(
    base_layer: Any, base: str, region: str, mrc_codes: Sequence[str]
) -> list[str]:
    """Base units of the region: by ``regions_code``, else by ``mrc_code``."""
    if "regions_code" in base_layer.columns:
        mask = base_layer["regions_code"].astype(str) == str(region)
    elif "mrc_code" in base_layer.columns:
        mask = base_layer["mrc_code"].astype(str).isin([str(c) for c in mrc_codes])
    elif base == "mrc":
        mask = base_layer.index.astype(str).isin([str(c) for c in mrc_codes])
    else:
        msg = (
            f"--region needs a base layer with a regions_code or mrc_code column; "
            f"{base!r} has neither. Use --base municipalites or --base mrc."
        )
        raise click.UsageError(msg)
    return sorted(str(c) for c in base_layer.index[mask.to_numpy()])


def _check_outputs(output: Path | None, names: Sequence[str], overwrite: bool) -> None:
    if output is None or overwrite:
        return
    from geodecoupage._io import check_writable

    for name in names:  # refuse before the (long) computation, not after
        check_writable(output / name, overwrite=False)


def _named(table: pd.DataFrame, names: dict[str, str], col: str) -> pd.DataFrame:
    out = table.copy()
    if col in out.columns:
        out.insert(
            list(out.columns).index(col) + 1,
            "nom",
            out[col].astype(str).map(names).fillna(""),
        )
    return out


def _write_csv(path: Path, table: pd.DataFrame, overwrite: bool) -> None:
    from geodecoupage._io import atomic_path

    with atomic_path(path, overwrite=overwrite) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")


def _emit(summary: dict[str, Any], text: str, output: Path | None) -> None:
    if output is None:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2, sort_keys=True))
        click.echo(text, err=True)
    else:
        click.echo(text)


def _common(f: Any) -> Any:
    for deco in reversed(
        (
            options.data_dir,
            options.layers,
            click.option(
                "--base",
                default="municipalites",
                show_default=True,
                type=click.Choice(list(options.LAYER_KEYS)),
                help="Base layer whose units are grouped or moved.",
            ),
            options.region,
            options.threshold,
            click.option(
                "--weight",
                type=click.Choice(["population", "area"]),
                default="population",
                show_default=True,
                help="Weight of the overlap shares.",
            ),
            options.min_area_m2,
            options.population,
            options.lang,
            options.output,
            options.overwrite,
        )
    ):
        f = deco(f)
    return f


def _need_layers(layers: tuple[str, ...] | None, base: str) -> tuple[str, ...]:
    if not layers:
        msg = "--layers is required, e.g. --layers mrc,rls,css."
        raise click.UsageError(msg)
    keys = tuple(k for k in layers if k != base)
    if not keys:
        msg = f"--layers needs at least one layer other than the base {base!r}."
        raise click.UsageError(msg)
    return keys


@click.group("propose")
def propose() -> None:
    """Propose coherent groupings: envelopes, reassignments, new regions.

    \b
    Examples:
      geodecoupage propose envelopes --layers mrc,rls,css -o out/
      geodecoupage propose reassign --layers rls,css --n 20 -o out/
      geodecoupage propose regions --layers mrc,rls,css --region 05 \\
          --floor 20000 -o out/
    """


@propose.command("envelopes")
@_common
@click.option(
    "--links",
    type=click.Choice(["pieces", "memberships"]),
    default="pieces",
    show_default=True,
    help="Overlaps a chaining cut may remove: minority pieces only, or also "
    "whole memberships.",
)
@click.option(
    "--n-cuts",
    type=click.IntRange(0),
    default=5,
    show_default=True,
    help="Chaining cuts reported per large envelope.",
)
@click.option(
    "--top",
    type=click.IntRange(0),
    default=3,
    show_default=True,
    help="Number of the most populated envelopes searched for chaining cuts.",
)
def envelopes(
    data_dir: Path | None,
    layers: tuple[str, ...] | None,
    base: str,
    region: str | None,
    threshold: float,
    weight: str,
    min_area_m2: float | None,
    population: bool,
    lang: str,
    output: Path | None,
    overwrite: bool,
    links: str,
    n_cuts: int,
    top: int,
) -> None:
    """Finest groups of base units in which every layer of --layers nests."""
    from geodecoupage.grouping import coherent_envelopes

    keys = _need_layers(layers, base)
    _check_outputs(output, ENVELOPE_FILES, overwrite)
    setup = _Setup(
        base=base,
        layers=keys,
        extra=(),
        region=region,
        data_dir=data_dir,
        min_area_m2=min_area_m2,
        population=population,
    )
    env = coherent_envelopes(
        setup.atlas,
        base=base,
        layers=list(keys),
        units=setup.units,
        threshold=threshold,
        weight=weight,  # type: ignore[arg-type]
        n_cuts=n_cuts,
        top_envelopes=top,
        links=links,  # type: ignore[arg-type]
    )
    link_table = _named(env.tables["links"], setup.names, "base")
    groups = pd.DataFrame(env.groups.drop(columns=env.groups.geometry.name))
    text = env.summary(lang) + "\n" + _links_text(link_table, lang)
    summary = {
        "command": "envelopes",
        "n_envelopes": env.n_groups,
        "largest": _records(groups.head(5).reset_index()),
        "links": _records(link_table.head(20)),
        "params": _jsonable(env.params),
    }
    if output is not None:
        env.to_file(output / "envelopes.gpkg", overwrite=overwrite)
        _write_csv(output / "envelopes.csv", groups.reset_index(), overwrite)
        _write_csv(output / "envelopes_links.csv", link_table, overwrite)
        from geodecoupage._io import write_text

        write_text(output / "envelopes_summary.txt", text + "\n", overwrite=overwrite)
    _emit(summary, text, output)


def _links_text(links: pd.DataFrame, lang: str) -> str:
    from geodecoupage.i18n import fmt_int, pick

    if links.empty:
        return pick(lang, fr="Aucun lien de chaînage.", en="No chaining link.")
    lines = [
        pick(
            lang,
            fr="Liens qui enchaînent les plus grandes enveloppes (meilleure coupe) :",
            en="Links chaining the largest envelopes (best cut):",
        )
    ]
    best = links[links["cut"] == 1]
    for group, grp in best.groupby("group", sort=True):
        first = grp.iloc[0]
        lines.append(
            f"  {group}: "
            + pick(lang, fr="détache ", en="splits off ")
            + fmt_int(first["split_off_population"], lang)
            + pick(lang, fr=" pers. en déplaçant ", en=" persons by moving ")
            + fmt_int(first["moved_population"], lang)
            + pick(lang, fr=" pers. (", en=" persons (")
            + ", ".join(
                f"{r['base']} {r['nom']} ↔ {r['layer']} {r['unit']}"
                for _, r in grp.iterrows()
            )
            + ")"
        )
    return "\n".join(lines)


@propose.command("reassign")
@_common
@click.option(
    "--n",
    "n_moves",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="Apply the N best admissible proposals.",
)
@click.option(
    "--max-change",
    type=click.FloatRange(0.0),
    default=None,
    help="Keep every institution's population within ±this share (e.g. 0.05).",
)
@click.option(
    "--cross-regions/--same-region",
    default=False,
    show_default=True,
    help="Allow moves into an institution of another administrative region.",
)
@click.option(
    "--min-population",
    type=click.FloatRange(0.0),
    default=1.0,
    show_default=True,
    help="Base units with fewer inhabitants (water TNO...) rank last.",
)
def reassign_cmd(
    data_dir: Path | None,
    layers: tuple[str, ...] | None,
    base: str,
    region: str | None,
    threshold: float,
    weight: str,
    min_area_m2: float | None,
    population: bool,
    lang: str,
    output: Path | None,
    overwrite: bool,
    n_moves: int,
    max_change: float | None,
    cross_regions: bool,
    min_population: float,
) -> None:
    """Move split base units wholly into their dominant institution, and rescore."""
    from geodecoupage.grouping import reassign
    from geodecoupage.grouping.reassign import moved_units

    keys = _need_layers(layers, base)
    _check_outputs(output, REASSIGN_FILES, overwrite)
    extra = () if cross_regions or "regions" in keys else ("regions",)
    setup = _Setup(
        base=base,
        layers=keys,
        extra=extra,
        region=region,
        data_dir=data_dir,
        min_area_m2=min_area_m2,
        population=population,
    )
    sc = reassign(
        setup.atlas,
        base=base,
        layers=list(keys),
        units=setup.units,
        n=n_moves,
        threshold=threshold,
        weight=weight,  # type: ignore[arg-type]
        region_layer=None if cross_regions else "regions",
        same_region=not cross_regions,
        max_population_change=max_change,
        parents=pd.DataFrame(setup.base_layer.drop(columns="geometry")),
        min_population=min_population,
    )
    proposals = _named(sc.proposals, setup.names, "base")
    applied = proposals[proposals["status"] == "applied"]
    text = sc.summary(lang) + "\n" + _moves_text(applied, lang)
    summary = {
        "command": "reassign",
        "n_proposals": len(proposals),
        "applied": _records(applied),
        "scores": _records(sc.scores),
        "params": _jsonable(sc.params),
    }
    if output is not None:
        _write_csv(output / "reassign_proposals.csv", proposals, overwrite)
        _write_csv(output / "reassign_scores.csv", sc.scores, overwrite)
        _write_csv(
            output / "reassign_populations.csv", sc.populations.reset_index(), overwrite
        )
        from geodecoupage._io import atomic_path, write_text

        write_text(output / "reassign_summary.txt", text + "\n", overwrite=overwrite)
        moved = moved_units(sc, setup.geometry)
        moved.insert(2, "nom", moved["base"].astype(str).map(setup.names).fillna(""))
        with atomic_path(output / "reassign_moved.gpkg", overwrite=overwrite) as tmp:
            moved.to_file(tmp, layer="moved", driver="GPKG")
    _emit(summary, text, output)


def _moves_text(applied: pd.DataFrame, lang: str) -> str:
    from geodecoupage.i18n import fmt_int, pick

    lines = [pick(lang, fr="Réaffectations appliquées :", en="Applied reassignments:")]
    for _, r in applied.head(20).iterrows():
        official = r.get("official_unit")
        note = ""
        if isinstance(official, str) and official:
            note = (
                pick(lang, fr=" (unité officielle)", en=" (official unit)")
                if official == r["to_unit"]
                else pick(
                    lang,
                    fr=f" (unité officielle : {official})",
                    en=f" (official unit: {official})",
                )
            )
        lines.append(
            f"  {int(r['rank']):>3}. {r['base']} {r['nom']} — {r['layer']} "
            f"{r['from_units']} → {r['to_unit']} : "
            + fmt_int(r["persons_moved"], lang)
            + pick(lang, fr=" pers.", en=" persons")
            + f", −{int(r['incoherence_removed'])}"
            + note
        )
    return "\n".join(lines)


@propose.command("regions")
@_common
@click.option(
    "--floor",
    type=click.FloatRange(0.0),
    required=True,
    help="Minimum population of a group.",
)
@click.option(
    "--n-groups",
    type=click.IntRange(1),
    default=None,
    help="Exact number of groups (default: as many as the floor allows).",
)
@click.option(
    "--balance",
    type=click.FloatRange(0.0),
    default=0.0,
    show_default=True,
    help="Weight of the population-balance penalty.",
)
@click.option(
    "--method",
    type=click.Choice(["local", "maxp", "azp", "skater"]),
    default="local",
    show_default=True,
    help="Solver (maxp/azp/skater need the 'grouping' extra).",
)
@click.option(
    "--islands",
    type=click.Choice(["nearest", "keep"]),
    default="nearest",
    show_default=True,
    help="Join islands to their nearest unit, or keep them apart.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--reference",
    default="mrc",
    show_default=True,
    help="Existing grouping compared with the proposal (a layer key, or 'none').",
)
def regions_cmd(
    data_dir: Path | None,
    layers: tuple[str, ...] | None,
    base: str,
    region: str | None,
    threshold: float,
    weight: str,
    min_area_m2: float | None,
    population: bool,
    lang: str,
    output: Path | None,
    overwrite: bool,
    floor: float,
    n_groups: int | None,
    balance: float,
    method: str,
    islands: str,
    seed: int,
    reference: str,
) -> None:
    """Contiguous groups above --floor that straddle few institutional units."""
    from geodecoupage.grouping.regionalise import compare_groupings, regionalise

    keys = _need_layers(layers, base)
    _check_outputs(output, REGION_FILES, overwrite)
    ref = None if reference == "none" else reference
    if ref is not None and ref not in options.LAYER_KEYS:
        msg = f"--reference: unknown layer {ref!r}; use a layer key or 'none'."
        raise click.UsageError(msg)
    extra = (ref,) if ref is not None and ref not in keys and ref != base else ()
    setup = _Setup(
        base=base,
        layers=keys,
        extra=extra,
        region=region,
        data_dir=data_dir,
        min_area_m2=min_area_m2,
        population=population,
    )
    prop = regionalise(
        setup.atlas,
        floor=floor,
        base=base,
        layers=list(keys),
        units=setup.units,
        n_groups=n_groups,
        balance=balance,
        threshold=threshold,
        weight=weight,  # type: ignore[arg-type]
        islands=islands,  # type: ignore[arg-type]
        method=method,  # type: ignore[arg-type]
        seed=seed,
    )
    scores = compare_groupings(
        setup.atlas, prop, reference=ref, layers=list(keys), threshold=threshold
    )
    groups = pd.DataFrame(prop.groups.drop(columns=prop.groups.geometry.name))
    text = prop.summary(lang) + "\n" + _scores_text(scores, lang)
    summary = {
        "command": "regions",
        "n_groups": prop.n_groups,
        "objective": prop.objective,
        "groups": _records(groups.reset_index()),
        "scores": _records(scores),
        "params": _jsonable(prop.params),
    }
    if output is not None:
        prop.to_file(output / "regions.gpkg", overwrite=overwrite)
        members = _named(prop.to_frame().reset_index(), setup.names, "code")
        _write_csv(output / "regions.csv", members, overwrite)
        _write_csv(output / "regions_scores.csv", scores, overwrite)
        from geodecoupage._io import write_text

        write_text(output / "regions_summary.txt", text + "\n", overwrite=overwrite)
    _emit(summary, text, output)


def _scores_text(scores: pd.DataFrame, lang: str) -> str:
    from geodecoupage.i18n import fmt_float, fmt_int, pick

    if scores.empty:
        return ""
    lines = [
        pick(
            lang,
            fr="Avant (regroupement de référence) → après (proposition) :",
            en="Before (reference grouping) → after (proposal):",
        )
    ]
    show = scores[
        scores["metric"].isin(
            ["straddles", "n_groups", "min_population", "nesting_index_pop"]
        )
    ]
    for _, r in show.iterrows():
        if r["metric"] == "nesting_index_pop":
            before = fmt_float(r["before"], 3, lang)
            after = fmt_float(r["after"], 3, lang)
        else:
            before = "—" if pd.isna(r["before"]) else fmt_int(r["before"], lang)
            after = fmt_int(r["after"], lang)
        lines.append(f"  {r['layer']:<8} {r['metric']:<18} {before} → {after}")
    return "\n".join(lines)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(table.to_json(orient="records", force_ascii=False))


def _jsonable(params: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dict(params), default=str))
