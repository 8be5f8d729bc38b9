"""Settings version 2 (the agent's day) and the step-by-step migration."""

import json

import pytest

from presence_desktop.client.settings import (
    SETTINGS_VERSION,
    AppSettings,
    LastStatus,
    SettingsError,
    SettingsStore,
)


def test_a_version_1_file_is_upgraded_with_its_choices_kept(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({
        "version": 1, "last_profile": "prod", "last_username": "ada", "remember_me": False,
        "heartbeat_s": 20, "stale_after_s": 0, "minimize_to_tray": False,
    }))
    s = SettingsStore(tmp_path).load_settings()
    assert s.version == SETTINGS_VERSION == 2
    assert (s.last_profile, s.last_username, s.remember_me, s.heartbeat_s, s.minimize_to_tray) == ("prod", "ada", False, 20, False)
    assert s.stale_after_s is None  # 0 meant off in hand-edited v1 files
    assert (s.idle_after_min, s.on_return, s.restore_at_start, s.notifications) == (10, "ask", True, True)


def test_a_file_without_version_is_version_1(tmp_path):
    (tmp_path / "settings.json").write_text(json.dumps({"last_username": "bo"}))
    assert SettingsStore(tmp_path).load_settings().last_username == "bo"


@pytest.mark.parametrize("version, words", [(3, "newer app"), (0, "not a version"), ("2", "not a version"), (True, "not a version")])
def test_bad_versions_are_refused_with_the_fix(tmp_path, version, words):
    (tmp_path / "settings.json").write_text(json.dumps({"version": version}))
    with pytest.raises(SettingsError, match=words):
        SettingsStore(tmp_path).load_settings()


def test_agent_day_settings_round_trip_and_bounds(tmp_path):
    store = SettingsStore(tmp_path)
    s = AppSettings(idle_after_min=0, on_return="auto", restore_at_start=False, notifications=False)
    s.last_status["prod/ada"] = LastStatus(status="break", message="back at 2")
    store.save_settings(s)
    assert store.load_settings() == s
    (tmp_path / "settings.json").write_text(json.dumps({"version": 2, "on_return": "sometimes"}))
    with pytest.raises(SettingsError, match="on_return"):
        store.load_settings()
    with pytest.raises(ValueError):
        AppSettings(idle_after_min=-1)
