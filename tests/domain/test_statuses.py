import json

import pytest

from presence_desktop.domain.statuses import UNKNOWN, CatalogueError, StatusCatalogue, UnknownStatusError
from presence_desktop.resources import default_catalogue


def test_default_catalogue_has_the_designed_statuses_in_order():
    cat = default_catalogue()
    assert cat.ids() == ["available", "on_call", "after_call_work", "break", "lunch", "training", "away", "offline"]
    assert cat.get("available").routable is True
    assert not any(s.routable for s in cat if s.id != "available")
    shapes = [s.shape for s in cat]
    assert len(set(shapes)) == len(shapes), "each status needs a distinct shape (readable without colour)"
    assert cat.get("break").budget_s == 900


def test_unknown_status_is_an_error_but_displays_as_unknown():
    cat = default_catalogue()
    with pytest.raises(UnknownStatusError):
        cat.get("coffee")
    assert cat.display("coffee") is UNKNOWN
    assert cat.display(None) is UNKNOWN


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"id": "x", "label": "X", "color": "red", "shape": "circle", "routable": True}, "colour"),
        ({"id": "x", "label": "X", "color": "#ffffff", "shape": "blob", "routable": True}, "shape"),
        ({"id": "X!", "label": "X", "color": "#ffffff", "shape": "circle", "routable": True}, "bad id"),
        ({"id": "x", "label": "X", "color": "#ffffff", "shape": "circle", "routable": "yes"}, "routable"),
        ({"id": "x", "label": "X", "color": "#ffffff", "shape": "circle", "routable": True, "budget_s": 0}, "budget"),
        ({"id": "unknown", "label": "U", "color": "#ffffff", "shape": "circle", "routable": False}, "reserved"),
    ],
)
def test_malformed_catalogue_entries_are_refused_with_a_clear_error(entry, message):
    offline = {"id": "offline", "label": "Offline", "color": "#777777", "shape": "ring", "routable": False}
    with pytest.raises(CatalogueError, match=message):
        StatusCatalogue.from_dict({"schema": 1, "statuses": [entry, offline]})


def test_catalogue_must_define_offline(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"schema": 1, "statuses": [
        {"id": "available", "label": "A", "color": "#00ff00", "shape": "circle", "routable": True}]}))
    with pytest.raises(CatalogueError, match="offline"):
        StatusCatalogue.load(path)


def _cat(**extra):
    base = {"schema": 1, "statuses": [
        {"id": "available", "label": "Available", "color": "#2e9d4f", "shape": "circle", "routable": True},
        {"id": "away", "label": "Away", "color": "#6a1b9a", "shape": "moon", "routable": False},
        {"id": "on_call", "label": "On call", "color": "#c62828", "shape": "diamond", "routable": False},
        {"id": "offline", "label": "Offline", "color": "#757575", "shape": "ring", "routable": False},
    ]}
    return StatusCatalogue.from_dict(base | extra)


def test_default_catalogue_names_the_statuses_the_app_sets_by_itself():
    cat = default_catalogue()
    assert cat.signed_in_status == "away" and cat.idle_status == "away"
    assert cat.quiet_statuses == {"on_call"}
    assert cat.get("lunch").budget_s == 1800  # Lunch 30 min, Break 15 min
    assert cat.routable("available") and not cat.routable("away") and not cat.routable(None)


def test_catalogue_without_the_flags_turns_those_features_off():
    cat = _cat()
    assert cat.signed_in_status is None and cat.idle_status is None and cat.quiet_statuses == frozenset()


@pytest.mark.parametrize("extra, words", [
    ({"idle_status": "available"}, "routes no calls"),  # the app must never set a routable status alone
    ({"signed_in_status": "available"}, "routes no calls"),
    ({"signed_in_status": "offline"}, "not offline"),
    ({"idle_status": "nope"}, "not a status"),
    ({"idle_status": 3}, "status id or null"),
    ({"quiet_statuses": "on_call"}, "list of status ids"),
    ({"quiet_statuses": ["ghost"]}, "not a status"),
])
def test_catalogue_flags_are_checked(extra, words):
    with pytest.raises(CatalogueError, match=words):
        _cat(**extra)
