"""Short French/English labels of layer units, for plain-language explanations."""

from __future__ import annotations

from dataclasses import dataclass

from geodecoupage.i18n import check_lang

__all__ = ["UnitLabel", "count_phrase", "label", "list_phrase"]


@dataclass(frozen=True)
class UnitLabel:
    """How to name one unit of a layer in a sentence."""

    fr: str
    fr_plural: str
    feminine: bool
    en: str
    en_plural: str

    def noun(self, lang: str, n: int = 1) -> str:
        """Return the singular or plural noun for *n* units."""
        if check_lang(lang) == "fr":
            return self.fr if n <= 1 else self.fr_plural
        return self.en if n == 1 else self.en_plural

    def definite(self, lang: str) -> str:
        """Return "la MRC" / "le CSS" / "l'arrondissement" / "the MRC"."""
        if check_lang(lang) == "en":
            return f"the {self.en}"
        if self.fr[:1].lower() in "aeiouyéèêh":
            return f"l'{self.fr}"
        return f"{'la' if self.feminine else 'le'} {self.fr}"

    def named(self, lang: str, nom: str) -> str:
        """Return "la MRC Matane", or "le CSS de la Beauce" for a name that
        already starts with the noun ("CSS de la Beauce")."""
        noun = self.fr if check_lang(lang) == "fr" else self.en
        if nom.lower().startswith(noun.lower() + " "):
            article = self.definite(lang)[: -len(noun)]  # "le ", "l'", "the "
            return f"{article}{nom}"
        return f"{self.definite(lang)} {nom}".rstrip()

    def indefinite(self, lang: str) -> str:
        """Return "une MRC" / "un CSS" / "an English school board"."""
        if check_lang(lang) == "en":
            return f"{'an' if self.en[:1].lower() in 'aeiou' else 'a'} {self.en}"
        return f"{'une' if self.feminine else 'un'} {self.fr}"


_LABELS: dict[str, UnitLabel] = {
    "regions": UnitLabel(
        "région", "régions", True, "administrative region", "administrative regions"
    ),
    "mrc": UnitLabel("MRC", "MRC", True, "MRC", "MRCs"),
    "municipalites": UnitLabel(
        "municipalité", "municipalités", True, "municipality", "municipalities"
    ),
    "rss": UnitLabel("RSS", "RSS", True, "RSS", "RSSs"),
    "cisss": UnitLabel("CISSS", "CISSS", False, "CISSS", "CISSSs"),
    "rls": UnitLabel("RLS", "RLS", False, "RLS", "RLSs"),
    "clsc": UnitLabel("CLSC", "CLSC", False, "CLSC", "CLSCs"),
    "css": UnitLabel("CSS", "CSS", False, "CSS", "CSSs"),
    "cs_anglo": UnitLabel(
        "commission scolaire anglophone",
        "commissions scolaires anglophones",
        True,
        "English school board",
        "English school boards",
    ),
    "cs_statut": UnitLabel(
        "commission scolaire à statut particulier",
        "commissions scolaires à statut particulier",
        True,
        "special-status school board",
        "special-status school boards",
    ),
    "mtl_arrondissements": UnitLabel(
        "arrondissement", "arrondissements", False, "borough", "boroughs"
    ),
    "mtl_quartiers": UnitLabel(
        "quartier", "quartiers", False, "neighbourhood", "neighbourhoods"
    ),
}


def label(key: str) -> UnitLabel:
    """Return the label of layer *key* (a neutral "territoire" for unknown keys)."""
    found = _LABELS.get(key)
    if found is not None:
        return found
    if key == "territoire":  # the default key of a user's territory
        return UnitLabel("territoire", "territoires", False, "territory", "territories")
    return UnitLabel(
        f"territoire {key}", f"territoires {key}", False, f"{key} unit", f"{key} units"
    )


def count_phrase(key: str, n: int, lang: str) -> str:
    """Return "3 CSS", "1 commission scolaire anglophone", "2 English school boards"."""
    return f"{n} {label(key).noun(lang, n)}"


def list_phrase(items: list[str], lang: str) -> str:
    """Join *items* as "a, b et c" (fr) or "a, b and c" (en)."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    conj = " et " if check_lang(lang) == "fr" else " and "
    return ", ".join(items[:-1]) + conj + items[-1]
