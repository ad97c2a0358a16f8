"""Over-concertation risk on hand-made table/institution crosswalks."""

from __future__ import annotations

import pandas as pd
import pytest

from geodecoupage.errors import InvalidParameterError
from geodecoupage.metrics.concertation import RiskWeights, concertation_from_tables


def table(rows: dict[tuple[str, str], float]) -> pd.Series:
    return pd.Series(rows, dtype="float64").rename_axis(["source_code", "target_code"])


# Two tables of 100 m² each. CSS c1 holds all of t1 and 60 % of t2; c2 the rest
# of t2. RLS r1 holds both tables whole (tables nest in it).
CSS = table({("t1", "c1"): 100.0, ("t2", "c1"): 60.0, ("t2", "c2"): 40.0})
RLS = table({("t1", "r1"): 100.0, ("t2", "r1"): 100.0})
NAMES = {"mrc": {"t1": "Une", "t2": "Deux"}, "css": {"c1": "Premier"}}


def risk(**kw: object) -> object:
    args: dict[str, object] = {
        "table_layer": "mrc",
        "threshold": 0.01,
        "names": NAMES,
    }
    args.update(kw)
    return concertation_from_tables({"css": CSS, "rls": RLS}, **args)  # type: ignore[arg-type]


def test_links_are_classified_by_the_dual_test() -> None:
    r = risk()
    links = r.links.set_index(["sector", "table", "institution"])
    straddling = links.loc[links["straddling"]].index.tolist()
    assert straddling == [("css", "t2", "c1")]
    assert links.loc[("css", "t2", "c1"), "mostly_elsewhere"]  # 60 of c1's 160
    assert links.loc[("css", "t2", "c1"), "share_of_institution"] == pytest.approx(
        60 / 160
    )
    assert links.loc[("css", "t1", "c1"), "table_inside"]
    assert links.loc[("css", "t2", "c2"), "institution_inside"]
    assert links["significant"].all()


def test_table_scores_follow_the_documented_formula() -> None:
    r = risk()
    t = r.tables
    assert t.index.tolist() == ["t2", "t1"]  # ranked, heaviest first
    assert r.heaviest_table() == "t2"
    assert t.loc["t2", "n_css"] == 2
    assert t.loc["t2", "straddling_css"] == 1
    assert t.loc["t2", "straddled_share_css"] == pytest.approx(0.6)
    assert t.loc["t2", "elsewhere_share_css"] == pytest.approx(0.6)
    assert t.loc["t2", "n_eff_css"] == pytest.approx(1 / (0.36 + 0.16))
    # 0.5 (N_eff - 1) + m + q per sector: css 0.5 * (1/0.52 - 1) + 1 + 0.6; rls 0.
    assert t.loc["t2", "score"] == pytest.approx(0.5 * (1 / 0.52 - 1) + 1.6)
    assert t.loc["t1", "score"] == 0.0
    assert t["rank"].tolist() == [1, 2]
    assert t.loc["t2", "n_institutions"] == 3


def test_institution_scores_use_the_transposed_table() -> None:
    inst = risk().institutions
    c1 = inst.loc[("css", "c1")]
    assert c1["n_tables"] == 2
    assert c1["dominant_table"] == "t1"
    assert c1["dominant_share"] == pytest.approx(100 / 160)
    assert c1["n_eff_tables"] == pytest.approx(1 / ((100 / 160) ** 2 + (60 / 160) ** 2))
    assert c1["score"] == pytest.approx(0.5 * (c1["n_eff_tables"] - 1) + 1 + 60 / 160)
    assert inst.loc[("rls", "r1"), "n_straddling"] == 0
    # two whole tables inside r1: N_eff = 2, no straddling.
    assert inst.loc[("rls", "r1"), "score"] == pytest.approx(0.5)
    assert inst.index[0] == ("css", "c1")


def test_weights_rescale_components_and_sectors() -> None:
    r = risk(weights=RiskWeights(extra_partner=0.0, sectors={"css": 2.0}))
    assert r.tables.loc["t2", "score"] == pytest.approx(2 * (1 + 0.6))
    assert r.params["weights"]["sectors"] == {"css": 2.0}
    with pytest.raises(InvalidParameterError, match="non-negative"):
        RiskWeights(straddled_share=-1.0)


def test_threshold_hides_small_overlaps() -> None:
    css = table({("t1", "c1"): 99.5, ("t1", "c2"): 0.5, ("t2", "c2"): 100.0})
    low = concertation_from_tables({"css": css}, threshold=0.0)
    high = concertation_from_tables({"css": css}, threshold=0.01)
    assert low.tables.loc["t1", "n_css"] == 2
    # 0.5 is below 1 % of t1 and of c2 (100.5): not significant at 1 %.
    assert high.tables.loc["t1", "n_css"] == 1
    # The score moves smoothly: the tiny partner still adds to N_eff.
    small = 0.5 * (1 / (0.995**2 + 0.005**2) - 1)
    assert high.tables.loc["t1", "score"] == pytest.approx(small)
    assert low.tables.loc["t1", "score"] == pytest.approx(small + 1 + 0.005)


