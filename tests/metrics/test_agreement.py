"""Information scores and nesting indices on hand-made contingency tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodecoupage.errors import InvalidParameterError
from geodecoupage.metrics._contingency import atom_contingency, transpose
from geodecoupage.metrics.agreement import information_scores, nesting_indices


def table(rows: dict[tuple[str, str], float]) -> pd.Series:
    return pd.Series(rows, dtype="float64").rename_axis(["source_code", "target_code"])


def naive_entropies(rows: dict[tuple[str, str], float]) -> dict[str, float]:
    """Independent reference: plain loops over a dict."""
    n = sum(rows.values())
    pa: dict[str, float] = {}
    pb: dict[str, float] = {}
    for (a, b), v in rows.items():
        pa[a] = pa.get(a, 0.0) + v / n
        pb[b] = pb.get(b, 0.0) + v / n
    h = lambda ps: -sum(p * math.log(p) for p in ps if p > 0)  # noqa: E731
    h_a, h_b, h_ab = h(pa.values()), h(pb.values()), h([v / n for v in rows.values()])
    return {"h_a": h_a, "h_b": h_b, "h_ab": h_ab}


IDENTITY = table({("a", "a"): 2.0, ("b", "b"): 3.0, ("c", "c"): 5.0})
REFINEMENT = table(  # fine units a1, a2 in A; b1, b2 in B; equal areas
    {("a1", "A"): 1.0, ("a2", "A"): 1.0, ("b1", "B"): 1.0, ("b2", "B"): 1.0}
)
MIXED = table({("1", "x"): 3.0, ("1", "y"): 1.0, ("2", "y"): 4.0})


def test_a_layer_against_itself_has_vi_zero_and_nmi_one() -> None:
    s = information_scores(IDENTITY)
    assert s.vi == 0.0
    assert s.vi_normalized == 0.0
    assert s.h_b_given_a == 0.0
    assert s.h_a_given_b == 0.0
    assert s.nmi == pytest.approx(1.0)
    assert s.v_measure == pytest.approx(1.0)
    assert s.mutual_information == pytest.approx(s.h_a)


def test_strict_refinement_is_nested_one_way_only() -> None:
    s = information_scores(REFINEMENT)
    assert s.h_b_given_a == 0.0  # every fine unit lies in one coarse unit
    assert s.h_a_given_b == pytest.approx(math.log(2))  # each coarse unit split in 2
    assert s.vi == pytest.approx(math.log(2))
    fine_in_coarse = nesting_indices(REFINEMENT)
    coarse_in_fine = nesting_indices(transpose(REFINEMENT))
    assert fine_in_coarse.nesting_index_count == 1.0
    assert fine_in_coarse.rn_area == 1.0
    assert coarse_in_fine.nesting_index_count == 0.0
    assert coarse_in_fine.rn_area == pytest.approx(0.5)
    assert coarse_in_fine.rn_alt_area == pytest.approx(0.5)
    assert coarse_in_fine.n_split == 2
    assert coarse_in_fine.n_pieces == 4


def test_hand_computed_table_matches_the_formulas() -> None:
    s = information_scores(MIXED)
    p = np.array([3, 1, 4]) / 8
    h_ab = -(p * np.log(p)).sum()
    h_a = math.log(2)
    h_b = -(3 / 8 * math.log(3 / 8) + 5 / 8 * math.log(5 / 8))
    assert s.h_a == pytest.approx(h_a)
    assert s.h_b == pytest.approx(h_b)
    assert s.h_ab == pytest.approx(h_ab)
    assert s.h_b_given_a == pytest.approx(h_ab - h_a)
    assert s.vi == pytest.approx(2 * h_ab - h_a - h_b)
    assert s.nmi == pytest.approx((h_a + h_b - h_ab) / math.sqrt(h_a * h_b))
    assert s.total_weight == 8.0


def test_nesting_indices_of_the_hand_table() -> None:
    ni = nesting_indices(MIXED, threshold=0.01)
    # unit 1: shares .75/.25 (split); unit 2: inside y.
    assert ni.n_units == 2
    assert ni.n_nested == 1
    assert ni.nesting_index_count == 0.5
    assert ni.nesting_index_area == 0.5  # both units have area 4
    assert ni.rn_area == pytest.approx((0.75**2 + 0.25**2 + 1.0) / 2)
    assert ni.rn_alt_area == pytest.approx((0.75 + 1.0) / 2)
    assert ni.mean_n_eff_area == pytest.approx((1 / 0.625 + 1) / 2)
    assert math.isnan(ni.nesting_index_pop)  # no population given
    # At tau = 0.3 the quarter outside no longer counts.
    assert nesting_indices(MIXED, threshold=0.3).n_nested == 2


def test_population_weights_change_the_population_index_only() -> None:
    pop = table({("1", "x"): 0.0, ("1", "y"): 100.0, ("2", "y"): 50.0})
    ni = nesting_indices(MIXED, population=pop)
    assert ni.nesting_index_area == 0.5
    assert ni.nesting_index_pop == pytest.approx(50 / 150)
    assert ni.rn_alt_pop == 1.0  # unit 1's people all live in y
    assert ni.pop_outside_dominant == 0.0


def test_single_unit_partitions() -> None:
    one = table({("a", "x"): 5.0})
    s = information_scores(one)
    assert (s.h_a, s.h_b, s.vi, s.nmi) == (0.0, 0.0, 0.0, 1.0)
    s2 = information_scores(table({("a", "x"): 1.0, ("a", "y"): 1.0}))
    assert s2.nmi == 0.0
    assert s2.vi == pytest.approx(math.log(2))


def test_empty_table_gives_nan_scores() -> None:
    empty = table({("a", "x"): 0.0})
    s = information_scores(empty)
    assert math.isnan(s.vi)
    assert s.total_weight == 0.0
    assert nesting_indices(empty).n_units == 0


def test_bad_weights_are_refused_with_the_first_offender() -> None:
    with pytest.raises(InvalidParameterError, match=r"negative or non-finite.*'a'"):
        information_scores(table({("a", "x"): -1.0, ("b", "x"): 1.0}))
    with pytest.raises(InvalidParameterError, match="indexed by"):
        information_scores(pd.Series([1.0, 2.0]))


def test_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match=r"\[0, 0.5\)"):
        nesting_indices(MIXED, threshold=0.5)
    with pytest.raises(InvalidParameterError, match="threshold"):
        nesting_indices(MIXED, threshold=-0.1)


def test_atom_contingency_drops_uncovered_atoms_and_sums() -> None:
    atoms = pd.DataFrame(
        {
            "a": ["1", "1", "2", None],
            "b": ["x", "x", None, "y"],
            "area_m2": [1.0, 2.0, 3.0, 4.0],
        }
    )
    w = atom_contingency(atoms, "a", "b")
    assert w.to_dict() == {("1", "x"): 3.0}
    masked = atom_contingency(atoms, "a", "b", mask=np.array([True, False, True, True]))
    assert masked.to_dict() == {("1", "x"): 1.0}
    with pytest.raises(InvalidParameterError, match="no column 'c'"):
        atom_contingency(atoms, "a", "c")


# --- properties -----------------------------------------------------------------

cells = st.dictionaries(
    st.tuples(st.sampled_from("abcdef"), st.sampled_from("uvwxyz")),
    st.floats(min_value=0.01, max_value=1e6),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(cells)
def test_scores_stay_within_their_bounds(rows: dict[tuple[str, str], float]) -> None:
    s = information_scores(table(rows))
    ref = naive_entropies(rows)
    assert s.h_a == pytest.approx(ref["h_a"], abs=1e-9)
    assert s.h_ab == pytest.approx(ref["h_ab"], abs=1e-9)
    assert -1e-12 <= s.h_b_given_a <= s.h_b + 1e-9
    assert -1e-12 <= s.h_a_given_b <= s.h_a + 1e-9
    assert 0.0 <= s.nmi <= 1.0
    assert 0.0 <= s.v_measure <= 1.0
    assert 0.0 <= s.vi <= s.h_ab + 1e-9
    assert 0.0 <= s.vi_normalized <= 1.0
    ni = nesting_indices(table(rows), threshold=0.05)
    assert 0.0 <= ni.nesting_index_count <= 1.0
    assert 0.0 < ni.rn_area <= ni.rn_alt_area + 1e-12 <= 1.0 + 1e-12
    assert ni.n_pieces >= ni.n_units


@settings(max_examples=40, deadline=None)
@given(cells)
def test_vi_and_nmi_are_symmetric(rows: dict[tuple[str, str], float]) -> None:
    s, t = information_scores(table(rows)), information_scores(transpose(table(rows)))
    assert s.vi == pytest.approx(t.vi, abs=1e-12)
    assert s.nmi == pytest.approx(t.nmi, abs=1e-12)
    assert s.h_b_given_a == pytest.approx(t.h_a_given_b, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(cells, st.randoms(use_true_random=False))
def test_scores_ignore_code_labels_and_row_order(
    rows: dict[tuple[str, str], float], rnd: object
) -> None:
    items = list(rows.items())
    rnd.shuffle(items)  # type: ignore[attr-defined]
    relabel = {c: f"Z{ord(c) * 7 % 13:02d}{c}" for c in "abcdefuvwxyz"}
    moved = {(relabel[a], relabel[b]): v for (a, b), v in items}
    s, t = information_scores(table(rows)), information_scores(table(moved))
    for k, v in s.to_dict().items():
        assert t.to_dict()[k] == pytest.approx(v, rel=1e-9, abs=1e-12)
    n1, n2 = nesting_indices(table(rows)), nesting_indices(table(moved))
    assert n1.to_dict() == pytest.approx(n2.to_dict(), rel=1e-9, nan_ok=True)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from("abc"),
            st.sampled_from("pqr"),
            st.sampled_from("xyz"),
            st.floats(min_value=0.01, max_value=100.0),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_vi_obeys_the_triangle_inequality(
    atoms: list[tuple[str, str, str, float]],
) -> None:
    frame = pd.DataFrame(atoms, columns=["a", "b", "c", "area_m2"])
    vi = {
        (x, y): information_scores(atom_contingency(frame, x, y)).vi
        for x in "abc"
        for y in "abc"
    }
    assert vi[("a", "c")] <= vi[("a", "b")] + vi[("b", "c")] + 1e-9
    assert vi[("a", "a")] == 0.0
