"""User text made safe to show: one function for every name, message and team on screen.

Display names and messages come from other people (an agent can set their own Cognito ``name``
attribute). Shown as they are, a right-to-left override (U+202E) makes "back in 5" + RLO +
"nim 09 ni kcab" read "back in 5back in 90 min", a zero-width space makes two identical-looking
names differ, and control characters break lines or vanish. :func:`display_text` neutralises those; it does not
escape markup: every widget shows user text as plain text (``Qt.PlainText``) or escapes it
itself (``html.escape``), see ``presence_desktop/ui/README.md``.

Unicode categories: https://www.unicode.org/reports/tr44/#General_Category_Values; the bidi
controls: https://www.unicode.org/reports/tr9/#Explicit_Directional_Formatting_Characters.
"""

from __future__ import annotations

import functools
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
