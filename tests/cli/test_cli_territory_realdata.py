"""``--territory`` on the real-data mirror: three squares over Sherbrooke (Estrie)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd
import shapely
from shapely.geometry import box

from geodecoupage.cli.main import cli
from geodecoupage.crs import WORK_CRS

pytestmark = pytest.mark.realdata


def _sherbrooke_squares() -> gpd.GeoDataFrame:
    """Three 15 km squares stacked north-south over Sherbrooke, in EPSG:32198."""
    centre = gpd.GeoSeries([shapely.Point(-71.89, 45.40)], crs="EPSG:4326")
    c = centre.to_crs(WORK_CRS).iloc[0]
    s = 15_000.0
    geoms = [
        box(c.x - s / 2, c.y + dy, c.x + s / 2, c.y + dy + s)
        for dy in (s / 2, -s / 2, -1.5 * s)
    ]
    return gpd.GeoDataFrame(
        {"id": ["D1", "D2", "D3"], "nom": ["Nord", "Centre", "Sud"]},
        geometry=geoms,
        crs=WORK_CRS,
    )


def test_crosswalk_sherbrooke_squares_to_cisss(
    quebec_data: Path, tmp_path: Path
) -> None:
    from geodecoupage.layers import read_layer

    squares = _sherbrooke_squares()
    path = tmp_path / "demarches.gpkg"
    squares.to_file(path)
    res = CliRunner().invoke(
        cli,
        [
            "--quiet",
            "crosswalk",
            "territoire",
            "cisss",
            "--territory",
            str(path),
            "--code-col",
            "id",
            "--data-dir",
            str(quebec_data),
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(io.StringIO(res.stdout), dtype={"target_code": str})
    sums = table.groupby("source_code")["share_of_source"].sum()
    assert sorted(sums.index) == ["D1", "D2", "D3"]
    np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-6)
    cisss = read_layer("cisss", data_dir=quebec_data)
    for code, geom in zip(squares["id"], squares.geometry, strict=True):
        # Independent reference: the CISSS holding more than 0.1 % of the square.
        ref = {
            str(c)
            for c, g in zip(cisss.index, cisss.geometry, strict=True)
            if shapely.intersection(geom, g).area > 1e-3 * geom.area
        }
        got = set(table.loc[table["source_code"] == code, "target_code"])
        assert got == ref, code
