"""The one compact-JSON encoding (domain/compact_json.py): JSON.stringify's text."""

from presence_desktop.domain.compact_json import compact_json


def test_no_spaces_and_non_ascii_kept():
    assert compact_json({"a": [1, "é"], "b": None}) == '{"a":[1,"é"],"b":null}'


def test_ascii_only_escapes():
    assert compact_json({"a": "é"}, ascii_only=True) == '{"a":"\\u00e9"}'
