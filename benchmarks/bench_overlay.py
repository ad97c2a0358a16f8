"""Overlay benchmark: ``build_atlas`` against chained ``geopandas.overlay``.

Not a test (``make bench``). On the whole province, layers ``regions, mrc, rss,
rls, css, cs_anglo`` at source resolution (read with
:func:`geodecoupage.layers.read_layer`), in the same run:

1. ``build_atlas`` with its defaults (snapping, slivers merged);
2. the chain ``geopandas.overlay(how="intersection")`` over the same layers, as
   read and after the same snapping (:func:`geodecoupage.overlay._engine.snap`);
3. the areas per code tuple of (2) against an atlas built on the same snapped
   layers with slivers kept (``min_area_m2=0, sliver_width_m=0``);
4. a pairwise crosswalk (``mrc`` x ``css``) against ``tobler`` and ``maup``
   area tables when they are installed (benchmark-only tools, not dependencies).

Every method runs in a fresh process, one after the other, so each peak
resident memory (``ru_maxrss``) is its own and the timings do not share caches.
Wall-clock and CPU seconds are both printed: CPU time (all threads) is the fairer
figure on a shared machine, wall time is what a user waits.

Usage::

    .venv/bin/python benchmarks/bench_overlay.py [--layers regions,mrc,...]
        [--pair mrc,css] [--skip-chain] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import shapely

LAYERS = ("regions", "mrc", "rss", "rls", "css", "cs_anglo")
PAIR = ("rls", "css")
SNAP_M = float(os.environ.get("BENCH_SNAP_M", "1.0"))


# -- children (each runs in its own process) ----------------------------------------


def _load(keys: tuple[str, ...]) -> dict[str, Any]:
    from geodecoupage.layers import read_layer

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {k: read_layer(k) for k in keys}


def _snapped(layers: dict[str, Any]) -> dict[str, Any]:
    """The layers snapped exactly as build_atlas snaps them (same grid, same rule)."""
    from geodecoupage.overlay._engine import snap

    out = {}
    for key, gdf in layers.items():
        g = gdf[["geometry"]].copy()
        g["geometry"] = snap(g.geometry.values, SNAP_M)
        out[key] = g
    return out


def _tuple_key(codes: Any) -> str:
    return "|".join(map(str, codes))


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def _child_atlas(keys: tuple[str, ...], exact: bool) -> dict[str, Any]:
    from geodecoupage.overlay import build_atlas

    layers = _load(keys)
    if exact:
        layers = _snapped(layers)
    base = _rss_mib()
    kwargs: dict[str, Any] = {"snap_m": SNAP_M}
    if exact:
        kwargs.update(min_area_m2=0.0, sliver_width_m=0.0)
    atlas, wall, cpu = _timed(lambda: build_atlas(layers, **kwargs))
    peak = _rss_mib()
    atoms = atlas.atoms
    areas: dict[str, float] = {}
    planar: dict[str, float] = {}
    if exact:
        full = atoms[list(keys)].notna().all(axis=1)
        sub = atoms.loc[full]
        for codes, a, g in zip(
            sub[list(keys)].itertuples(index=False),
            sub["area_m2"],
            sub.geometry.area,
            strict=True,
        ):
            areas[_tuple_key(codes)] = float(a)
            planar[_tuple_key(codes)] = float(g)
    p = atlas.params
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_base": base,
        "rss_peak": peak,
        "atoms": len(atoms),
        "areas": areas,
        "planar": planar,
        "params": {
            k: p[k]
            for k in (
                "n_faces",
                "n_atoms_before_slivers",
                "n_atoms",
                "n_pieces",
                "n_slivers",
                "sliver_area_m2",
                "n_slivers_isolated",
                "sliver_area_isolated_m2",
                "total_area_m2",
                "kernel",
            )
        },
    }


def _child_chain(keys: tuple[str, ...], snapped: bool = True) -> dict[str, Any]:
    import geopandas as gpd

    from geodecoupage.crs import area_m2

    layers = _load(keys)
    if snapped:
        layers = _snapped(layers)
    else:
        layers = {k: g[["geometry"]] for k, g in layers.items()}
    frames = [
        gpd.GeoDataFrame(
            {k: g.index.astype(str)}, geometry=g.geometry.values, crs=g.crs
        )
        for k, g in layers.items()
    ]
    base = _rss_mib()

    def chain() -> Any:
        acc = frames[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for nxt in frames[1:]:
                acc = gpd.overlay(acc, nxt, how="intersection", keep_geom_type=True)
        return acc

    out, wall, cpu = _timed(chain)
    peak = _rss_mib()
    if not snapped:
        return {"wall": wall, "cpu": cpu, "rss_base": base, "rss_peak": peak}
    out["area_m2"] = area_m2(out.geometry)
    out["planar"] = out.geometry.area
    out["overlap"] = _overlap_area(out.geometry.values, layers)
    sums = out.groupby(list(keys))[["area_m2", "planar", "overlap"]].sum()
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_base": base,
        "rss_peak": peak,
        "rows": len(out),
        "areas": {_tuple_key(k): float(v) for k, v in sums["area_m2"].items()},
        "planar": {_tuple_key(k): float(v) for k, v in sums["planar"].items()},
        "overlap": {_tuple_key(k): float(v) for k, v in sums["overlap"].items()},
        "self_overlap_m2": {
            k: float(shapely.area(_overlap_zone(g.geometry.values)))
            for k, g in layers.items()
        },
    }


def _overlap_zone(geoms: Any) -> Any:
    """Union of the areas where two units of one layer overlap."""
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="overlaps")
    keep = i < j
    if not keep.any():
        return shapely.Polygon()
    return shapely.union_all(shapely.intersection(geoms[i[keep]], geoms[j[keep]]))


def _overlap_area(pieces: Any, layers: dict[str, Any]) -> Any:
    """Area of each piece lying where units of some layer overlap each other.

    Chained overlay counts such places once per overlapping unit, the atlas once
    (the first unit keeps it): tuples touching them are compared apart.
    """
    import numpy as np

    zones = np.concatenate(
        [shapely.get_parts(_overlap_zone(g.geometry.values)) for g in layers.values()]
    )
    out = np.zeros(len(pieces))
    if len(zones) == 0:
        return out
    i, j = shapely.STRtree(zones).query(pieces, predicate="intersects")
    np.add.at(out, i, shapely.area(shapely.intersection(pieces[i], zones[j])))
    return out


def _child_reference_pair(pair: tuple[str, str]) -> dict[str, Any]:
    """Planar areas per tuple from robust pairwise intersections (1 mm snap-rounding),
    from geopandas.overlay, and from the atlas, on the same snapped layers."""
    import geopandas as gpd

    from geodecoupage.overlay import build_atlas

    layers = _snapped(_load(pair))
    a, b = (layers[k] for k in pair)
    ga, gb = a.geometry.values, b.geometry.values
    i, j = shapely.STRtree(gb).query(ga, predicate="intersects")
    robust = shapely.area(shapely.intersection(ga[i], gb[j], grid_size=1e-3))
    ref = {
        _tuple_key((a.index[x], b.index[y])): float(v)
        for x, y, v in zip(i, j, robust, strict=True)
        if v > 0
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ov = gpd.overlay(
            gpd.GeoDataFrame({pair[0]: a.index.astype(str)}, geometry=ga, crs=a.crs),
            gpd.GeoDataFrame({pair[1]: b.index.astype(str)}, geometry=gb, crs=b.crs),
            how="intersection",
            keep_geom_type=True,
        )
    ov["planar"] = ov.geometry.area
    overlay = {
        _tuple_key(k): float(v)
        for k, v in ov.groupby(list(pair))["planar"].sum().items()
    }
    atlas = build_atlas(layers, snap_m=SNAP_M, min_area_m2=0.0, sliver_width_m=0.0)
    full = atlas.atoms[list(pair)].notna().all(axis=1)
    sub = atlas.atoms.loc[full]
    mine = {
        _tuple_key(c): float(g)
        for c, g in zip(
            sub[list(pair)].itertuples(index=False), sub.geometry.area, strict=True
        )
    }
    return {"robust": ref, "overlay": overlay, "atlas": mine}


def _child_pair(tool: str, pair: tuple[str, str]) -> dict[str, Any]:
    layers = _load(pair)
    src, tgt = (layers[k] for k in pair)
    base = _rss_mib()
    if tool == "atlas":
        from geodecoupage.overlay import build_atlas

        def run() -> Any:
            return build_atlas(dict(layers)).crosswalk(*pair)

    elif tool == "tobler":
        from tobler.area_weighted.area_interpolate import _area_tables_binning

        def run() -> Any:
            return _area_tables_binning(src, tgt, "auto")

    elif tool == "maup":
        import maup

        def run() -> Any:
            inter = maup.intersections(src, tgt, area_cutoff=0)
            return inter.area

    else:  # pragma: no cover
        raise ValueError(tool)
    out, wall, cpu = _timed(run)
    n = int(out.nnz) if hasattr(out, "nnz") else len(out)
    return {
        "wall": wall,
        "cpu": cpu,
        "rss_base": base,
        "rss_peak": _rss_mib(),
        "rows": n,
    }


def _in_child(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


# -- report --------------------------------------------------------------------------


def _agreement(
    atlas: dict[str, float], ref: dict[str, float], skip: set[str] | None = None
) -> dict[str, Any]:
    """Per-tuple relative differences of *atlas* against *ref*."""
    import numpy as np

    skip = skip or set()
    both = sorted((set(atlas) & set(ref)) - skip)
    a = np.array([atlas[k] for k in both])
    c = np.array([ref[k] for k in both])
    rel = np.abs(a - c) / np.maximum(c, 1e-300)
    only_ref = sorted(set(ref) - set(atlas) - skip)
    only_atlas = sorted(set(atlas) - set(ref) - skip)
    big = c >= 1e6  # tuples of at least 1 km²
    nan = float("nan")
    return {
        "tuples_both": len(both),
        "only_ref": len(only_ref),
        "only_ref_area_m2": float(sum(ref[k] for k in only_ref)),
        "only_atlas": len(only_atlas),
        "only_atlas_area_m2": float(sum(atlas[k] for k in only_atlas)),
        "within_1e-6": float(np.mean(rel <= 1e-6)) if len(rel) else nan,
        "within_1e-6_area": float(c[rel <= 1e-6].sum() / c.sum()) if len(c) else nan,
        "rel_median": float(np.median(rel)) if len(rel) else nan,
        "rel_median_ge_1km2": float(np.median(rel[big])) if big.any() else nan,
        "rel_max_ge_1km2": float(rel[big].max()) if big.any() else nan,
        "abs_max_m2": float(np.abs(a - c).max()) if len(a) else nan,
        "total_rel": float(abs(a.sum() - c.sum()) / c.sum()) if len(c) else nan,
    }


def _fmt_agree(name: str, ag: dict[str, Any]) -> str:
    return (
        f"  {name}: {ag['tuples_both']} tuples in both (only in reference "
        f"{ag['only_ref']}: {ag['only_ref_area_m2']:,.0f} m²; only in atlas "
        f"{ag['only_atlas']}: {ag['only_atlas_area_m2']:,.0f} m²)\n"
        f"      within 1e-6: {ag['within_1e-6']:.1%} of tuples, "
        f"{ag['within_1e-6_area']:.2%} of the area; median rel "
        f"{ag['rel_median']:.1e}; tuples >= 1 km²: median "
        f"{ag['rel_median_ge_1km2']:.1e}, max {ag['rel_max_ge_1km2']:.1e}; "
        f"total rel {ag['total_rel']:.1e}"
    )


def _fmt_run(name: str, r: dict[str, Any]) -> str:
    return (
        f"  {name:<34} wall {r['wall']:7.2f} s   cpu {r['cpu']:7.2f} s   "
        f"peak RSS {r['rss_peak']:7.0f} MiB (+{r['rss_peak'] - r['rss_base']:.0f})"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("--pair", default=",".join(PAIR))
    parser.add_argument("--skip-chain", action="store_true")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    keys = tuple(k.strip() for k in args.layers.split(",") if k.strip())
    pair = tuple(k.strip() for k in args.pair.split(","))
    if len(pair) != 2:
        parser.error("--pair takes two layer keys, e.g. mrc,css")

    import shapely

    layers = _load(keys)
    print(f"geodecoupage overlay benchmark - layers: {', '.join(keys)}")
    for k, g in layers.items():
        n = int(shapely.get_num_coordinates(g.geometry.values).sum())
        print(f"  {k:<10} {len(g):5d} units {n:9,d} vertices")
    del layers

    report: dict[str, Any] = {"layers": keys, "pair": pair, "snap_m": SNAP_M}
    print("\n[1] N-layer overlay (each in a fresh process)")
    atlas = _in_child(_child_atlas, keys, False)
    report["atlas"] = atlas
    print(_fmt_run("build_atlas (defaults)", atlas))
    if not args.skip_chain:
        raw = _in_child(_child_chain, keys, False)
        report["chain_raw"] = raw
        print(_fmt_run("chained geopandas.overlay", raw))
        chain = _in_child(_child_chain, keys, True)
        report["chain"] = chain
        print(_fmt_run("  same, on the snapped layers", chain))
        for name, ref in (("chained", raw), ("chained (snapped)", chain)):
            print(
                f"  ratio {name}/atlas: wall {ref['wall'] / atlas['wall']:.1f}x, "
                f"cpu {ref['cpu'] / atlas['cpu']:.1f}x"
            )
        exact = _in_child(_child_atlas, keys, True)
        report["atlas_exact"] = exact
        print(_fmt_run("build_atlas (snapped input, no sliver rule)", exact))
        dirty = {k for k, v in chain["overlap"].items() if v > 0}
        agree = _agreement(exact["planar"], chain["planar"])
        clean = _agreement(exact["planar"], chain["planar"], skip=dirty)
        report["agreement"] = {"all": agree, "no_self_overlap": clean}
        print(
            "\n[2] planar area per code tuple (all layers present), atlas vs chain "
            "on the same snapped layers"
        )
        overl = ", ".join(
            f"{k} {v / 1e6:.1f} km²" for k, v in chain["self_overlap_m2"].items() if v
        )
        print(f"  units overlapping inside a layer: {overl or 'none'}")
        print(_fmt_agree("all tuples", agree))
        print(
            _fmt_agree(
                f"tuples away from those overlaps ({len(dirty)} left out)", clean
            )
        )
        ref = _in_child(_child_reference_pair, pair)
        r_atlas = _agreement(ref["atlas"], ref["robust"])
        r_overlay = _agreement(ref["overlay"], ref["robust"])
        report["reference_pair"] = {"atlas": r_atlas, "overlay": r_overlay}
        print(
            f"  independent check on {pair[0]} x {pair[1]}: pairwise "
            f"shapely.intersection(grid_size=1e-3) as reference"
        )
        print(_fmt_agree("atlas", r_atlas))
        print(_fmt_agree("geopandas.overlay", r_overlay))
    p = atlas["params"]
    print("\n[3] slivers (defaults)")
    print(
        f"  faces {p['n_faces']:,}, pieces {p['n_pieces']:,}, atoms "
        f"{p['n_atoms_before_slivers']:,} -> {p['n_atoms']:,}; slivers "
        f"{p['n_slivers']:,} ({p['sliver_area_m2'] / 1e6:,.1f} km², "
        f"{p['sliver_area_m2'] / p['total_area_m2']:.3%} of the area), of which "
        f"{p['n_slivers_isolated']:,} kept "
        f"({p['sliver_area_isolated_m2'] / 1e6:,.2f} km²)"
    )

    print(f"\n[4] pairwise crosswalk {pair[0]} x {pair[1]}")
    pairs: dict[str, Any] = {}
    for tool in ("atlas", "tobler", "maup"):
        try:
            pairs[tool] = _in_child(_child_pair, tool, pair)
        except ImportError as err:
            print(f"  {tool}: not installed ({err}); skipped")
            continue
        print(_fmt_run(tool, pairs[tool]))
    report["pairwise"] = pairs
    for tool in ("tobler", "maup"):
        if tool in pairs:
            r, mine = pairs[tool], pairs["atlas"]
            print(
                f"  ratio {tool}/atlas: wall {r['wall'] / mine['wall']:.1f}x, "
                f"cpu {r['cpu'] / mine['cpu']:.1f}x"
            )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(
                {
                    k: v
                    for k, v in report.items()
                    if k not in ("atlas_exact",) or not isinstance(v, dict)
                },
                fh,
                indent=1,
                default=str,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
