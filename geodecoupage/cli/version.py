"""``geodecoupage version``: the versions a bug report needs."""

from __future__ import annotations

import json
import platform
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from pathlib import Path

import click

from geodecoupage.cli import options

#: Distributions whose versions change results or output (geometry, CRS, I/O, CLI).
DEPENDENCIES: tuple[str, ...] = (
    "geopandas",
    "shapely",
    "pyproj",
    "pyogrio",
    "pandas",
    "numpy",
    "click",
    "folium",
)


def _dist_version(name: str) -> str | None:
    try:
        return _version(name)
    except PackageNotFoundError:
        return None


def versions(data_dir: Path | None = None) -> dict[str, object]:
    """Return the package, Python, dependency and GEOS/PROJ versions, and the
    data directory in use (as :func:`~geodecoupage.layers.resolve_data_dir` finds it).
    """
    import pyproj
    import shapely

    from geodecoupage.layers import resolve_data_dir

    deps = {name: _dist_version(name) for name in DEPENDENCIES}
    return {
        "geodecoupage": _version("geodecoupage"),
        "python": platform.python_version(),
        "dependencies": deps,
        "geos": shapely.geos_version_string,
        "proj": pyproj.proj_version_str,
        "data_dir": str(resolve_data_dir(data_dir)),
    }


@click.command("version")
@options.data_dir
@options.fmt("text", "json")
def version(data_dir: Path | None, fmt: str) -> None:
    """Print the version of geodecoupage and of what it runs on.

    Lists Python, the geometry and I/O libraries (with GEOS and PROJ) and the
    data directory in use: paste it into a bug report. ``--version`` prints the
    package version only.

    \b
    Examples:
      geodecoupage version
      geodecoupage version --format json | jq -r .geos
    """
    info = versions(data_dir)
    if fmt == "json":
        click.echo(json.dumps(info, ensure_ascii=False, indent=2, sort_keys=True))
        return
    lines = [
        f"geodecoupage {info['geodecoupage']}",
        f"python       {info['python']}",
    ]
    for name in DEPENDENCIES:
        ver = _dist_version(name)
        lines.append(f"{name:<12} {ver or '(not installed)'}")
    lines += [
        f"{'GEOS':<12} {info['geos']}",
        f"{'PROJ':<12} {info['proj']}",
        f"{'data dir':<12} {info['data_dir']}",
    ]
    click.echo("\n".join(lines))
