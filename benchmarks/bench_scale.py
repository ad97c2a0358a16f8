"""Scaling benchmark: local and Dask atlas engines from 10³ to 10⁵ (10⁶) polygons.

Not a test (``make bench-scale``). For each size ``n`` the synthetic generator
(:func:`geodecoupage.datasets.synthetic.synthetic_layers`, seed 0, a base layer
of ``n`` Voronoi cells and three grouped layers, default parameters) makes the
four layers, and each engine builds their atlas:

* ``local``: :func:`geodecoupage.overlay.build_atlas` with its defaults (the
  kernel in one thread, see ``_engine.default_workers``);
* ``dask``: ``build_atlas(layers, engine="dask", scheduler=client)`` on a
  ``LocalCluster`` of ``--workers`` worker *processes* (one thread each), the
  cluster started and warmed up (one small atlas: imports and projection
  set-up in the workers) before the clock starts, closed after it stops.

Every (engine, size) runs in a fresh Python process, so its peak memory is its
own. Peak memory is ``ru_maxrss`` (peak resident set size): of the benchmark
process itself (``RUSAGE_SELF``: layers, client side of the engine, result),
and for dask also of each worker process, read inside the workers with
``Client.run`` just before the cluster closes (the table shows the largest
worker and the sum over workers; the machine's peak is at most client + sum).
Generation is not timed and its memory is included in the client peak (the
layers must be in memory for both engines). CPU seconds are user + system time
of all threads, for dask of the client *and* the workers (read with
``Client.run`` before and after): on a shared machine they are the fairer
measure of cost, wall time is what a user waits.

Then it prints the table, the scaling exponent of each engine (least squares
slope of log time on log n), the dask/local time ratio at each size, checks
that both engines gave the same atoms (same code tuples, bit-identical areas,
same outlines' vertex counts) and writes a plot to
``benchmarks/results/bench_scale.png`` (git-ignored), atomically.

Usage::

    .venv/bin/python benchmarks/bench_scale.py [--sizes 1000 10000 100000]
        [--million] [--workers 2] [--npartitions N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (1_000, 10_000, 100_000)
TARGET_EXPONENT = 1.15


# -- child: one engine at one size ------------------------------------------------


def _cpu_seconds() -> float:
    """User + system CPU time of the calling process (all its threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return float(ru.ru_utime + ru.ru_stime)


def _child(
    engine: str, n: int, workers: int, npartitions: int | None, dump: str
) -> dict[str, Any]:
    import numpy as np

    from geodecoupage.datasets.synthetic import synthetic_layers
    from geodecoupage.overlay import build_atlas

    layers = synthetic_layers(n, seed=0)
    n_vertices = int(
        sum(int(g.geometry.count_coordinates().sum()) for g in layers.values())
    )
    rss_layers = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    worker_peaks: list[float] = []
    worker_cpu = 0.0
    if engine == "local":
        wall, cpu = time.perf_counter(), time.process_time()
        atlas = build_atlas(layers)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                memory_limit=0,
            ) as cluster,
            Client(cluster) as client,
        ):
            # warm the workers (imports, projection set-up): a long-lived
            # cluster pays this once, not per atlas
            build_atlas(synthetic_layers(100, seed=1), engine="dask", scheduler=client)
            before = client.run(_cpu_seconds)
            wall, cpu = time.perf_counter(), time.process_time()
            atlas = build_atlas(
                layers, engine="dask", scheduler=client, npartitions=npartitions
            )
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            after = client.run(_cpu_seconds)
            worker_cpu = sum(after[w] - before[w] for w in after)
            peaks = client.run(
                lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
            )
            worker_peaks = [float(v) for v in peaks.values()]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    atoms = atlas.atoms
    keys = list(atlas.layers)
    codes = atoms[keys].astype(object).where(atoms[keys].notna(), "").astype(str)
    np.savez(
        dump,
        codes=codes.agg("|".join, axis=1).to_numpy(dtype=str),
        area=atoms["area_m2"].to_numpy(),
        nverts=atoms.geometry.count_coordinates().to_numpy(),
    )
    kernel = atlas.params.get("kernel", {})
    return {
        "engine": engine,
        "n": n,
        "wall_s": wall,
        "cpu_s": cpu + worker_cpu,
        "cpu_client_s": cpu,
        "rss_client_mib": rss,
        "rss_layers_mib": rss_layers,
        "rss_worker_max_mib": max(worker_peaks) if worker_peaks else None,
        "rss_worker_sum_mib": sum(worker_peaks) if worker_peaks else None,
        "atoms": len(atoms),
        "vertices": n_vertices,
        "faces": kernel.get("faces") if isinstance(kernel, dict) else None,
        "partitions": kernel.get("partitions") if isinstance(kernel, dict) else None,
        "seconds": kernel.get("seconds") if isinstance(kernel, dict) else None,
    }


# -- parent --------------------------------------------------------------------


