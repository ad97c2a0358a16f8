"""The distributed (Dask) atlas engine gives the local engine's atlas.

Equality is checked against :func:`geodecoupage.overlay.build_atlas` on the same
inputs: same code tuples in the same order, areas and population equal to the
bit, same outlines vertex for vertex (``shapely.equals_exact`` with
tolerance 0), same sliver report. Plus the
partition-edge cases: an atom crossing four partitions, empty partitions, more
partitions than cells, and the scheduler errors.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import geopandas as gpd
import shapely

from geodecoupage.crs import WORK_CRS, area_m2
from geodecoupage.datasets import demo_layers, demo_population
from geodecoupage.datasets.synthetic import synthetic_layers
from geodecoupage.errors import (
    CoverageWarning,
    GeodecoupageError,
    InvalidParameterError,
)
from geodecoupage.overlay import Atlas, _engine, build_atlas
from geodecoupage.overlay import atlas as _atlas

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask_geopandas")

from geodecoupage.overlay import distributed as dist  # noqa: E402
from geodecoupage.overlay.distributed import (  # noqa: E402
    SchedulerUnreachableError,
    build_atlas_dask,
)


@pytest.fixture(scope="module")
def client() -> Any:
    """Two in-process workers, one thread each (no serialisation cost)."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def assert_same_atlas(local: Atlas, other: Atlas) -> None:
    """Same atoms (codes, order, areas, population, outlines) and slivers, exactly.

    The engines share every step but the arrangement of the quadtree cells, which
    gives the same faces in the same order: areas and population must be equal
    to the bit, outlines vertex for vertex.
    """
    assert other.layers == local.layers
    a, b = local.atoms, other.atoms
    assert len(a) == len(b)
    keys = list(local.layers)
    pd.testing.assert_frame_equal(
        a[keys].astype(object).where(a[keys].notna(), None),
        b[keys].astype(object).where(b[keys].notna(), None),
    )
    np.testing.assert_array_equal(b["area_m2"].to_numpy(), a["area_m2"].to_numpy())
    np.testing.assert_array_equal(
        b["population"].to_numpy(), a["population"].to_numpy()
    )
    np.testing.assert_array_equal(b["n_parts"].to_numpy(), a["n_parts"].to_numpy())
    assert b.crs == a.crs
    # same vertices in the same order (rings start at the same vertex)
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, 0.0).all()
    for key in (
        "n_faces",
        "n_atoms_before_slivers",
        "n_atoms",
        "n_slivers",
        "sliver_area_m2",
        "total_area_m2",
        "self_overlap_area_m2",
        "population_total",
        "population_in_atlas",
        "population_outside",
        "population_unplaced",
        "land_mask",
    ):
        assert _same_value(other.params[key], local.params[key]), key
    pd.testing.assert_frame_equal(
        other.slivers.reset_index(drop=True),
        local.slivers.reset_index(drop=True),
        check_exact=True,
    )


def _same_value(x: object, y: object) -> bool:
    if isinstance(x, float) and isinstance(y, float) and np.isnan(x):
        return bool(np.isnan(y))
    return x == y


def test_the_comparison_fails_when_the_engines_diverge() -> None:
    """assert_same_atlas catches one ulp of area, a code, a vertex, a population."""
    layers = synthetic_layers(60, n_layers=2, seed=20)
    base = layers["base"]
    pop = gpd.GeoDataFrame(
        {"population": np.full(len(base), 7.0)},
        geometry=base.geometry.values,
        crs=base.crs,
    )
    atlas = build_atlas(layers, population=pop)
    assert_same_atlas(atlas, atlas)

    def altered(row: int, column: str, value: Any) -> Atlas:
        atoms = atlas.atoms.copy()
        atoms.loc[atoms.index[row], column] = value
        return replace(atlas, atoms=atoms)

    geoms = atlas.atoms.geometry
    row = next(
        i
        for i, g in enumerate(geoms)
        if g.geom_type == "Polygon" and len(g.interiors) == 0
    )
    ring = shapely.get_coordinates(geoms.iloc[row])[:-1]
    restarted = shapely.Polygon(np.roll(ring, 1, axis=0))  # same shape, other start
    assert restarted.equals(geoms.iloc[row])
    first = atlas.atoms.iloc[row]
    for column, value in (
        ("area_m2", np.nextafter(float(first["area_m2"]), np.inf)),
        ("population", float(first["population"]) + 1e-9),
        (atlas.layers[0], "not-a-code"),
        ("geometry", restarted),
    ):
        with pytest.raises(AssertionError):
            assert_same_atlas(atlas, altered(row, column, value))


