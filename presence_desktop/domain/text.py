"""The text policy for user text every window shows: status messages and display names.

Decided once, applied by the relay before it stores (so every client sees the same bytes);
docs/text-policy.md says why. :func:`clean_text` removes what cannot be seen but changes what is
seen or how it is read:

- control characters (Unicode category Cc: NUL, ESC, DEL, C1 ...): a line break or tab becomes
  one space (a message is one line), every other control is removed;
- bidirectional formatting characters (LRM, RLM, ALM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI):
  removed, so "‮txt.exe" cannot show as "exe.txt";
- other invisible format characters (Unicode category Cf: zero-width space, word joiner, BOM,
  soft hyphen, invisible operators, tag characters ...): removed, except ZWJ/ZWNJ between two
  visible characters, where emoji sequences and several scripts need them;
- runs of whitespace become one space; leading and trailing whitespace is removed.

Nothing is rejected: a name comes from the user pool and cannot be refused, and a message keeps
its visible text. (Unicode categories: https://www.unicode.org/reports/tr44/#General_Category_Values;
bidi controls: https://www.unicode.org/reports/tr9/#Explicit_Directional_Embeddings)
"""

from __future__ import annotations

import re
import unicodedata

_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ
_LINE_BREAKS = frozenset("\t\n\v\f\r\x85\u2028\u2029")
_SPACES = re.compile(r"\s+")


def _visible(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf")


def clean_text(text: str) -> str:
    """``text`` after the policy above ("" when nothing visible is left)."""
    out: list[str] = []
    n = len(text)
    for i, ch in enumerate(text):
        if ch in _LINE_BREAKS:
            out.append(" ")
            continue
        category = unicodedata.category(ch)
        if category == "Cc":
            continue
        if category == "Cf" or ch in ("\u2028", "\u2029"):
            if ch in _JOINERS and i > 0 and i + 1 < n and _visible(text[i - 1]) and _visible(text[i + 1]):
                out.append(ch)
            continue
        out.append(ch)
    return _SPACES.sub(" ", "".join(out)).strip()
