"""French-first text helpers: pick a string by language, format numbers.

What a user reads (reports, map labels, CLI summaries) is French by default and
English on request (``lang="en"``, CLI ``--lang en``). Identifiers stay English.
"""

from __future__ import annotations

from typing import Literal, get_args

from geodecoupage.errors import InvalidParameterError

__all__ = ["LANGS", "Lang", "check_lang", "fmt_float", "fmt_int", "fmt_pct", "pick"]

Lang = Literal["fr", "en"]
LANGS: tuple[str, ...] = get_args(Lang)
_NBSP = "\u202f"  # narrow no-break space: French thousands separator and before %


def check_lang(lang: str) -> Lang:
    """Return *lang* if it is a supported language, else raise.

    Raises
    ------
    InvalidParameterError
        If *lang* is not ``"fr"`` or ``"en"``.
    """
    if lang not in LANGS:
        msg = f"Unknown language {lang!r}; use one of: {', '.join(LANGS)}."
        raise InvalidParameterError(msg)
    return lang  # type: ignore[return-value]


def pick(lang: str, *, fr: str, en: str) -> str:
    """Return the French or English text for *lang*."""
    return fr if check_lang(lang) == "fr" else en


def fmt_int(n: float, lang: str = "fr") -> str:
    """Format a whole number: ``1 234 567`` (fr) or ``1,234,567`` (en)."""
    s = f"{round(n):,}"
    return s.replace(",", _NBSP) if check_lang(lang) == "fr" else s


def fmt_float(x: float, digits: int = 2, lang: str = "fr") -> str:
    """Format a decimal number with *digits* decimals in the language's style."""
    s = f"{x:,.{digits}f}"
    if check_lang(lang) == "fr":
        s = s.replace(",", "\0").replace(".", ",").replace("\0", _NBSP)
    return s


def fmt_pct(share: float, digits: int = 0, lang: str = "fr") -> str:
    """Format a share in [0, 1] as a percentage: ``41 %`` (fr) or ``41%`` (en)."""
    s = fmt_float(100.0 * share, digits, lang)
    return f"{s}{_NBSP}%" if lang == "fr" else f"{s}%"
