"""Kernel shortcuts against the plain computations they replace.

The overlay kernel computes face areas, connected components, row groups and
sort keys with numpy shortcuts; each must give exactly what the general tool
gives (``area_m2``, ``scipy.sparse.csgraph``, ``np.unique(axis=0)``,
``np.lexsort``).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import shapely

from geodecoupage.crs import area_m2
from geodecoupage.overlay import _engine
from geodecoupage.overlay._engine import components as _components
from geodecoupage.overlay.atlas import _face_areas, _group_rows


def _faces() -> np.ndarray:
    """Grid-aligned polygons in EPSG:32198 sharing vertices, two with holes."""
    rng = np.random.default_rng(7)
    out = []
    for k in range(40):
        x0 = -200_000.0 + 1_000.0 * k
        y0 = 300_000.0 + 750.0 * (k % 5)
        w, h = (float(v) for v in rng.integers(3, 900, 2))
        out.append(shapely.box(x0, y0, x0 + w, y0 + h))
    shell = [(0.0, 0.0), (500.0, 0.0), (500.0, 400.0), (0.0, 400.0)]
    holes = [
        [(10.0, 10.0), (10.0, 50.0), (60.0, 50.0)],
        [(100.0, 100.0), (100.0, 180.0), (170.0, 180.0), (170.0, 100.0)],
    ]
    out.append(shapely.Polygon(shell, holes))
    out.append(shapely.Polygon([(0, 400), (500, 400), (250, 733)], [holes[0]]))
    out.append(shapely.Polygon())
    return np.array(out, dtype=object)


@pytest.mark.parametrize("workers", [1, 2])
def test_face_areas_equal_area_m2_bit_for_bit(workers: int) -> None:
    faces = _faces()
    got = _face_areas(faces, workers, 1.0)
    np.testing.assert_array_equal(got, area_m2(faces))
    assert got[-1] == 0.0


def test_face_areas_off_grid_vertices_fall_back() -> None:
    # vertices that are not on the grid (two distinct ones per grid key)
    faces = np.array(
        [shapely.box(0.1, 0.2, 10.3, 7.7), shapely.box(0.4, 0.2, 9.6, 7.9)],
        dtype=object,
    )
    np.testing.assert_array_equal(_face_areas(faces, 1, 1.0), area_m2(faces))


def test_face_rings_as_get_rings() -> None:
    faces = _faces()
    xy, ring_of, ring_face, is_shell = _engine.face_rings(faces)
    rings, ring_face_ref = shapely.get_rings(faces, return_index=True)
    ref_xy, ref_ring = shapely.get_coordinates(rings, return_index=True)
    np.testing.assert_array_equal(xy, ref_xy)
    np.testing.assert_array_equal(ring_of, ref_ring)
    np.testing.assert_array_equal(ring_face, ring_face_ref)
    assert is_shell.sum() == int((shapely.get_num_coordinates(faces) > 0).sum())


@pytest.mark.parametrize(("n", "m"), [(1, 0), (50, 200), (2_000, 1_500), (500, 0)])
def test_components_as_scipy(n: int, m: int) -> None:
    rng = np.random.default_rng(n + m)
    a = rng.integers(0, n, m)
    b = rng.integers(0, n, m)
    graph = coo_matrix((np.ones(m), (a, b)), shape=(n, n))
    _, ref = connected_components(graph, directed=False)
    got = _components(n, a, b)
    # same partition, numbered in the same order (by smallest node)
    np.testing.assert_array_equal(np.unique(got, return_inverse=True)[1], ref)
    assert (got <= np.arange(n)).all()


def test_group_rows_as_unique_rows() -> None:
    rng = np.random.default_rng(3)
    rows = rng.integers(-1, 7, (3_000, 5)).astype(np.int64)
    inside = rng.random(3_000) < 0.8
    atom_of, tuples = _group_rows(rows, inside)
    ref, inv = np.unique(rows[inside], axis=0, return_inverse=True)
    np.testing.assert_array_equal(tuples, ref)
    np.testing.assert_array_equal(atom_of[inside], inv.ravel())
    assert (atom_of[~inside] == -1).all()


def test_pack_sorts_like_lexsort() -> None:
    rng = np.random.default_rng(5)
    cols = [rng.integers(-50, 50, 5_000) for _ in range(3)]
    key = _engine._pack(*cols)
    assert key is not None
    np.testing.assert_array_equal(
        np.argsort(key, kind="stable"), np.lexsort(tuple(reversed(cols)))
    )
    big = np.array([0, 2**40], dtype=np.int64)
    assert _engine._pack(big, big) is None
