"""``build_atlas(engine=...)``: choosing the engine, without needing Dask.

The equality of the two engines is tested in ``test_dask_engine.py`` (skipped
when the ``scale`` extra is missing); here: argument errors, the message when
the extra is missing, and that nothing of Dask is imported by the package or
by the local engine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from geodecoupage.cli.main import cli
from geodecoupage.datasets.demo import demo_layers
from geodecoupage.datasets.synthetic import synthetic_layers
from geodecoupage.errors import GeodecoupageError, InvalidParameterError
from geodecoupage.overlay import build_atlas


@pytest.fixture(scope="module")
def layers() -> dict[str, Any]:
    return synthetic_layers(60, n_layers=2, seed=30)


@pytest.fixture
def no_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import distributed`` fail as it does without the scale extra."""
    monkeypatch.setitem(sys.modules, "distributed", None)


@pytest.mark.parametrize("engine", ["spark", "Dask", "", None])
def test_unknown_engine_is_refused(layers: dict[str, Any], engine: Any) -> None:
    with pytest.raises(InvalidParameterError, match="engine must be 'local' or 'dask'"):
        build_atlas(layers, engine=engine)


@pytest.mark.parametrize(
    "kwargs", [{"scheduler": "tcp://10.0.0.5:8786"}, {"npartitions": 4}]
)
def test_dask_options_are_refused_by_the_local_engine(
    layers: dict[str, Any], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(InvalidParameterError, match="engine='dask' only"):
        build_atlas(layers, **kwargs)


def test_workers_are_refused_by_the_dask_engine(layers: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError, match="workers sets the threads"):
        build_atlas(layers, engine="dask", workers=2)


@pytest.mark.usefixtures("no_dask")
def test_missing_scale_extra_names_the_install_command(
    layers: dict[str, Any],
) -> None:
    with pytest.raises(InvalidParameterError) as exc:
        build_atlas(layers, engine="dask")
    assert "pip install 'geodecoupage[scale]'" in str(exc.value)
    assert "engine='local'" in str(exc.value)
    assert isinstance(exc.value, GeodecoupageError)
    assert isinstance(exc.value.__cause__, ImportError)
    # the local engine needs nothing more
    assert len(build_atlas(layers).atoms) > 0


def build_cli(tmp_path: Path, *options: str) -> tuple[Any, Path]:
    """``atlas build --layers mrc,rls -o ... OPTIONS`` on the demo layers."""
    out = tmp_path / "atlas.gpkg"
    args = ["atlas", "build", "--layers", "mrc,rls", "-o", str(out), *options]
    return CliRunner().invoke(cli, args), out


@pytest.fixture
def demo_read_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = demo_layers()
    monkeypatch.setattr(
        "geodecoupage.layers.read_layer", lambda key, **_: demo[key].copy()
    )


@pytest.mark.usefixtures("no_dask", "demo_read_layer")
def test_cli_dask_engine_without_the_extra_is_a_clean_error(tmp_path: Path) -> None:
    res, out = build_cli(tmp_path, "--engine", "dask")
    assert res.exit_code == 1
    assert "geodecoupage[scale]" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


@pytest.mark.usefixtures("demo_read_layer")
def test_cli_unreachable_scheduler_is_a_clean_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("distributed")
    from geodecoupage.overlay import distributed as dist

    # a refused connection is retried until the timeout (10 s by default)
    monkeypatch.setattr(dist, "_cluster", lambda s: dist._Cluster(s, timeout=0.5))
    res, out = build_cli(
        tmp_path, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"
    )
    assert res.exit_code == 1
    assert "Cannot reach the Dask scheduler at 'tcp://127.0.0.1:9'" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_cli_scheduler_needs_the_dask_engine(tmp_path: Path) -> None:
    res, _ = build_cli(tmp_path, "--scheduler", "tcp://10.0.0.5:8786")
    assert res.exit_code == 2
    assert "--scheduler needs --engine dask" in res.output


def test_cli_unknown_engine_is_a_usage_error(tmp_path: Path) -> None:
    res, _ = build_cli(tmp_path, "--engine", "spark")
    assert res.exit_code == 2
    assert "'spark' is not one of 'local', 'dask'" in res.output


def test_dask_is_not_imported_by_the_package_or_the_local_engine() -> None:
    code = (
        "import sys\n"
        "import geodecoupage, geodecoupage.overlay.distributed\n"
        "from geodecoupage.cli.main import cli\n"
        "from geodecoupage.datasets.synthetic import synthetic_layers\n"
        "from geodecoupage.overlay import build_atlas\n"
        "build_atlas(synthetic_layers(30, n_layers=1, seed=1))\n"
        "tops = ('dask', 'distributed', 'dask_geopandas')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in tops)\n"
        "print(loaded)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
