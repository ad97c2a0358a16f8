"""Repair unit names garbled by a wrong text encoding ("mojibake").

Three defects occur in Québec boundary files:

* **double-encoded UTF-8**: UTF-8 bytes decoded once more as Windows-1252 or
  Latin-1, so ``"Québec"`` reads ``"QuÃ©bec"`` and ``"Montréal–Nord"`` reads
  ``"MontrÃ©alâ€“Nord"``;
* **Latin-1 bytes decoded as UTF-8 with escapes**: the lost bytes come back as
  lone surrogates (``"Qu\\udce9bec"``, Python's ``surrogateescape``);
* **Windows-1252 read as Latin-1**: typographic signs become C1 controls
  (``"Val-d\\x92Or"``).

:func:`repair_text` undoes them. Double encoding is undone only when the
result is strictly valid UTF-8, so correct text (which never forms valid UTF-8
when re-encoded) is returned unchanged, and repairing twice is the same as
repairing once.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)

__all__ = ["repair_names", "repair_text"]

#: Lead characters of a double-encoded UTF-8 sequence once read as cp1252/Latin-1
#: (bytes 0xC2-0xF4 give Â..ô); text without any of them is returned at once.
_LEADS = frozenset(chr(b) for b in range(0xC2, 0xF5))


def _cp1252_or_none(b: int) -> str | None:
    try:
        return bytes([b]).decode("cp1252")
    except UnicodeDecodeError:
        return None


#: C1 control characters (U+0080-U+009F) that Windows-1252 maps to printable
#: signs: a Windows-1252 file read as Latin-1 shows "Val-d\x92Or" for "Val-d’Or".
_C1_TO_CP1252 = {
    chr(b): ch for b in range(0x80, 0xA0) if (ch := _cp1252_or_none(b)) is not None
}


def _as_single_bytes(s: str) -> bytes | None:
    """Re-encode *s* one byte per character (cp1252, else Latin-1), or None."""
    out = bytearray()
    for ch in s:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            code = ord(ch)
            if code < 0x100:  # C1 controls and cp1252's five undefined bytes
                out.append(code)
            else:
                return None
    return bytes(out)


def _undo_double_encoding(s: str) -> str:
    if not any(ch in _LEADS for ch in s):
        return s
    raw = _as_single_bytes(s)
    if raw is None:
        return s
    try:
        fixed = raw.decode("utf-8")
    except UnicodeDecodeError:
        return s
    return fixed


def _undo_surrogates(s: str) -> str:
    if not any("\udc80" <= ch <= "\udcff" for ch in s):
        return s
    try:
        raw = s.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:  # other lone surrogates: not escaped bytes
        return s
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def repair_text(s: str) -> str:
    """Return *s* with double-encoded UTF-8 and escaped Latin-1 bytes repaired.

    Parameters
    ----------
    s
        A unit name, possibly garbled.

    Returns
    -------
    str
        The repaired name; *s* itself when it is already correct.

    Notes
    -----
    A string is repaired when re-encoding each character as one byte
    (Windows-1252, or Latin-1 for the C1 control range) gives valid UTF-8
    bytes that decode to a different string; this is repeated until nothing
    changes (names encoded twice over exist), so the result is a fixed point.
    Correct French text cannot pass that test: an accented letter followed by
    a plain letter is never a valid UTF-8 sequence. The only text changed
    wrongly would be an accented capital (Â-ô) directly followed by a sign of
    Windows-1252's 0x80-0xBF range (« » ’ – œ ...), e.g. ``"Â«"``, which is
    itself the double encoding of ``"«"``; no place name holds such a pair.
    Lone surrogates (bytes escaped when Latin-1 was read as UTF-8) are turned
    back into bytes and decoded as UTF-8, else as Windows-1252. Last, C1
    control characters left (a Windows-1252 file read as Latin-1, e.g. a
    shapefile without ``.cpg``) become the Windows-1252 sign of the same byte
    (``"\x92"`` -> ``"’"``); no name holds a control character.

    Examples
    --------
    >>> repair_text("QuÃ©bec")
    'Québec'
    >>> repair_text("MontrÃ©alâ€“Nord")
    'Montréal–Nord'
    >>> repair_text("Québec")
    'Québec'
    """
    out = _undo_surrogates(s)
    while True:  # each change shortens the string, so this ends
        fixed = _undo_double_encoding(out)
        if fixed == out:
            break
        out = fixed
    if any(ch in _C1_TO_CP1252 for ch in out):
        # Same bytes under the one-byte re-encoding above: stays a fixed point.
        out = "".join(_C1_TO_CP1252.get(ch, ch) for ch in out)
    return out


def _repair_value(value: Any) -> Any:
    return repair_text(value) if isinstance(value, str) else value


def repair_names(series: pd.Series) -> pd.Series:
    """Return a copy of *series* with every text value passed to :func:`repair_text`.

    Missing values and non-text values are kept as they are; the index, name
    and dtype are preserved. The number of repaired values is logged at INFO.

    Examples
    --------
    >>> repair_names(pd.Series(["LÃ©vis", "Gaspé"], name="nom")).tolist()
    ['Lévis', 'Gaspé']
    """
    values = [_repair_value(v) for v in series.tolist()]
    out = pd.Series(values, index=series.index, name=series.name, dtype=series.dtype)
    changed = sum(
        1
        for old, new in zip(series.tolist(), values, strict=True)
        if isinstance(old, str) and old != new
    )
    if changed:
        logger.info(
            "repaired the text encoding of %d name(s) in %r", changed, series.name
        )
    return out
