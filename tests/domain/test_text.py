"""User text: neutralised for display (issue 15, item 5) and the relay's text policy (docs/text-policy.md)."""

import pytest

from presence_desktop.domain.text import REPLACEMENT, clean_text, display_text, menu_text, no_markup

RLO, ZWSP, LRI, PDI = "\u202e", "\u200b", "\u2066", "\u2069"


def test_bidi_overrides_zero_width_and_controls_are_neutralised():
    # "back in 5" + RLO + text displayed as "back in 5back in 90 min"
    assert display_text("back in 5" + RLO + "nim 09 ni kcab") == "back in 5nim 09 ni kcab"
    assert display_text("agent" + ZWSP + "-7") == "agent-7"
    assert display_text(LRI + "x" + PDI + "\u200e\u200f\u061c\ufeff\u00ad") == "x"
    assert display_text("line1\nline2\tx\x00\x1b[31m\x7f\x85") == f"line1{REPLACEMENT}line2{REPLACEMENT}x{REPLACEMENT}{REPLACEMENT}[31m{REPLACEMENT}{REPLACEMENT}"
    assert display_text("\ud800") == REPLACEMENT  # a lone surrogate


def test_ordinary_text_is_untouched():
    for text in ("Ada Lovelace", "José Ñúñez", "محمد", "李小龍", "<b>SPOOF</b> agent-7", "👩\u200d💻 on call"):
        assert display_text(text) == text
    assert display_text(None) == "" and display_text("") == ""


def test_markup_and_mnemonics_for_channels_the_app_does_not_control():
    assert no_markup("<b>SPOOF</b> & co" + RLO) == "\u2039b\u203aSPOOF\u2039/b\u203a \uff06 co"
    assert menu_text("R&D") == "R&&D"



@pytest.mark.parametrize("raw,clean", [
    ("back\u202e at 3", "back at 3"),  # right-to-left override
    ("invoice\u202efdp.exe", "invoicefdp.exe"),
    ("\u2066Anna\u2069 \u200fK.", "Anna K."),  # isolates, RLM
    ("a\u200bgent-7", "agent-7"),  # zero-width space
    ("\ufeffhello\u2060world", "helloworld"),  # BOM, word joiner
    ("line1\nline2\r\n\tend", "line1 line2 end"),
    ("nul\x00 esc\x1b[31m del\x7f", "nul esc[31m del"),
    ("  spaced   out  ", "spaced out"),
    ("\u200d\u200b\n", ""),
    ("family \U0001f468\u200d\U0001f469\u200d\U0001f467", "family \U0001f468\u200d\U0001f469\u200d\U0001f467"),  # ZWJ kept
    ("\u200dlead and trail\u200d", "lead and trail"),  # a ZWJ joining nothing goes
    ("Zoë Ångström 王", "Zoë Ångström 王"),
])
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean
