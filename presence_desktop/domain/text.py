"""User text: the relay's policy for what it stores, and what every window does before showing it.

Two functions, two moments:

- :func:`clean_text`, applied by the relay before it stores a message or a display name, so every
  client sees the same bytes (docs/text-policy.md says why):

  - control characters (Unicode category Cc: NUL, ESC, DEL, C1 ...): a line break or tab becomes
    one space (a message is one line), every other control is removed;
  - bidirectional formatting characters (LRM, RLM, ALM, LRE/RLE/PDF/LRO/RLO, LRI/RLI/FSI/PDI):
    removed, so "‮txt.exe" cannot show as "exe.txt";
  - other invisible format characters (Unicode category Cf: zero-width space, word joiner, BOM,
    soft hyphen, invisible operators, tag characters ...): removed, except ZWJ/ZWNJ between two
    visible characters, where emoji sequences and several scripts need them;
  - runs of whitespace become one space; leading and trailing whitespace is removed.

  Nothing is rejected: a name comes from the user pool and cannot be refused, and a message keeps
  its visible text.

- :func:`display_text` (and :func:`no_markup`, :func:`menu_text`), applied by the window to every
  name, message and team it shows, whatever the server sent (an older relay, another client):
  control characters become U+FFFD, format characters are removed. It does not escape markup:
  every widget shows user text as plain text (``Qt.PlainText``) or escapes it itself.

Unicode categories: https://www.unicode.org/reports/tr44/#General_Category_Values; the bidi
controls: https://www.unicode.org/reports/tr9/#Explicit_Directional_Formatting_Characters.
"""

from __future__ import annotations

import functools
import re
import unicodedata

REPLACEMENT = "\ufffd"  # what a control character becomes: visible, never acting
_ZWJ = "\u200d"


@functools.lru_cache(maxsize=1 << 14)
def display_text(value: str | None) -> str:
    """``value`` as it may be shown: control characters (category Cc: C0, DEL, C1, also
    newlines and tabs) become U+FFFD; format characters (Cf: the bidi embeddings, overrides,
    isolates and marks, zero-width spaces and joiners, the BOM, soft hyphens, ...) are removed,
    except a zero-width joiner between two symbols (emoji sequences such as 👩‍💻); lone
    surrogates become U+FFFD. None -> "". Cached: the table asks for the same names every paint."""
    if not value:
        return ""
    if value.isprintable() and value.isascii():
        return value  # the common case, without a walk
    out: list[str] = []
    n = len(value)
    for i, ch in enumerate(value):
        cat = unicodedata.category(ch)
        if cat == "Cc" or cat == "Cs":
            out.append(REPLACEMENT)
        elif cat == "Cf":
            if ch == _ZWJ and 0 < i < n - 1 and unicodedata.category(value[i - 1]) == "So" \
                    and unicodedata.category(value[i + 1]) == "So":
                out.append(ch)
        else:
            out.append(ch)
    return "".join(out)


def no_markup(value: str | None) -> str:
    """:func:`display_text`, with ``<``, ``>`` and ``&`` swapped for look-alikes (‹ › ＆), for
    places whose markup handling the app does not control (a desktop notification: some
    notification servers read ``<b>`` in the body, others show ``&lt;`` literally)."""
    return display_text(value).replace("&", "\uff06").replace("<", "\u2039").replace(">", "\u203a")


def menu_text(value: str | None) -> str:
    """:func:`display_text` for a menu item or button: ``&`` doubled, so a name never becomes a
    keyboard mnemonic (Qt reads "&x" as Alt+X)."""
    return display_text(value).replace("&", "&&")


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
