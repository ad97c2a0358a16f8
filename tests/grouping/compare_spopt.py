"""Compare the local regionaliser with spopt on one real region (a script, not a test).

Usage (needs the real data and the ``grouping`` extra)::

    GEODECOUPAGE_DATA=../shared/data/quebec \\
        .venv/bin/python tests/grouping/compare_spopt.py --region 05 --floor 20000

For the municipalities of the region (base), the layers ``mrc,rls,css`` and the
census population surface, it runs every solver on the same tables and prints, per
solver: number of groups, straddles (the objective F with balance 0), smallest
group population, whether the floor and contiguity hold, and the run time.
``local@k`` is our solver asked for exactly the number of groups spopt's max-p
found; AZP and SKATER take that number too but have no population floor.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from geodecoupage.grouping import contiguity_graph, regionalise_tables
from geodecoupage.grouping._graph import component_labels
from geodecoupage.grouping._pieces import pieces_from_atoms
from geodecoupage.grouping.envelopes import dissolve_groups
from geodecoupage.layers import read_layer
from geodecoupage.metrics.region import select_region
from geodecoupage.overlay.atlas import build_atlas
from geodecoupage.overlay.population import population_surface


def contiguous(labels: pd.Series, edges: pd.DataFrame) -> bool:
    """True when every group is one connected piece of the contiguity graph."""
    codes = list(labels.index)
    pos = {c: k for k, c in enumerate(codes)}
    same = (
        labels.reindex(edges["a"]).to_numpy() == labels.reindex(edges["b"]).to_numpy()
    )
    comp = component_labels(
        len(codes),
        edges["a"].map(pos).to_numpy(),
        edges["b"].map(pos).to_numpy(),
        keep=same,
    )
    return bool((pd.Series(comp, index=codes).groupby(labels).nunique() == 1).all())


def main() -> None:
    """Run the comparison and print one line per solver."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--region", default="05")
    ap.add_argument("--floor", type=float, default=20000.0)
    ap.add_argument("--layers", default="mrc,rls,css")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    keys = args.layers.split(",")
    data = {k: read_layer(k) for k in ["municipalites", *keys]}
    sel = select_region(data, region=args.region)
    layers = {k: v for k, v in sel.layers.items() if k in data}
    atlas = build_atlas(layers, population=population_surface())
    munis = layers["municipalites"]
    units = sorted(munis.index[munis["regions_code"].astype(str) == args.region])
    atoms = atlas.atoms[
        atlas.atoms["municipalites"].astype("string").isin(units).fillna(False)
    ]
    pieces = pieces_from_atoms(atoms, base="municipalites", layers=keys)
    pop = atoms.groupby(atoms["municipalites"].astype(str))["population"].sum()
    geoms = dissolve_groups(
        atoms, "municipalites", pd.Series(pop.index, index=pop.index)
    )
    edges = contiguity_graph(geoms.reindex(pop.index))
    print(
        f"region {args.region}: {len(pop)} municipalities, population "
        f"{pop.sum():,.0f}, floor {args.floor:,.0f}, {len(edges)} contiguity edges "
        f"({(edges['kind'] == 'nearest').sum()} island links)"
    )
    runs = [("local", None, args.floor), ("maxp", None, args.floor)]
    results = {}
    for name, k, floor in runs:
        t = time.perf_counter()
        sol = regionalise_tables(
            pop, pieces, edges, floor=floor, n_groups=k, method=name, seed=args.seed
        )
        results[name] = (sol, time.perf_counter() - t)
    k = len(results["maxp"][0].groups)
    for name, floor in (("local", args.floor), ("azp", 0.0), ("skater", 0.0)):
        t = time.perf_counter()
        sol = regionalise_tables(
            pop, pieces, edges, floor=floor, n_groups=k, method=name, seed=args.seed
        )
        results[f"{name}@k"] = (sol, time.perf_counter() - t)
    head = f"{'solver':<10} {'groups':>6} {'straddles':>9} {'min pop':>9}"
    print(head + " floor contig  time")
    for name, (sol, dt) in results.items():
        minpop = float(sol.groups["population"].min())
        print(
            f"{name:<10} {len(sol.groups):>6} {sol.straddles:>9} {minpop:>9,.0f} "
            f"{'yes' if minpop >= args.floor else 'NO ':>5} "
            f"{'yes' if contiguous(sol.labels, edges) else 'NO ':>6} {dt:6.1f}s"
        )


if __name__ == "__main__":
    main()
