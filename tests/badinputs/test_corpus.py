"""Run the whole bad-input corpus through the library and the CLI.

``pytest -m badinputs`` runs it alone. Each case is built in a fresh tmp folder
by :mod:`make_corpus` (generated, never committed).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner
from make_corpus import CASES, Case, frame, write

import geopandas as gpd
import shapely

from geodecoupage.errors import (
    GeodecoupageError,
    LayerQualityWarning,
    LayerValidationError,
)
from geodecoupage.layers.territory import read_territory

pytestmark = pytest.mark.badinputs

IDS = [c.name for c in CASES]


def _read(c: Case, path: Path) -> gpd.GeoDataFrame:
    return read_territory(path, code_col=c.code_col, name_col=c.name_col, **c.kwargs)


def test_corpus_is_large_and_names_are_unique():
    assert len(CASES) >= 40
    assert len(set(IDS)) == len(IDS)


@pytest.mark.parametrize("c", CASES, ids=IDS)
def test_library_outcome(c: Case, tmp_path: Path):
    path = c.build(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if c.expect is not None:
            with pytest.raises(c.expect) as info:
                _read(c, path)
            err = info.value
            assert isinstance(err, GeodecoupageError)
            text = str(err)
            assert re.search(c.match, text, flags=re.S), text
            assert "{" not in text or "}" not in text  # no unformatted placeholder
            if c.issue_codes:
                assert isinstance(err, LayerValidationError)
                assert set(c.issue_codes) <= {i.code for i in err.issues}, err.issues
            return
        gdf = _read(c, path)
    quality = [
        str(w.message) for w in caught if issubclass(w.category, LayerQualityWarning)
    ]
    others = [w for w in caught if not issubclass(w.category, LayerQualityWarning)]
    assert not others, [str(w.message) for w in others]
    if c.warns is None:
        assert quality == []
    else:
        assert any(re.search(c.warns, m, flags=re.S) for m in quality), quality
    # The canonical schema, whatever the input was.
    assert gdf.crs.to_epsg() == 32198
    assert gdf.index.name == "code"
    assert gdf.index.is_unique
    assert gdf.index.notna().all()
    assert all(isinstance(v, str) for v in gdf.index)
    assert list(gdf.columns) == ["nom", "layer", "geometry"]
    types = set(gdf.geom_type)
    assert types <= {"Polygon", "MultiPolygon"}, types
    assert gdf.geometry.is_valid.all()
    assert not gdf.geometry.is_empty.any()
    assert gdf.attrs["source_path"] == str(path)
    if c.check is not None:
        c.check(gdf)


CLI_CASES = [c for c in CASES if c.expected_exit is not None]


def _cli():
    from geodecoupage.cli.main import cli

    return cli


@pytest.mark.parametrize("c", CLI_CASES, ids=[c.name for c in CLI_CASES])
def test_cli_outcome(c: Case, tmp_path: Path):
    cli = _cli()
    path = c.build(tmp_path)
    args = ["layers", "check", "--file", str(path), "--code-col", c.code_col]
    if c.name_col is not None:
        args += ["--name-col", c.name_col]
    if "layer" in c.kwargs:
        args += ["--layer-name", str(c.kwargs["layer"])]
    result = CliRunner().invoke(cli, args)
    out = result.output
    assert result.exit_code == c.expected_exit, out
    assert "Traceback" not in out
    if result.exit_code == 1:
        assert isinstance(result.exception, SystemExit)  # a clean click exit
        message = out.strip()
        assert message.startswith("Error:") or "ERREUR" in message, message
        assert "\n\n" not in message  # one paragraph
        assert re.search(c.match, out, flags=re.S), out


def test_mixed_crs_layers_end_up_aligned(tmp_path: Path):
    """The same territory saved in three CRS reads back to the same geometry."""
    base = frame()
    paths = [
        write(base, tmp_path / "ll.geojson"),
        write(base.to_crs("EPSG:3347"), tmp_path / "statcan.gpkg"),
        write(base.to_crs("EPSG:32198"), tmp_path / "lambert.shp"),
    ]
    read = [read_territory(p, code_col="code", name_col="nom") for p in paths]
    ref = read[0].geometry
    for other in read[1:]:
        assert other.crs == ref.crs
        dist = shapely.hausdorff_distance(
            ref.array, other.geometry.loc[ref.index].array
        )
        assert float(dist.max()) < 0.01  # metres: reprojection round-trips