def _run(engine: str, n: int, args: argparse.Namespace, dump: str) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        engine,
        str(n),
        "--workers",
        str(args.workers),
        "--dump",
        dump,
    ]
    if args.npartitions:
        cmd += ["--npartitions", str(args.npartitions)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        msg = f"{engine} at n={n} failed (exit {out.returncode})"
        raise RuntimeError(msg)
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def _same(a: str, b: str) -> tuple[bool, float]:
    import numpy as np

    x, y = np.load(a), np.load(b)
    if len(x["codes"]) != len(y["codes"]) or not (x["codes"] == y["codes"]).all():
        return False, float("inf")
    rel = float(np.max(np.abs(x["area"] - y["area"]) / np.maximum(x["area"], 1e-300)))
    # the engines share every step but the arrangement: bit-identical areas
    same = rel == 0.0 and bool((x["nverts"] == y["nverts"]).all())
    return same, rel


def _slope(ns: list[int], ts: list[float]) -> float:
    import numpy as np

    if len(ns) < 2:
        return float("nan")
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from geodecoupage._io import atomic_path

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    for engine, colour in (("local", "tab:blue"), ("dask", "tab:orange")):
        rs = [r for r in rows if r["engine"] == engine]
        if not rs:
            continue
        ns = [r["n"] for r in rs]
        ax_t.plot(ns, [r["wall_s"] for r in rs], "o-", color=colour, label=engine)
        ax_t.plot(
            ns, [r["cpu_s"] for r in rs], "s--", color=colour, label=f"{engine} CPU"
        )
        mem = [r["rss_client_mib"] + (r["rss_worker_sum_mib"] or 0.0) for r in rs]
        label = "local" if engine == "local" else "dask (client + workers)"
        ax_m.plot(ns, mem, "o-", color=colour, label=label)
        if engine == "dask":
            ax_m.plot(
                ns,
                [r["rss_client_mib"] for r in rs],
                "s--",
                color=colour,
                label="dask (client)",
            )
    for ax, title, unit in (
        (ax_t, "Temps (écoulé, CPU) / time (wall, CPU)", "s"),
        (ax_m, "Mémoire max. / peak RSS", "MiB"),
    ):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("cellules de base / base cells (n)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("geodecoupage: build_atlas, local vs dask (synthetic, 4 layers)")
    fig.tight_layout()
    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def main() -> None:
    """Run every engine at every size in its own process; print and plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", type=int, default=list(SIZES))
    parser.add_argument(
        "--million",
        action="store_true",
        help="also run 10^6 base cells (generator alone: ~150 s CPU, 7.6 GiB)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--npartitions", type=int, default=None)
    parser.add_argument("--engines", default="local,dask")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=RESULTS / "bench_scale.png")
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "N"), default=None)
    parser.add_argument("--dump", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        res = _child(
            args.child[0], int(args.child[1]), args.workers, args.npartitions, args.dump
        )
        sys.stdout.write(json.dumps(res) + "\n")
        return
    sizes = sorted(set(args.sizes) | ({1_000_000} if args.million else set()))
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    rows: list[dict[str, Any]] = []
    checks: dict[int, tuple[bool, float]] = {}
    head = (
        f"{'engine':>6} {'n':>9} {'wall s':>8} {'CPU s':>8} {'client MiB':>10} "
        f"{'worker max':>10} {'worker sum':>10} {'atoms':>8} {'parts':>5}"
    )
    sys.stdout.write(
        f"build_atlas scaling, {os.cpu_count()} CPUs, dask: {args.workers} worker "
        f"processes x 1 thread\n{head}\n"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            dumps = {}
            for engine in engines:
                dumps[engine] = str(Path(tmp) / f"{engine}-{n}.npz")
                r = _run(engine, n, args, dumps[engine])
                rows.append(r)
                wmax = r["rss_worker_max_mib"]
                wsum = r["rss_worker_sum_mib"]
                sys.stdout.write(
                    f"{engine:>6} {n:>9} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} "
                    f"{r['rss_client_mib']:>10.0f} "
                    f"{'-' if wmax is None else f'{wmax:.0f}':>10} "
                    f"{'-' if wsum is None else f'{wsum:.0f}':>10} "
                    f"{r['atoms']:>8} {r['partitions'] or '-':>5}\n"
                )
                if r.get("seconds"):
                    sys.stdout.write(f"{'':>17}dask wall split: {r['seconds']}\n")
                sys.stdout.flush()
            if "local" in dumps and "dask" in dumps:
                checks[n] = _same(dumps["local"], dumps["dask"])
    sys.stdout.write("\n")
    ok = True
    for engine in engines:
        rs = [r for r in rows if r["engine"] == engine]
        k = _slope([r["n"] for r in rs], [r["wall_s"] for r in rs])
        kc = _slope([r["n"] for r in rs], [r["cpu_s"] for r in rs])
        flag = "ok" if k <= TARGET_EXPONENT else f"above target {TARGET_EXPONENT}"
        flag_c = "ok" if kc <= TARGET_EXPONENT else f"above target {TARGET_EXPONENT}"
        sys.stdout.write(
            f"scaling exponent {engine}: wall {k:.3f} ({flag}), CPU {kc:.3f} ({flag_c})"
        )
        if len(rs) > 2:  # the two largest sizes: fixed costs matter less
            k2 = _slope([r["n"] for r in rs[-2:]], [r["wall_s"] for r in rs[-2:]])
            kc2 = _slope([r["n"] for r in rs[-2:]], [r["cpu_s"] for r in rs[-2:]])
            sys.stdout.write(
                f"; between the two largest sizes: wall {k2:.3f}, CPU {kc2:.3f}"
            )
        sys.stdout.write("\n")
    for n, (same, rel) in checks.items():
        loc = next(r for r in rows if r["engine"] == "local" and r["n"] == n)
        dsk = next(r for r in rows if r["engine"] == "dask" and r["n"] == n)
        ok &= same
        sys.stdout.write(
            f"n={n}: dask/local ratio wall {dsk['wall_s'] / loc['wall_s']:.2f}, "
            f"CPU {dsk['cpu_s'] / loc['cpu_s']:.2f}; "
            f"same atoms: {'yes' if same else 'NO'} (max relative area "
            f"difference {rel:.1e})\n"
        )
    _plot(rows, args.plot)
    sys.stdout.write(f"plot: {args.plot}\n")
    if args.json:
        from geodecoupage._io import write_json

        write_json(args.json, {"rows": rows, "checks": checks}, overwrite=True)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