def test_population_basis_and_fallback() -> None:
    pop = table({("t1", "c1"): 0.0, ("t2", "c1"): 900.0, ("t2", "c2"): 100.0})
    r = concertation_from_tables(
        {"css": CSS}, population={"css": pop}, table_layer="mrc"
    )
    assert r.basis == "population"
    links = r.links.set_index(["table", "institution"])
    # t1 has nobody: its share falls back on area.
    assert links.loc[("t1", "c1"), "share_of_table"] == 1.0
    assert links.loc[("t2", "c1"), "share_of_table"] == pytest.approx(0.9)
    # c1's people all live in t2: c1 is inside t2 by population.
    assert links.loc[("t2", "c1"), "share_of_institution"] == pytest.approx(1.0)
    assert not links.loc[("t2", "c1"), "straddling"]
    with pytest.raises(InvalidParameterError, match="basis='population'"):
        concertation_from_tables({"css": CSS}, basis="population")


def test_explanations_in_french_and_english() -> None:
    r = risk()
    fr = r.explain_table("t2")
    assert fr.startswith("La MRC Deux (t2) doit se coordonner avec 2 CSS et 1 RLS")
    assert "(3 institutions)" in fr
    assert "1 d'entre elles chevauche sa limite" in fr
    assert (
        "60\u202f% de son territoire relève d'un CSS dont la majeure partie du " in fr
    )
    en = r.explain_table("t2", lang="en")
    assert en.startswith("The MRC Deux (t2) must coordinate with 2 CSSs and 1 RLS")
    assert "60% of its area is served by a CSS most of whose territory lies" in en
    assert "aucune ne chevauche sa limite" in r.explain_table("t1")
    inst = r.explain_institution("css", "c1")
    assert inst.startswith("Le CSS Premier (c1) est convoqué par 2 MRC")
    assert "38\u202f% de son territoire est hors de sa MRC principale, Une (t1)" in inst
    frame = r.tables_frame(lang="en")
    assert frame.loc["t2", "nom"] == "Deux"
    assert frame.loc["t2", "explanation"].startswith("The MRC Deux")
    assert "explanation" in r.institutions_frame().columns


def test_unknown_codes_and_parameters_are_refused() -> None:
    r = risk()
    with pytest.raises(InvalidParameterError, match="'zz' is not a unit of table"):
        r.explain_table("zz")
    with pytest.raises(InvalidParameterError, match="is not an institution"):
        r.explain_institution("css", "zz")
    with pytest.raises(InvalidParameterError, match="at least one institution"):
        concertation_from_tables({})
    with pytest.raises(InvalidParameterError, match="basis must be"):
        concertation_from_tables({"css": CSS}, basis="votes")  # type: ignore[arg-type]


def test_tables_without_any_institution_are_reported_with_zeros() -> None:
    r = concertation_from_tables({"css": CSS}, table_codes=["t1", "t2", "t3"])
    assert r.tables.loc["t3", "n_institutions"] == 0
    assert r.tables.loc["t3", "score"] == 0.0


def test_explanations_for_plural_and_majority_inside_cases() -> None:
    # t1 is split between c1 and c2, each mostly in other tables (t2, t3).
    css = table(
        {
            ("t1", "c1"): 50.0,
            ("t1", "c2"): 50.0,
            ("t2", "c1"): 200.0,
            ("t2", "c3"): 50.0,
            ("t3", "c2"): 200.0,
        }
    )
    r = concertation_from_tables({"css": css}, table_layer="mrc")
    fr = r.explain_table("t1")
    assert "100\u202f% de son territoire relève de 2 CSS dont la majeure partie" in fr
    assert "2 CSSs most of whose territory lies elsewhere" in r.explain_table(
        "t1", lang="en"
    )
    # t2 (80 % in c1) straddles c1, but 80 % of c1 lies in t2: not "elsewhere".
    fr2 = r.explain_table("t2")
    assert "1 d'entre elles chevauche sa limite ; ces institutions à cheval" in fr2
    assert "servent 80\u202f% de son territoire (moyenne par secteur)." in fr2


def test_names_that_repeat_the_noun_are_not_doubled() -> None:
    r = concertation_from_tables(
        {"css": CSS}, table_layer="mrc", names={"css": {"c1": "CSS du Fleuve"}}
    )
    assert r.explain_institution("css", "c1").startswith("Le CSS du Fleuve (c1) est")
