"""The text policy (domain/text.py, docs/text-policy.md)."""

import pytest

from presence_desktop.domain.text import clean_text


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