# -- equality on synthetic layers ---------------------------------------------------


@pytest.mark.parametrize(
    ("n_base", "npartitions", "seed"),
    [(100, 1, 0), (100, 5, 1), (400, 3, 2), (1000, 4, 3), (500, 16, 4)],
)
def test_same_atlas_as_local_on_synthetic_layers(
    client: Any, n_base: int, npartitions: int, seed: int
) -> None:
    layers = synthetic_layers(n_base, n_layers=3, seed=seed, incoherence=0.3)
    local = build_atlas(layers, max_load=256)
    other = build_atlas(
        layers, max_load=256, engine="dask", scheduler=client, npartitions=npartitions
    )
    assert_same_atlas(local, other)
    assert local.params["engine"] == "local"
    assert other.params["engine"] == "dask"
    kernel = other.params["kernel"]
    assert isinstance(kernel, dict)
    assert 1 <= kernel["partitions"] <= npartitions
    # same quadtree: same cells, clips, faces and border segments
    for key in ("cells", "clip_calls", "faces", "edges"):
        assert kernel[key] == local.params["kernel"][key], key  # type: ignore[index]
    assert kernel["edge_anomalies"] == 0


def test_several_partitions_really_used(client: Any) -> None:
    """With a small max_load the quadtree is deep and the partitions share work."""
    layers = synthetic_layers(400, n_layers=3, seed=5, incoherence=0.2)
    other = build_atlas_dask(layers, max_load=64, scheduler=client, npartitions=6)
    kernel = other.params["kernel"]
    assert isinstance(kernel, dict)
    assert kernel["partitions"] == 6
    assert kernel["cells"] > kernel["top_cells"]  # workers split cells further
    assert_same_atlas(build_atlas(layers, max_load=64), other)


def test_same_atlas_with_population_and_slivers_kept(client: Any) -> None:
    layers = synthetic_layers(300, n_layers=2, seed=7, incoherence=0.5)
    base = layers.pop("base")
    pop = gpd.GeoDataFrame(
        {"population": np.arange(len(base), dtype=float) % 17 * 10.0},
        geometry=base.geometry.values,
        crs=base.crs,
    )
    kwargs: dict[str, Any] = {
        "population": pop,
        "min_area_m2": 0.0,
        "sliver_width_m": 0.0,
        "max_load": 128,
    }
    local = build_atlas(layers, **kwargs)
    other = build_atlas(
        layers, engine="dask", scheduler=client, npartitions=5, **kwargs
    )
    assert_same_atlas(local, other)
    assert other.atoms["population"].sum() == pytest.approx(pop["population"].sum())


def test_same_atlas_on_the_demo_territory(client: Any) -> None:
    layers = demo_layers()
    pop = demo_population()
    local = build_atlas(layers, population=pop, max_load=128)
    other = build_atlas_dask(
        layers, population=pop, max_load=128, scheduler=client, npartitions=4
    )
    assert_same_atlas(local, other)
    # crosswalks derived from both atlases agree too
    pd.testing.assert_frame_equal(
        other.crosswalk("municipalites", "rls", weight="population"),
        local.crosswalk("municipalites", "rls", weight="population"),
        check_exact=True,
    )


def test_same_atlas_with_a_land_mask(client: Any) -> None:
    layers = synthetic_layers(200, n_layers=2, seed=8)
    x0, y0, x1, y1 = layers["base"].total_bounds
    mask = gpd.GeoSeries(
        [shapely.Point((x0 + x1) / 2, (y0 + y1) / 2).buffer((x1 - x0) / 3)],
        crs=WORK_CRS,
    )
    local = build_atlas(layers, land_mask=mask, max_load=128)
    other = build_atlas(
        layers,
        land_mask=mask,
        max_load=128,
        engine="dask",
        scheduler=client,
        npartitions=4,
    )
    assert_same_atlas(local, other)
    assert other.params["land_mask"] is True


