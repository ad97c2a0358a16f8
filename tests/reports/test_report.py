"""The one-file HTML audit report on the toy layers (numbers known by construction)."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from geodecoupage.errors import InvalidParameterError, OutputExistsError
from geodecoupage.maps.offline import external_assets
from geodecoupage.reports import (
    build_report,
    split_sensitivity,
    write_report,
)

NNBSP = "\u202f"


def _srcdocs(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'srcdoc="([^"]*)"', page)]


def test_report_matrix_is_the_audit_non_nested_share(report_fr):
    # B (half the area) and X (70 %) do not nest; R holds several units
    table = re.search(
        r'<div class="gd-scroll"><table class="gd-table">.*?</table>',
        report_fr.split('id="matrice"')[1],
    ).group(0)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", table)
    assert cells == ["", "0,50", "0,00", "0,70", "", "0,00", "1,00", "1,00", ""]


def test_split_sensitivity_by_construction(toy_atlas):
    s = split_sensitivity(toy_atlas, thresholds=(0.0, 0.01, 0.45))
    assert s.loc[0.01].to_dict() == {"mrc": 0.5, "css": 0.5, "regions": 0.0}
    # above 40 % B's smaller piece (40 %) and X's (29 %) are ignored
    assert s.loc[0.45].to_dict() == {"mrc": 0.0, "css": 0.0, "regions": 0.0}
    assert (s.diff().dropna() <= 1e-12).all().all()  # never increases with tau


def test_report_sections_and_findings(report_fr):
    for anchor in (
        "resume",
        "matrice",
        "scissions",
        "surconcertation",
        "cartes",
        "figures",
        "parametres",
        "donnees",
    ):
        assert f'id="{anchor}"' in report_fr
    assert "<b>MRC la plus scindée</b> : MRC Bêta (B)" in report_fr
    assert "coupée par 1 couche(s) : css (2)" in report_fr
    assert (
        "<b>Institution convoquée par le plus de tables</b> : CSS Xénon (X)"
        in report_fr
    )
    assert "2 tables « MRC »" in report_fr
    assert '<html lang="fr">' in report_fr


def test_report_is_self_contained(report_fr):
    assert external_assets(report_fr) == []
    maps = _srcdocs(report_fr)
    assert len(maps) == 2  # overlap map and over-concertation map
    for page in maps:
        assert page.startswith("<!DOCTYPE html>")
        assert external_assets(page) == []
        assert "inlined from the xstatic-leaflet package" in page
    assert "data:image/png;base64," in report_fr  # static map
    assert report_fr.count("<svg") >= 2  # matrix and sensitivity


def test_report_lists_parameters_sources_and_attributions(report_fr):
    for key in ("mrc", "css", "regions"):
        assert f"Source {key.upper()} (test), CC BY 4.0" in report_fr
    assert "<td>threshold</td><td>0,01</td>" in report_fr
    assert "<td>cli</td><td>report</td>" in report_fr
    assert "<td>audit</td><td>tables</td><td>mrc</td>" in report_fr
    assert "<td>audit</td><td>institutions</td><td>css</td>" in report_fr


def test_report_in_english(toy_layers, toy_atlas):
    page = build_report(toy_layers, atlas=toy_atlas, lang="en", include_maps=False)
    assert '<html lang="en">' in page
    assert "<b>Most split RCM</b>: MRC Bêta (B)" in page
    assert "Summary" in page
    assert "Résumé" not in page


def test_report_without_atlas_still_documents_the_layers(toy_layers):
    page = build_report(toy_layers, include_figures=False)
    assert "pass an atlas" not in page
    assert "fournissez un atlas" in page
    assert 'id="cartes"' in page
    assert 'id="matrice"' not in page


def test_given_inputs_replace_computed_ones(toy_layers, toy_atlas):
    matrix = pd.DataFrame(
        [[np.nan, 0.123], [0.456, np.nan]], index=["mrc", "css"], columns=["mrc", "css"]
    )
    page = build_report(
        toy_layers,
        atlas=toy_atlas,
        matrix=matrix,
        include_maps=False,
        include_figures=False,
        table_layer=None,
    )
    assert "0,12" in page
    assert "0,46" in page
    assert 'id="surconcertation"' not in page


def test_bad_arguments(toy_layers, toy_atlas):
    with pytest.raises(InvalidParameterError, match="layers is empty"):
        build_report({})
    with pytest.raises(InvalidParameterError, match="table_layer='rls'"):
        build_report(toy_layers, atlas=toy_atlas, table_layer="rls")
    with pytest.raises(InvalidParameterError, match="threshold"):
        build_report(toy_layers, threshold=0.9)


def test_write_report_refuses_to_overwrite_before_building(
    toy_layers, tmp_path, monkeypatch
):
    out = write_report(
        tmp_path / "r.html", toy_layers, include_maps=False, include_figures=False
    )
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")

    def boom(*a, **k):
        raise AssertionError("built before checking the destination")

    monkeypatch.setattr("geodecoupage.reports.report.build_report", boom)
    with pytest.raises(OutputExistsError, match="already exists"):
        write_report(out, toy_layers)


def test_same_inputs_same_bytes(toy_layers, toy_atlas):
    # figures are checked for reproducibility in tests/maps/test_figures.py
    a = build_report(toy_layers, atlas=toy_atlas, include_figures=False)
    b = build_report(toy_layers, atlas=toy_atlas, include_figures=False)
    assert a == b
