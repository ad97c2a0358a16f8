"""Portraits: an indicator by municipal/census code moved to another layer.

Demo territory: 48 municipalities with a uniform population inside each; two of
them are split between RLS (DEMO_EXPECTED: 99020 53.07 % / 46.93 %, 99034
77.43 % / 22.57 %), the others lie inside one RLS. The reference below places
each whole municipality by a point inside it and splits the two by the documented
shares, independently of the atlas.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import geopandas as gpd
import shapely

from geodecoupage.cli.main import cli
from geodecoupage.datasets import DEMO_EXPECTED, demo_layers, demo_population
from geodecoupage.errors import InvalidParameterError
from geodecoupage.overlay.portrait import (
    PORTRAIT_COLUMNS,
    detect_code_kind,
    normalise_codes,
    portrait,
)

SPLITS = DEMO_EXPECTED.municipality_splits["rls"]


@pytest.fixture(scope="module")
def layers() -> dict[str, gpd.GeoDataFrame]:
    return demo_layers()


@pytest.fixture(scope="module")
def pop() -> gpd.GeoDataFrame:
    return demo_population()


@pytest.fixture(scope="module")
def atlas(layers: dict[str, gpd.GeoDataFrame], pop: gpd.GeoDataFrame) -> Any:
    from geodecoupage.overlay.atlas import build_atlas

    return build_atlas(
        {"municipalites": layers["municipalites"], "rls": layers["rls"]},
        population=pop,
    )


@pytest.fixture(scope="module")
def table(pop: gpd.GeoDataFrame) -> pd.DataFrame:
    """Census-like table: total, three age groups, a rate; CSD codes."""
    n = len(pop)
    total = pop["population"].to_numpy()
    young = np.round(total * np.linspace(0.12, 0.22, n))
    old = np.round(total * np.linspace(0.25, 0.14, n))
    return pd.DataFrame(
        {
            "geo_uid": ["24" + c for c in pop.index],
            "pop_2016": total,
            "pop_0_14": young,
            "pop_15_64": total - young - old,
            "pop_65plus": old,
            "taux": np.linspace(0.05, 0.15, n),
        }
    )


def reference(layers: dict[str, gpd.GeoDataFrame], values: pd.Series) -> pd.Series:
    """Values per RLS: whole municipalities by a point inside, split ones by share."""
    munis = layers["municipalites"]
    rls = layers["rls"]
    points = gpd.GeoDataFrame(
        geometry=shapely.point_on_surface(munis.geometry.array), index=munis.index,
        crs=munis.crs,
    )  # fmt: skip
    where = gpd.sjoin(points, rls[["geometry"]], predicate="within")["code_right"]
    out: dict[str, float] = {}
    for code, value in values.items():
        shares = SPLITS.get(code, {where[code]: 1.0})
        for r, share in shares.items():
            out[r] = out.get(r, 0.0) + share * value
    return pd.Series(out).sort_index()


EXT = ["pop_2016", "pop_0_14", "pop_15_64", "pop_65plus"]


def test_counts_match_an_independent_reference_and_totals_are_kept(
    table: pd.DataFrame, atlas: Any, layers: dict[str, gpd.GeoDataFrame]
) -> None:
    p = portrait(
        table, code_col="geo_uid", to=layers["rls"], atlas=atlas, extensive=EXT
    )
    assert list(p.values.columns) == ["nom", *EXT, *PORTRAIT_COLUMNS]
    codes = table["geo_uid"].str[2:]
    for col in EXT:
        expected = reference(layers, pd.Series(table[col].to_numpy(), index=codes))
        got = p.values[col]
        # Documented shares are rounded to 4 decimals.
        np.testing.assert_allclose(got.loc[expected.index], expected, rtol=2e-4)
        assert got.sum() == pytest.approx(table[col].sum(), rel=1e-12)
        row = p.totals.loc[col]
        assert row["input"] == pytest.approx(
            row["allocated"] + row["outside"] + row["unmatched"], rel=1e-12
        )
    assert p.values["nom"].str.startswith("RLS").all()
    groups = p.values[["pop_0_14", "pop_15_64", "pop_65plus"]].sum(axis=1)
    np.testing.assert_allclose(groups, p.values["pop_2016"], rtol=1e-12)


def test_split_units_and_the_allocation_error(table: pd.DataFrame, atlas: Any) -> None:
    p = portrait(table, code_col="geo_uid", to="rls", atlas=atlas, extensive=EXT)
    split = p.sources.index[p.sources["split"]]
    assert sorted(split) == sorted(SPLITS)
    for code, shares in SPLITS.items():
        assert p.sources.loc[code, "dominant_share"] == pytest.approx(
            max(shares.values()), abs=1e-4
        )
        assert p.sources.loc[code, "n_targets"] == len(shares)
    share = p.values["allocated_share"]
    assert ((share >= 0) & (share <= 1)).all()
    # By hand: population of the split municipalities inside each RLS over its total.
    pops = table.set_index(table["geo_uid"].str[2:])["pop_2016"]
    split_pop = reference_split(pops)
    expected = split_pop.reindex(p.values.index).fillna(0) / p.values["pop_2016"]
    np.testing.assert_allclose(share, expected, atol=2e-4)
    total_split = sum(pops[c] for c in SPLITS) / pops.sum()
    assert p.split_population_share == pytest.approx(total_split, rel=1e-9)
    # Two-way splits: each part moves min(share, 1 - share) of the unit's people.
    moved = {}
    for code, shares in SPLITS.items():
        minor = min(shares.values())
        for r in shares:
            moved[r] = moved.get(r, 0.0) + minor * pops[code]
    expected_moved = pd.Series(moved).reindex(p.values.index).fillna(0.0)
    np.testing.assert_allclose(
        p.values["moved_share"] * p.values["atlas_population"],
        expected_moved,
        rtol=1e-3,
        atol=1e-6,
    )
    outside = sum(min(s.values()) * pops[c] for c, s in SPLITS.items()) / pops.sum()
    assert p.outside_dominant_share == pytest.approx(outside, rel=1e-3)
    assert (p.values["moved_share"] <= p.values["allocated_share"] + 1e-12).all()
    text = p.summary()
    assert "Erreur d'allocation : 2 unités sources" in text
    assert "Allocation error: 2 source units" in p.summary("en")


def reference_split(pops: pd.Series) -> pd.Series:
    out: dict[str, float] = {}
    for code, shares in SPLITS.items():
        for r, share in shares.items():
            out[r] = out.get(r, 0.0) + share * pops[code]
    return pd.Series(out)


def test_intensive_values_are_population_weighted_and_bounded(
    table: pd.DataFrame, atlas: Any
) -> None:
    t = table.assign(constant=0.3, share_65=table["pop_65plus"] / table["pop_2016"])
    p = portrait(
        t, code_col="geo_uid", to="rls", atlas=atlas,
        extensive=["pop_2016", "pop_65plus"],
        intensive=["constant", "share_65", "taux"],
    )  # fmt: skip
    np.testing.assert_allclose(p.values["constant"], 0.3, rtol=1e-12)
    # Atlas population = table population here, so the weighted mean of the
    # shares equals the ratio of the aggregated counts.
    ratio = p.values["pop_65plus"] / p.values["pop_2016"]
    np.testing.assert_allclose(p.values["share_65"], ratio, rtol=1e-9)
    assert p.values["taux"].between(t["taux"].min(), t["taux"].max()).all()


def test_code_kinds_give_the_same_portrait(table: pd.DataFrame, atlas: Any) -> None:
    csd = portrait(table, code_col="geo_uid", to="rls", atlas=atlas, extensive=EXT)
    mun = table.assign(geo_uid=table["geo_uid"].str[2:])
    as_int = table.assign(geo_uid=table["geo_uid"].str[2:].astype(int))
    for other in (mun, as_int):
        p = portrait(other, code_col="geo_uid", to="rls", atlas=atlas, extensive=EXT)
        pd.testing.assert_frame_equal(p.values, csd.values)
    assert csd.code_kind == "csd"
    assert detect_code_kind(["4620014.02", "4620014.01"]) == "ct"
    assert detect_code_kind([1023, 66023]) == "municipal"
    assert normalise_codes(pd.Series([1023, "2466023"]), "csd").tolist() == [
        "01023",
        "66023",
    ]


def test_unknown_and_missing_rows_are_reported_not_lost(
    table: pd.DataFrame, atlas: Any
) -> None:
    extra = pd.DataFrame(
        {"geo_uid": ["2498765"], "pop_2016": [1000.0], "pop_0_14": [np.nan]}
    )
    t = pd.concat([table, extra], ignore_index=True)
    t.loc[0, "pop_0_14"] = np.nan
    p = portrait(t, code_col="geo_uid", to="rls", atlas=atlas, extensive=EXT[:2])
    assert p.unmatched.index.tolist() == ["98765"]
    row = p.totals.loc["pop_2016"]
    assert row["unmatched"] == 1000.0
    assert row["input"] == pytest.approx(row["allocated"] + row["unmatched"])
    assert p.totals.loc["pop_0_14", "missing_rows"] == 2
    assert p.totals.loc["pop_0_14", "input"] == pytest.approx(
        p.values["pop_0_14"].sum()
    )
    assert "98765" in p.summary()


@pytest.mark.usefixtures("patched")
def test_any_user_territory_can_be_the_target(
    table: pd.DataFrame, layers: dict[str, gpd.GeoDataFrame], pop: gpd.GeoDataFrame
) -> None:
    xmin, ymin, xmax, ymax = layers["municipalites"].total_bounds
    xmid = (xmin + xmax) / 2
    halves = gpd.GeoDataFrame(
        {"nom": ["Ouest", "Est"]},
        geometry=[
            shapely.box(xmin, ymin, xmid, ymax), shapely.box(xmid, ymin, xmax, ymax)
        ],
        index=pd.Index(["O", "E"], name="code"), crs=layers["rls"].crs,
    )  # fmt: skip
    halves.attrs["layer"] = "moities"
    p = portrait(
        table, code_col="geo_uid", to=halves, extensive=EXT, population=pop,
        data_dir=None,
    )  # fmt: skip
    assert p.target == "moities"
    assert set(p.values.index) == {"O", "E"}
    assert p.values["pop_2016"].sum() == pytest.approx(table["pop_2016"].sum())
    assert p.values.loc["O", "nom"] == "Ouest"


def test_errors_say_what_and_how_to_fix(table: pd.DataFrame, atlas: Any) -> None:
    with pytest.raises(InvalidParameterError, match="code column 'nope' not in"):
        portrait(table, code_col="nope", to="rls", atlas=atlas)
    with pytest.raises(InvalidParameterError, match=r"'pop_2016'.*both extensive"):
        portrait(
            table, code_col="geo_uid", to="rls", atlas=atlas,
            extensive=["pop_2016"], intensive=["pop_2016"],
        )  # fmt: skip
    with pytest.raises(InvalidParameterError, match="'nom' is not numeric"):
        portrait(
            table.assign(nom="x"), code_col="geo_uid", to="rls", atlas=atlas,
            extensive=["nom"],
        )  # fmt: skip
    with pytest.raises(InvalidParameterError, match="dissemination areas"):
        portrait(
            table.assign(geo_uid=table["geo_uid"] + "1"), code_col="geo_uid",
            to="rls", atlas=atlas,
        )  # fmt: skip
    with pytest.raises(InvalidParameterError, match="no layer 'css'"):
        portrait(table, code_col="geo_uid", to="css", atlas=atlas)
    with pytest.raises(InvalidParameterError, match="already by municipalites"):
        portrait(table, code_col="geo_uid", to="municipalites", atlas=atlas)
    with pytest.raises(InvalidParameterError, match="mixed kinds"):
        detect_code_kind(["2466023", "4620014.02"])


def test_json_and_csv_outputs_are_stable(
    table: pd.DataFrame, atlas: Any, tmp_path: Path
) -> None:
    p = portrait(table, code_col="geo_uid", to="rls", atlas=atlas, extensive=EXT)
    a = p.write(tmp_path / "a.csv")
    b = portrait(table, code_col="geo_uid", to="rls", atlas=atlas, extensive=EXT).write(
        tmp_path / "b.csv"
    )
    assert a.read_bytes() == b.read_bytes()
    data = json.loads(p.to_json())
    assert data["n_split_sources"] == 2
    assert len(data["values"]) == 5
    with pytest.raises(InvalidParameterError, match=r"\.csv or \.json"):
        p.write(tmp_path / "x.xlsx")


# -- command line ----------------------------------------------------------------


@pytest.fixture
def patched(
    monkeypatch: pytest.MonkeyPatch,
    layers: dict[str, gpd.GeoDataFrame],
    pop: gpd.GeoDataFrame,
) -> None:
    def read_layer(key: str, **_: Any) -> Any:
        return layers[key].copy()

    monkeypatch.setattr("geodecoupage.layers.read_layer", read_layer)
    monkeypatch.setattr(
        "geodecoupage.overlay.population.population_surface", lambda **_: pop
    )


@pytest.mark.usefixtures("patched")
def test_cli_writes_csv_and_prints_json(table: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "ind.csv"
    table.to_csv(src, index=False)
    out = tmp_path / "rls.csv"
    args = ["portrait", "--indicator", str(src), "--code-col", "geo_uid", "--to", "rls"]
    res = CliRunner().invoke(cli, [*args, "--extensive", ",".join(EXT), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "Erreur d'allocation" in res.stdout
    frame = pd.read_csv(out, dtype={"code": str}).set_index("code")
    assert frame["pop_2016"].sum() == pytest.approx(table["pop_2016"].sum())
    again = CliRunner().invoke(cli, [*args, "-o", str(out)])
    assert again.exit_code == 1
    assert "--overwrite" in again.stderr
    res = CliRunner().invoke(cli, [*args, "--intensive", "taux", "--lang", "en"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["intensive"] == ["taux"]
    assert "Allocation error" in res.stderr


def test_cli_usage_errors(table: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "ind.csv"
    table.to_csv(src, index=False)
    base = ["portrait", "--indicator", str(src), "--code-col", "geo_uid"]
    bad_to = CliRunner().invoke(cli, [*base, "--to", "nowhere"])
    assert bad_to.exit_code == 2
    assert "neither a layer key" in bad_to.output
    bad_out = CliRunner().invoke(cli, [*base, "--to", "rls", "-o", "x.xlsx"])
    assert bad_out.exit_code == 2
    file_no_col = CliRunner().invoke(cli, [*base, "--to", str(src)])
    assert file_no_col.exit_code == 2
    assert "--to-code-col" in file_no_col.output
    missing = CliRunner().invoke(cli, ["portrait", "--code-col", "x", "--to", "rls"])
    assert missing.exit_code == 2


# -- real data -----------------------------------------------------------------------

AGES = ["pop_0_14", "pop_15_64", "pop_65plus"]


@pytest.fixture(scope="module")
def census(quebec_data: Path) -> pd.DataFrame:
    path = quebec_data / "population/census2016_pop_by_csd_qc.csv"
    return pd.read_csv(path, dtype={"geo_uid": str})


@pytest.fixture(scope="module")
def real_atlas(quebec_data: Path) -> Any:
    from geodecoupage.layers import read_layer
    from geodecoupage.overlay.atlas import build_atlas
    from geodecoupage.overlay.population import population_surface

    with warnings.catch_warnings():  # known quality warnings of the real layers
        warnings.simplefilter("ignore")
        keys = ("municipalites", "mrc", "rls")
        layers = {k: read_layer(k, data_dir=quebec_data) for k in keys}
        return build_atlas(layers, population=population_surface(data_dir=quebec_data))


@pytest.mark.realdata
@pytest.mark.slow
def test_census_age_groups_by_mrc_match_the_official_municipal_grouping(
    census: pd.DataFrame, real_atlas: Any, quebec_data: Path
) -> None:
    from geodecoupage.overlay.population import CSD_2016_SUCCESSORS

    p = portrait(
        census, code_col="geo_uid", to="mrc", atlas=real_atlas,
        extensive=["pop_2016", *AGES], data_dir=quebec_data,
    )  # fmt: skip
    # Conservation: every person of the table is allocated, outside or unmatched.
    for col, row in p.totals.iterrows():
        assert row["input"] == pytest.approx(census[col].sum(), rel=1e-12)
        assert row["input"] == pytest.approx(
            row["allocated"] + row["outside"] + row["unmatched"], rel=1e-9
        )
    v = p.values
    for col in AGES:
        share = v[col] / v["pop_2016"]
        assert share.between(0, 1).all(), col
    # Age groups are randomly rounded to 5 per CSD: their sum stays within 1 %.
    groups = v[AGES].sum(axis=1)
    assert ((groups - v["pop_2016"]).abs() <= 0.01 * v["pop_2016"] + 5).all()
    for col in ("allocated_share", "moved_share"):
        assert v[col].between(0, 1).all(), col
    # Independent reference: the MAMH municipality -> MRC table, codes of 2016
    # mapped to today's as the loader does. Only the apportioning can differ.
    table = pd.read_csv(
        quebec_data / "crosswalks/municipality_to_mrc_region_mamh_2025_derived.csv",
        dtype=str,
    )
    mrc_of = dict(
        zip(table["mus_co_geo"].str.zfill(5), table["sda_mrs_co_mrc"], strict=True)
    )
    codes = census["geo_uid"].str[2:].map(lambda c: CSD_2016_SUCCESSORS.get(c, c))
    ref = census.assign(mrc=codes.map(mrc_of)).groupby("mrc")["pop_2016"].sum()
    got = v["pop_2016"].reindex(ref.index).fillna(0.0)
    weighted = float((got - ref).abs().sum() / ref.sum())
    assert weighted <= p.outside_dominant_share + 0.005
    assert p.outside_dominant_share < 0.03  # municipalities nest in MRC, up to noise


@pytest.mark.realdata
@pytest.mark.slow
def test_census_by_rls_states_the_montreal_split(
    census: pd.DataFrame, real_atlas: Any, quebec_data: Path
) -> None:
    t = census.assign(part_65=census["pop_65plus"] / census["pop_2016"])
    p = portrait(
        t, code_col="geo_uid", to="rls", atlas=real_atlas,
        extensive=["pop_2016", "pop_65plus"], intensive=["part_65"],
        data_dir=quebec_data,
    )  # fmt: skip
    v = p.values
    assert len(v) == 96
    assert v["part_65"].between(0, 1).all()
    # Weighted by the atlas population, close to the ratio of the counts.
    ratio = v["pop_65plus"] / v["pop_2016"]
    assert float((v["part_65"] - ratio).abs().median()) < 0.01
    # Montréal (66023) is one municipality over a dozen RLS: fully apportioned.
    assert p.sources.loc["66023", "split"]
    assert p.sources.loc["66023", "n_targets"] >= 10
    # Most RLS of the island draw (nearly) all their population from it.
    montreal = [c for c in v.index if c.startswith("06")]
    assert (v.loc[montreal, "allocated_share"] > 0.9).sum() >= 8
    assert 0.1 < p.outside_dominant_share < 0.5