def test_same_atlas_with_population_and_land_mask_together(client: Any) -> None:
    """Both hidden layers at once: the mask clips the atoms and the population."""
    layers = synthetic_layers(300, n_layers=3, seed=14, incoherence=0.3)
    base = layers["base"]
    x0, y0, x1, y1 = base.total_bounds
    mask = gpd.GeoSeries(
        [
            shapely.box(x0, y0, (x0 + x1) / 2, y1).union(
                shapely.Point(x1, y1).buffer((x1 - x0) / 4)
            )
        ],
        crs=WORK_CRS,
    )
    pop = gpd.GeoDataFrame(
        {"population": (np.arange(len(base)) % 11 + 1) * 3.0},
        geometry=base.geometry.values,
        crs=base.crs,
    )
    kwargs: dict[str, Any] = {"population": pop, "land_mask": mask, "max_load": 128}
    local = build_atlas(layers, **kwargs)
    other = build_atlas(
        layers, engine="dask", scheduler=client, npartitions=6, **kwargs
    )
    assert_same_atlas(local, other)
    # the mask really cut the population: some of it lies outside
    assert 0 < other.params["population_outside"] < pop["population"].sum()
    total = other.params["population_in_atlas"] + other.params["population_outside"]
    assert total == pytest.approx(pop["population"].sum(), rel=1e-12)


def test_scheduler_given_by_its_address(client: Any) -> None:
    layers = synthetic_layers(150, n_layers=2, seed=15)
    address = client.scheduler.address
    other = build_atlas(layers, engine="dask", scheduler=address, npartitions=3)
    assert_same_atlas(build_atlas(layers), other)


# -- real data ---------------------------------------------------------------------


@pytest.mark.realdata
def test_same_atlas_on_a_real_region_with_population_and_land_mask(
    client: Any, quebec_data: Path
) -> None:
    """Estrie (region 05): MRC, RLS and the CSS over it, census surface, land."""
    from geodecoupage.layers import read_layer
    from geodecoupage.overlay.population import CD_POLYGONS, population_surface

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # quality warnings of the mirror files
        mrc = read_layer("mrc", data_dir=quebec_data)
        rls = read_layer("rls", data_dir=quebec_data)
        css = read_layer("css", data_dir=quebec_data)
        surface = population_surface(data_dir=quebec_data, refine_with_tracts=False)
    mrc = mrc[mrc["regions_code"] == "05"]
    rls = rls[rls["rss_code"] == "05"]
    window = shapely.box(*mrc.total_bounds)
    css = css[css.intersects(window)]
    pop = surface.polygons[surface.polygons.intersects(window)]
    land = gpd.read_file(quebec_data / CD_POLYGONS).to_crs(WORK_CRS)
    land = land[land.intersects(window)].geometry
    layers = {"mrc": mrc, "rls": rls, "css": css}
    kwargs: dict[str, Any] = {"population": pop, "land_mask": land}

    local = build_atlas(layers, **kwargs)
    other = build_atlas(
        layers, engine="dask", scheduler=client, npartitions=6, **kwargs
    )
    assert_same_atlas(local, other)
    kernel = other.params["kernel"]
    assert isinstance(kernel, dict)
    assert kernel["partitions"] > 1
    assert kernel["edge_anomalies"] == 0
    assert len(other.atoms) > 20
    # independent reference: the census counts of the municipalities whose
    # interior point lies in the region's MRC (uniform density, lakes masked)
    region = shapely.union_all(mrc.geometry.values)
    ref = pop.loc[pop.representative_point().within(region), "population"].sum()
    in_region = other.atoms.dropna(subset=["mrc"])["population"].sum()
    assert in_region == pytest.approx(ref, rel=0.02)
    assert other.params["population_outside"] > 0  # outside the MRC or on water
    pd.testing.assert_frame_equal(
        other.crosswalk("mrc", "rls", weight="population"),
        local.crosswalk("mrc", "rls", weight="population"),
        check_exact=True,
    )


# -- command line --------------------------------------------------------------------


