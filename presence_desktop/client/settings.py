"""The desktop app's settings in one typed place (pydantic), in the platform's config directory.

Layout (``<config dir>`` is ``$PRESENCE_DESKTOP_CONFIG_DIR`` or platformdirs'
``user_config_path("presence-desktop")``: ``~/.config/presence-desktop`` on Linux,
``%LOCALAPPDATA%\\presence-desktop`` on Windows, ``~/Library/Application Support/presence-desktop``
on macOS)::

    <config dir>/settings.json        AppSettings: what the user chose (versioned, migrated)
    <config dir>/profiles/<name>.json one config.Profile per AWS deployment
                                      (written by ``presence-desktop profile import``)
    <config dir>/ui-state.json        UiState: window geometry, column widths (disposable)

UI state is kept apart from settings: losing it costs a window position, never a choice.
Secrets never live here (the refresh token goes to the OS keyring, see auth/token_store.py).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from presence_desktop.client.profile import Profile

log = logging.getLogger(__name__)

APP_NAME = "presence-desktop"
CONFIG_DIR_ENV = "PRESENCE_DESKTOP_CONFIG_DIR"
SETTINGS_VERSION = 2


class SettingsError(ValueError):
    """A settings or profile file that cannot be read; the message names the file and the fix."""


def config_dir() -> Path:
    env = os.environ.get(CONFIG_DIR_ENV)
    return Path(env) if env else platformdirs.user_config_path(APP_NAME)


class LastStatus(BaseModel):
    """The last status a user chose themselves, offered again at the next start."""

    model_config = ConfigDict(extra="ignore")

    status: str
    message: str | None = None


class AppSettings(BaseModel):
    """What the user chose. ``version`` allows migrations when fields change."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    version: int = SETTINGS_VERSION
    last_profile: str | None = Field(default=None, description="profile preselected at sign-in")
    last_username: str | None = None
    remember_me: bool = True
    heartbeat_s: float = Field(default=30.0, gt=0, le=600, description="seconds between heartbeats")
    stale_after_s: float | None = Field(
        default=None, gt=0, description="client-side 'heartbeat overdue' after this many seconds; None = off"
    )
    minimize_to_tray: bool = True
    watched_teams: dict[str, list[str]] = Field(
        default_factory=dict,
        description="the team picker's choice per '<profile>/<username>'; absent = all my teams (docs/teams.md)",
    )
    tray_hint_shown: bool = Field(default=False, description="closing to the tray was explained once")
    # The agent's day (README "The agent's day"); version 2.
    idle_after_min: int = Field(default=10, ge=0, le=240, description="minutes without input before Away; 0 = off")
    on_return: Literal["ask", "auto"] = Field(
        default="ask", description="after idle Away: ask 'Back to Available?' or return by itself"
    )
    restore_at_start: bool = Field(default=True, description="offer the last status chosen at the next start")
    notifications: bool = True
    last_status: dict[str, LastStatus] = Field(
        default_factory=dict, description="'<profile>/<username>' -> the last status that user chose"
    )
    reduced_motion: bool = Field(
        default=False, description="changed roster rows carry a still marker instead of a fading flash"
    )
    team_names: dict[str, str] = Field(
        default_factory=dict, description="team id -> the name the roster shows (the deployment's data)"
    )
    alerts: list[dict[str, Any]] = Field(
        default_factory=list, description="a supervisor's alert rules (client/alerts.py AlertRule.to_dict)"
    )


class UiState(BaseModel):
    """Window geometry and table header state (Qt's own base64 blobs); disposable."""

    model_config = ConfigDict(extra="ignore")

    roster_window: dict[str, str] = Field(default_factory=dict)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{path} is not valid JSON ({exc}); fix or delete it") from None


def _upgrade_to_2(data: dict[str, Any]) -> None:
    """Version 2 adds the agent's day. A version-1 ``stale_after_s`` of 0 meant "off" to some
    hand-edited files but is refused by the model now: it becomes None. The new fields take
    their defaults (idle detection on at 10 min, asking on return, restore offered)."""
    if data.get("stale_after_s") == 0:
        data["stale_after_s"] = None


# version reached -> the step from the version before (Picard's config_upgrade.py pattern:
# one function per step, applied in order, so a file several versions old walks every step).
_UPGRADES: dict[int, Callable[[dict[str, Any]], None]] = {2: _upgrade_to_2}


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older settings file up to :data:`SETTINGS_VERSION`, one step at a time.
    Raises :class:`SettingsError` for a file from a newer app or a bad version."""
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SettingsError(f"settings version {version!r} is not a version; fix or delete the file")
    if version > SETTINGS_VERSION:
        raise SettingsError(f"settings written by a newer app (version {version!r}); update presence-desktop")
    for step in range(version + 1, SETTINGS_VERSION + 1):
        _UPGRADES[step](data)
        log.info("settings upgraded to version %d", step)
        data["version"] = step
    return data


class SettingsStore:
    """Load and save :class:`AppSettings`, :class:`UiState` and saved profiles under ``root``."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root is not None else config_dir()

    @property
    def settings_path(self) -> Path:
        return self.root / "settings.json"

    @property
    def ui_state_path(self) -> Path:
        return self.root / "ui-state.json"

    @property
    def profiles_dir(self) -> Path:
        return self.root / "profiles"

    def load_settings(self) -> AppSettings:
        """Raises :class:`SettingsError` on a malformed file; a missing file gives defaults."""
        if not self.settings_path.exists():
            return AppSettings()
        data = _read_json(self.settings_path)
        if not isinstance(data, dict):
            raise SettingsError(f"{self.settings_path} must hold a JSON object")
        try:
            return AppSettings.model_validate(_migrate(data))
        except ValidationError as exc:
            raise SettingsError(f"{self.settings_path}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None

    def save_settings(self, settings: AppSettings) -> None:
        _write_atomic(self.settings_path, settings.model_dump_json(indent=2))

    def load_ui_state(self) -> UiState:
        """Never raises: a broken UI state file is just forgotten."""
        try:
            return UiState.model_validate(_read_json(self.ui_state_path))
        except (OSError, SettingsError, ValidationError):
            return UiState()

    def save_ui_state(self, state: UiState) -> None:
        try:
            _write_atomic(self.ui_state_path, state.model_dump_json(indent=2))
        except OSError as exc:
            log.info("could not save the window state: %s", exc)

    def profile_names(self) -> list[str]:
        if not self.profiles_dir.is_dir():
            return []
        return sorted(p.stem for p in self.profiles_dir.glob("*.json"))

    def load_profile(self, name: str) -> Profile:
        """Raises :class:`SettingsError` when the profile is missing or malformed."""
        path = self.profiles_dir / f"{name}.json"
        if not path.is_file():
            known = ", ".join(self.profile_names()) or "none"
            raise SettingsError(
                f"no profile named {name!r} (saved: {known}); import one with "
                "`presence-desktop profile import --stack-outputs FILE`"
            )
        data = _read_json(path)
        try:
            return Profile.model_validate(data)
        except ValidationError as exc:
            raise SettingsError(f"{path}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None

    def save_profile(self, profile: Profile) -> Path:
        path = self.profiles_dir / f"{profile.name}.json"
        _write_atomic(path, profile.model_dump_json(indent=2))
        return path
