"""Repair of names garbled by a wrong text encoding."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geodecoupage.layers._text import repair_names, repair_text

# Real Québec names with every accented letter French uses, plus typographic
# punctuation that Windows-1252 encodes in its 0x80-0x9F range.
NAMES = [
    "Québec",
    "Montréal–Nord",
    "Lévis",
    "Gaspé",
    "Rivière-du-Loup",
    "Îles-de-la-Madeleine",
    "Sainte-Anne-des-Monts",
    "L’Île-Perrot",
    "Côte-Saint-Luc",
    "Baie-D’Urfé",
    "Val-d’Or",
    "Notre-Dame-de-l’Île-Perrot",
    "Saint-Honoré-de-Shenley",
    "Chûte-aux-Outardes",
    "Pointe-à-la-Croix",
    "Ulverton",
    "Kuujjuaq",
    "Œuvre Ÿ « test » ç ë ï ü",
    "Eeyou Istchee Baie-James",
    "Nunavik ᓄᓇᕕᒃ",
]


def _cp1252_byte(b: int) -> str:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8D, 0x8F, 0x90, 0x9D: kept as C1 controls
        return chr(b)


def double_encode(s: str) -> str:
    """What a reader assuming Windows-1252 makes of UTF-8 bytes."""
    return "".join(_cp1252_byte(b) for b in s.encode("utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_good_names_are_unchanged(name):
    assert repair_text(name) == name


@pytest.mark.parametrize("name", [n for n in NAMES if "ᓄ" not in n])
def test_double_encoded_names_are_repaired(name):
    garbled = double_encode(name)
    assert repair_text(garbled) == name


@pytest.mark.parametrize("name", ["Québec", "Montréal", "Île"])
def test_latin1_double_encoding_is_repaired(name):
    # Latin-1 keeps the bytes 0x80-0x9F as C1 controls (É -> 'Ã\x89').
    assert repair_text(name.encode("utf-8").decode("latin-1")) == name


def test_names_encoded_twice_over_are_repaired():
    assert repair_text(double_encode(double_encode("Québec"))) == "Québec"


def test_known_examples():
    assert repair_text("QuÃ©bec") == "Québec"
    assert repair_text("MontrÃ©alâ€“Nord") == "Montréal–Nord"
    assert repair_text("ÃŽles-de-la-Madeleine") == "Îles-de-la-Madeleine"


def test_latin1_bytes_escaped_by_surrogates_are_repaired():
    escaped = "Québec".encode("latin-1").decode("utf-8", errors="surrogateescape")
    assert escaped != "Québec"
    assert repair_text(escaped) == "Québec"


def test_text_that_is_not_mojibake_is_kept():
    # A lead character followed by ASCII is not valid UTF-8 once re-encoded.
    for s in ["São Paulo", "Ã la carte", "â", "Ôtez-vous", "Écoles"]:
        assert repair_text(s) == s


def test_windows1252_read_as_latin1_is_repaired():
    for name in ["Val-d’Or", "Œuvre – « test »", "L’Île-Perrot"]:
        assert repair_text(name.encode("cp1252").decode("latin-1")) == name


def test_repair_names_keeps_index_name_and_missing_values():
    s = pd.Series(
        ["LÃ©vis", None, "Gaspé"], index=["a", "b", "c"], name="nom", dtype=object
    )
    out = repair_names(s)
    assert out.tolist() == ["Lévis", None, "Gaspé"]
    assert out.index.tolist() == ["a", "b", "c"]
    assert out.name == "nom"
    assert s.tolist()[0] == "LÃ©vis"  # input untouched


def test_repair_names_keeps_string_dtype():
    s = pd.Series(["QuÃ©bec", pd.NA], dtype="string")
    out = repair_names(s)
    assert out.dtype == "string"
    assert out[0] == "Québec"
    assert out.isna().tolist() == [False, True]


def test_repair_names_leaves_non_text_alone():
    s = pd.Series([1, 2.5, None], dtype=object)
    assert repair_names(s).tolist() == [1, 2.5, None]


# ---------------------------------------------------------------------------
# properties

# Letters and plain punctuation. Typographic signs (« » ’ – œ) fall in the
# 0x80-0xBF range of Windows-1252: right after a capital accented letter they
# would form a mojibake pair (e.g. "Â«" is "«" double-encoded), a sequence no real
# name holds; they are covered by the NAMES examples above.
french = st.text(
    alphabet=st.sampled_from(list("abcdeéèêëàâîïôöùûüçæ ÉÈÀÂÎÔÇ-'.()0123456789")),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_property_repair_text_is_idempotent(s):
    once = repair_text(s)
    assert repair_text(once) == once


@settings(max_examples=300, deadline=None)
@given(french)
def test_property_good_french_text_is_unchanged(s):
    assert repair_text(s) == s


@settings(max_examples=300, deadline=None)
@given(french, st.integers(min_value=1, max_value=3))
def test_property_repair_undoes_repeated_double_encoding(s, times):
    garbled = s
    for _ in range(times):
        garbled = double_encode(garbled)
    assert repair_text(garbled) == s
