"""User text neutralised for display (issue 15, item 5)."""

from presence_desktop.domain.text import REPLACEMENT, display_text, menu_text, no_markup

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