def test_cli_atlas_build_with_the_dask_engine(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from geodecoupage.cli.main import cli

    layers = demo_layers()
    monkeypatch.setattr(
        "geodecoupage.layers.read_layer", lambda key, **_: layers[key].copy()
    )
    runner = CliRunner()
    out_local, out_dask = tmp_path / "local.gpkg", tmp_path / "dask.gpkg"
    args = ["atlas", "build", "--layers", "mrc,rls,css", "-o"]
    res = runner.invoke(cli, [*args, str(out_local)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        cli,
        [
            *args,
            str(out_dask),
            "--engine",
            "dask",
            "--scheduler",
            client.scheduler.address,
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    a = gpd.read_file(out_local, layer="atoms")
    b = gpd.read_file(out_dask, layer="atoms")
    pd.testing.assert_frame_equal(
        a.drop(columns="geometry"), b.drop(columns="geometry"), check_exact=True
    )
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, 0.0).all()


# -- partition edges -------------------------------------------------------------------


def _square(x: float, y: float, side: float, n: int = 40) -> shapely.Polygon:
    """Axis-aligned square with n vertices per side (enough load to split)."""
    t = np.linspace(0.0, side, n, endpoint=False)
    ring = np.concatenate(
        [
            np.column_stack([x + t, np.full(n, y)]),
            np.column_stack([np.full(n, x + side), y + t]),
            np.column_stack([x + side - t, np.full(n, y + side)]),
            np.column_stack([np.full(n, x), y + side - t]),
        ]
    )
    return shapely.Polygon(ring)


def _layer(geoms: list[shapely.Geometry], codes: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        index=pd.Index(codes, name="code"), geometry=geoms, crs=WORK_CRS
    )


def test_an_atom_crossing_four_partitions_is_one_atom(client: Any) -> None:
    # a 2 x 2 grid of municipalities and one round district over the centre:
    # the first quadtree split, hence the partition edges, run through it
    side = 20_000.0
    grid = [
        _square(-300_000 + i * side, 250_000 + j * side, side)
        for j in (0, 1)
        for i in (0, 1)
    ]
    muni = _layer(grid, ["A", "B", "C", "D"])
    centre = shapely.Point(-300_000 + side, 250_000 + side).buffer(7_000, 64)
    district = _layer([centre], ["Z"])
    layers = {"muni": muni, "district": district}
    kwargs: dict[str, Any] = {"max_load": 16, "min_area_m2": 0.0}

    prep = _atlas._prepare(
        layers,
        snap_m=1.0,
        min_area_m2=0.0,
        sliver_width_m=0.0,
        sliver_share=0.0,
        max_load=16,
        land_mask=None,
        population=None,
    )
    tree = _engine._compact(
        _engine._grow(_engine._root(prep.geoms, 1.0), 1.0, 16, stop_cells=4)
    )
    part = dist._partition_cells(tree, 4)
    regions = [
        shapely.union_all(_engine._cell_boxes(tree.cells[part == j])) for j in range(4)
    ]
    for region in regions:  # the district lies in all four partitions
        assert shapely.intersection(centre, region).area > 1e6

    local = build_atlas(layers, **kwargs)
    other = build_atlas_dask(layers, scheduler=client, npartitions=4, **kwargs)
    assert_same_atlas(local, other)
    kernel = other.params["kernel"]
    assert isinstance(kernel, dict)
    assert kernel["partitions"] == 4
    atoms = other.atoms
    inside = atoms[atoms["district"] == "Z"]
    # one atom per (municipality, district) pair, each a single polygon, their
    # union the whole disc: nothing lost, nothing duplicated at the edges
    assert sorted(inside["muni"]) == ["A", "B", "C", "D"]
    assert (inside["n_parts"] == 1).all()
    disc = shapely.union_all(inside.geometry.values)
    # vertices rounded to the 1 m grid: a seam at most 0.5 m wide on average
    assert disc.symmetric_difference(centre).area < 0.5 * centre.length
    expected = float(area_m2(np.array([centre]))[0])
    assert inside["area_m2"].sum() == pytest.approx(expected, rel=1e-4)
    outside = atoms[atoms["district"].isna()]
    assert len(outside) == 4
    assert (outside.geometry.interiors.apply(len) == 0).all()  # the disc cut each
    assert atoms["area_m2"].sum() == pytest.approx(
        float(area_m2(np.asarray(grid, dtype=object)).sum()), rel=1e-9
    )


def test_empty_partitions_and_more_partitions_than_cells(client: Any) -> None:
    # two islands far apart: most of the root cell is empty, and 64 partitions
    # are asked for far fewer cells holding pieces
    a = _square(-400_000, 200_000, 10_000)
    b = _square(-200_000, 380_000, 10_000)
    layers = {
        "x": _layer([a, b], ["1", "2"]),
        "y": _layer([shapely.box(-400_000, 200_000, -395_000, 205_000)], ["9"]),
    }
    local = build_atlas(layers, max_load=64)
    other = build_atlas_dask(layers, max_load=64, scheduler=client, npartitions=64)
    assert_same_atlas(local, other)
    kernel = other.params["kernel"]
    assert isinstance(kernel, dict)
    assert kernel["partitions"] <= kernel["top_cells"] < 64


def test_a_partition_without_pieces_returns_nothing() -> None:
    tree = _engine._Tree(
        _engine._Pieces(
            np.empty(0, dtype=object),
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=np.int64),
            np.empty(0, dtype=bool),
        ),
        np.empty((0, 4)),
        np.empty(0, dtype=np.int64),
        np.empty(0, dtype=np.int64),
    )
    res = dist._run_partition(tree, 2, 1.0, 2000)
    assert len(res.faces) == 0
    assert res.units.shape == (0, 2)
    light = dist._light(res)
    st = dist._stitch([light, light], 2, 1.0)
    assert len(st.arr.faces) == 0
    assert len(st.arr.edges.length) == 0
    assert len(st.face_area) == 0


def test_layers_without_any_polygon(client: Any) -> None:
    empty = gpd.GeoDataFrame(
        index=pd.Index([], name="code", dtype=str), geometry=[], crs=WORK_CRS
    )
    with pytest.warns(CoverageWarning, match="has no unit"):
        local = build_atlas({"a": empty, "b": empty})
    with pytest.warns(CoverageWarning, match="has no unit"):
        other = build_atlas_dask({"a": empty, "b": empty}, scheduler=client)
    assert len(other.atoms) == len(local.atoms) == 0


def test_dask_geopandas_layers_are_accepted(client: Any) -> None:
    dask_geopandas = pytest.importorskip("dask_geopandas")
    layers = synthetic_layers(150, n_layers=2, seed=9)
    lazy = {
        k: dask_geopandas.from_geopandas(v, npartitions=2) for k, v in layers.items()
    }
    local = build_atlas(layers)
    other = build_atlas_dask(lazy, scheduler=client, npartitions=3)
    assert_same_atlas(local, other)


# -- cluster handling and errors ---------------------------------------------------


def test_default_local_cluster_is_started_and_closed() -> None:
    layers = synthetic_layers(100, n_layers=2, seed=10)
    other = build_atlas_dask(layers, n_workers=1, processes=False, npartitions=2)
    assert_same_atlas(build_atlas(layers), other)


def test_unreachable_scheduler_is_a_named_error() -> None:
    layers = synthetic_layers(100, n_layers=1, seed=11)
    with pytest.raises(SchedulerUnreachableError, match="Cannot reach the Dask") as exc:
        build_atlas_dask(layers, scheduler="tcp://127.0.0.1:9", timeout=0.5)
    assert isinstance(exc.value, GeodecoupageError)
    assert isinstance(exc.value, ConnectionError)
    assert "tcp://127.0.0.1:9" in str(exc.value)
    assert "scheduler=None" in str(exc.value)


def test_malformed_address_is_a_named_error() -> None:
    layers = synthetic_layers(100, n_layers=1, seed=11)
    with pytest.raises(SchedulerUnreachableError, match="not an address"):
        build_atlas_dask(layers, scheduler="not an address", timeout=0.5)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "4"])
def test_npartitions_must_be_a_positive_integer(bad: Any) -> None:
    layers = synthetic_layers(100, n_layers=1, seed=12)
    with pytest.raises(InvalidParameterError, match="npartitions must be"):
        build_atlas_dask(layers, npartitions=bad)


def test_scheduler_of_the_wrong_type() -> None:
    layers = synthetic_layers(100, n_layers=1, seed=12)
    with pytest.raises(InvalidParameterError, match="scheduler must be"):
        build_atlas_dask(layers, scheduler=8786)


def test_input_errors_match_the_local_engine(client: Any) -> None:
    with pytest.raises(InvalidParameterError, match="non-empty mapping"):
        build_atlas_dask({}, scheduler=client)
    layers = synthetic_layers(100, n_layers=1, seed=13)
    with pytest.raises(InvalidParameterError, match="snap_m"):
        build_atlas_dask(layers, snap_m=0, scheduler=client)
