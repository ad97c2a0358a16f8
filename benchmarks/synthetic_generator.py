"""Time and peak memory of :func:`geodecoupage.datasets.synthetic.synthetic_layers`.

Each size runs in a fresh Python process so that its peak resident memory
(``ru_maxrss``) is its own. Not a test: run it by hand, e.g.::

    .venv/bin/python benchmarks/synthetic_generator.py 1000 10000 100000

It prints one row per size: wall-clock and CPU seconds (CPU time is the fairer
figure on a shared machine), peak RSS (MiB), units and vertices per layer, and
whether every polygon is valid.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def _one(n: int, vertices_per_edge: int, incoherence: float) -> dict[str, object]:
    import shapely

    from geodecoupage.datasets.synthetic import synthetic_layers

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    cpu = time.process_time()
    layers = synthetic_layers(
        n, vertices_per_edge=vertices_per_edge, incoherence=incoherence, seed=0
    )
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    check = time.perf_counter()
    valid = all(bool(g.is_valid.all()) for g in layers.values())
    return {
        "n_base": n,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mib": round(peak / 1024, 1),
        "import_rss_mib": round(base_rss / 1024, 1),
        "units": {k: len(g) for k, g in layers.items()},
        "vertices": {
            k: int(shapely.get_num_coordinates(g.geometry.array).sum())
            for k, g in layers.items()
        },
        "all_valid": valid,
        "validity_check_seconds": round(time.perf_counter() - check, 2),
    }


def main() -> None:
    """Run each size in its own process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10_000, 100_000])
    parser.add_argument("--vertices-per-edge", type=int, default=8)
    parser.add_argument("--incoherence", type=float, default=0.1)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        res = _one(args.sizes[0], args.vertices_per_edge, args.incoherence)
        sys.stdout.write(json.dumps(res) + "\n")
        return
    header = (
        f"{'n_base':>9} {'seconds':>8} {'cpu s':>8} {'peak MiB':>9}  units / vertices"
    )
    sys.stdout.write(header + "\n")
    for n in args.sizes:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(n),
                "--vertices-per-edge",
                str(args.vertices_per_edge),
                "--incoherence",
                str(args.incoherence),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        res = json.loads(out.stdout)
        detail = ", ".join(
            f"{k} {res['units'][k]}/{res['vertices'][k]}" for k in res["units"]
        )
        sys.stdout.write(
            f"{n:>9} {res['seconds']:>8} {res['cpu_seconds']:>8} "
            f"{res['peak_rss_mib']:>9}  {detail}"
            f"  valid={res['all_valid']}\n"
        )


if __name__ == "__main__":
    main()
