"""The GUI application: wires the windows to the core. The only place that knows both.

Flow: a remembered session is restored without asking (per profile); otherwise the sign-in
window is shown (or, for the devstack demo, credentials given on the command line are used
through the same real SRP flow). Once signed in: a :class:`PresenceService` with the relay and
the live feed of the profile, a :class:`QtBridge`, the roster window and the tray. Quitting runs
the service's bounded shutdown from the runtime's ``aboutToQuit`` hook.

Backends come from two factories so tests can substitute fakes:
``auth_factory(profile, remember) -> AuthSession-like`` and
``backend_factory(profile, auth, identity) -> (RelayApi, LiveFeed)``; an optional
``prepare(profile)`` loads what the backends need (modules, TLS contexts) while a remembered
session is being restored, i.e. while the keyring and Cognito answer on worker threads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from presence_desktop.client.ports import LiveFeed, RelayApi, RelayCallError
from presence_desktop.client.profile import Profile
from presence_desktop.client.service import PresenceService
from presence_desktop.client.settings import AppSettings, LastStatus, SettingsStore, UiState
from presence_desktop.client.signin import plain_auth_error
from presence_desktop.domain.identity import TEAM_CLAIM, Identity, identity_from_token
from presence_desktop.domain.presence import parse_time
from presence_desktop.domain.statuses import StatusCatalogue
from presence_desktop.domain.text import display_text
from presence_desktop.domain.times import clock_time
from presence_desktop.ui.bridge import QtBridge
from presence_desktop.ui.day import DayController
from presence_desktop.ui.roster.window import RosterWindow
from presence_desktop.ui.runtime import QtRuntime, freeze_gc
from presence_desktop.ui.signin_window import SignInWindow
from presence_desktop.ui.supervisor_day import SupervisorDay, supervisor_day_for
from presence_desktop.ui.tray import TrayController
from presence_desktop.ui.widgets import clamp_to_screen

log = logging.getLogger(__name__)

RESTORE_QUIET_S = 0.3  # a restore quicker than this shows no window before the roster
FREEZE_GC_DELAY_MS = 1000  # after the first join: the roster has painted by then

AuthFactory = Callable[[Profile, bool], Any]
BackendFactory = Callable[[Profile, Any, Identity], tuple[RelayApi, LiveFeed]]


def identity_from_claims(claims: Any) -> Identity:
    """``Claims`` (domain/identity.py: sub, username, groups, raw claims) -> :class:`Identity`
    with the teams the token allows (``custom:team_id``, ``custom:supervises``)."""
    raw = {**(getattr(claims, "raw", None) or {}), TEAM_CLAIM: getattr(claims, "team_id", None)}
    return identity_from_token(claims.username, claims.sub, list(claims.groups or ()), raw)


class GuiApp:
    def __init__(
        self,
        runtime: QtRuntime,
        catalogue: StatusCatalogue,
        profiles: dict[str, Profile],
        *,
        auth_factory: AuthFactory,
        backend_factory: BackendFactory,
        store: SettingsStore | None = None,
        settings: AppSettings | None = None,
        prepare: Callable[[Profile], None] | None = None,
    ) -> None:
        self.runtime = runtime
        self.catalogue = catalogue
        self.profiles = profiles
        self.auth_factory = auth_factory
        self.backend_factory = backend_factory
        self.prepare = prepare
        self.store = store
        self.settings = settings or AppSettings()
        self.ui_state = store.load_ui_state() if store else UiState()
        self.profile: Profile | None = None
        self.auth: Any = None
        self.identity: Identity | None = None
        self.service: PresenceService | None = None
        self.bridge: QtBridge | None = None
        self.window: RosterWindow | None = None
        self.tray: TrayController | None = None
        self.day: DayController | None = None
        self.day_options: dict[str, Any] = {}  # DayController keywords (tests: no idle back-end, no OS signals)
        self.supervisor_day: SupervisorDay | None = None
        self.wallboard_at_start = False  # presence-desktop --wallboard: the wall view once the roster joined
        self.signin: SignInWindow | None = None
        self.note: str | None = None
        self._remember_requested = True
        runtime.errorRaised.connect(self._show_problem)
        runtime.add_shutdown_hook(self._shutdown)

    # --- start ---------------------------------------------------------------------------------
    async def start(self, profile_name: str, username: str | None = None, password: str | None = None,
                    remember: bool | None = None) -> None:
        """Restore a remembered session, sign in with the given credentials, or ask.
        ``remember`` (credentials given): keep the session in the keyring; default: the setting."""
        if profile_name not in self.profiles:
            raise ValueError(f"unknown profile {profile_name!r}")
        if username and password:
            self.show_signin(profile_name, username)
            self.signin.set_busy(True, f"Signing in as {username}…")
            remember = self.settings.remember_me if remember is None else remember
            await self._sign_in(profile_name, username, password, remember, save=False)
            return
        profile = self.profiles[profile_name]
        auth = self.auth_factory(profile, True)
        restoring = asyncio.ensure_future(auth.restore())
        if self.prepare is not None:
            # On this (the GUI) thread, once the restore waits on its worker threads: imports hold
            # the GIL, so a thread would gain nothing; this overlaps them with the network waits.
            await asyncio.sleep(0)
            try:
                self.prepare(profile)
            except Exception as exc:  # noqa: BLE001 - only a head start: the backends load it anyway
                log.info("preparing the backends: %s", exc)
        # A keyring may hang or wait for an unlock dialog: after a moment show the window and say
        # what it waits for, rather than nothing (and then a plain sign-in page) for seconds.
        done, _ = await asyncio.wait({restoring}, timeout=RESTORE_QUIET_S)
        if not done:
            waiting = self.show_signin(profile_name, self.settings.last_username)
            waiting.set_busy(True, "Waiting for the keyring to give back your session…")
        try:
            restored = await restoring
        except Exception as exc:  # noqa: BLE001 - fall back to asking
            log.info("could not restore the remembered session: %s", exc)
            restored = None
        if restored is not None:
            self.profile, self.auth = profile, auth
            self.note = getattr(restored, "note", None)
            if self.signin is not None and self.signin.isVisible():
                self.signin.close_by_app()
            self.open_roster(identity_from_claims(restored.claims))
            return
        window = self.show_signin(profile_name, self.settings.last_username)
        if getattr(getattr(auth, "token_store", None), "timed_out", False):
            window.show_note("The keyring did not answer, so your remembered session could not be read. "
                             "Sign in, or quit and try again once the keyring is unlocked.")

    # --- sign-in window --------------------------------------------------------------------------
    def show_signin(self, profile_name: str | None = None, username: str | None = None) -> SignInWindow:
        if self.signin is None:
            names = [(n, "Local devstack" if p.kind == "local" else "AWS") for n, p in self.profiles.items()]
            w = SignInWindow(names)
            w.signInRequested.connect(
                lambda prof, user, pw, rem: self.runtime.spawn(self._sign_in(prof, user, pw, rem), name="sign-in")
            )
            w.newPasswordSubmitted.connect(lambda pw: self.runtime.spawn(self._answer("new_password", pw), name="sign-in"))
            w.mfaCodeSubmitted.connect(lambda code: self.runtime.spawn(self._answer("mfa", code), name="sign-in"))
            w.cancelled.connect(self._signin_cancelled)
            w.challengeCancelled.connect(self._challenge_cancelled)
            self.signin = w
        if profile_name:
            self.signin.select_profile(profile_name)
        if username:
            self.signin.username.setText(username)
        self.signin.reset()
        self.signin.show()
        self.signin.raise_()
        return self.signin

    def _challenge_cancelled(self) -> None:
        # Back on the sign-in page: the half-done sign-in is dropped (a new one starts afresh).
        if self.window is None:
            self.auth = None

    def _signin_cancelled(self) -> None:
        if self.window is None:
            self.runtime.request_quit()

    async def _sign_in(self, profile_name: str, username: str, password: str, remember: bool, save: bool = True) -> None:
        profile = self.profiles[profile_name]
        auth = self.auth_factory(profile, remember)
        try:
            result = await auth.sign_in(username, password)
        except Exception as exc:  # noqa: BLE001 - every failure becomes plain words
            log.info("sign-in failed: %s", type(exc).__name__)
            if self.signin is not None:
                self.signin.show_error(plain_auth_error(exc))
            return
        self.profile, self.auth = profile, auth
        self._remember_requested = remember
        if save:  # what the user chose in the window (not a scripted demo sign-in)
            self.settings.last_profile = profile_name
            self.settings.last_username = username
            self.settings.remember_me = remember
            self._save_settings()
        self._handle_result(result)

    async def _answer(self, kind: str, value: str) -> None:
        try:
            if kind == "new_password":
                result = await self.auth.respond_new_password(value)
            else:
                pending = getattr(self, "_mfa_kind", "totp")
                result = await (self.auth.respond_sms(value) if pending == "sms" else self.auth.respond_totp(value))
        except Exception as exc:  # noqa: BLE001
            if self.signin is not None:
                self.signin.show_error(plain_auth_error(exc))
            return
        self._handle_result(result)

    def _handle_result(self, result: Any) -> None:
        kind = type(result).__name__
        if kind == "SignedIn":
            identity = identity_from_claims(result.claims)
            if not identity.may_use_app:
                # The relay and the events API would refuse every call: say why now.
                self.runtime.spawn(self._quiet_sign_out(), name="sign-out")
                if self.signin is not None:
                    self.signin.show_error(
                        "This account may not use Presence: it is in none of the support agents, "
                        "supervisors or managers groups. Ask your administrator to add it."
                    )
                return
            self.note = getattr(result, "note", None)
            if self.signin is not None:
                self.signin.close_by_app()
            self.open_roster(identity)
        elif kind == "NewPasswordRequired":
            policy = self.profile.cognito.password_policy if self.profile is not None else None
            self.signin.show_challenge("new_password", policy)
        elif kind in ("TotpRequired", "SmsMfaRequired"):
            self._mfa_kind = "sms" if kind == "SmsMfaRequired" else "totp"
            self.signin.show_challenge("mfa")
        else:
            self.signin.show_error(
                "This account must set up two-step verification first. Ask your administrator, "
                "or set it up in the web portal, then sign in again."
            )

    async def _quiet_sign_out(self) -> None:
        try:
            await self.auth.sign_out()
        except Exception as exc:  # noqa: BLE001
            log.info("sign-out: %s", exc)

    # --- roster ----------------------------------------------------------------------------------
    def open_roster(self, identity: Identity) -> RosterWindow:
        self.identity = identity
        relay, feed = self.backend_factory(self.profile, self.auth, identity)
        service = PresenceService(
            identity, self.catalogue, relay, feed,
            heartbeat_s=self.settings.heartbeat_s, stale_after_s=self.settings.stale_after_s,
            watched=self.settings.watched_teams.get(self._teams_key(identity)),
        )
        if getattr(self.auth, "claims", None) is not None:
            service.identity_source = lambda: identity_from_claims(self.auth.claims)
        skew = getattr(self.auth, "clock_skew_s", None)  # local minus Cognito, from the token's iat
        if isinstance(skew, (int, float)):
            service.server_clock.assume(-float(skew))  # until the first roster measures the relay's
        bridge = QtBridge()
        window = RosterWindow(service.roster, self.catalogue, identity, profile_name=self.profile.name,
                              clock=service.server_clock, reduced_motion=self.settings.reduced_motion,
                              team_names=self.settings.team_names)
        window.restore_ui_state(self.ui_state.roster_window)
        bridge.rosterChanged.connect(window.on_roster_changed)
        bridge.connectionChanged.connect(window.on_connection)
        bridge.ownStatusChanged.connect(lambda: self._own_status_changed())
        bridge.problemRaised.connect(window.show_problem)
        bridge.problemRaised.connect(lambda _text: self._show_teams())
        bridge.connectionChanged.connect(lambda _state: self._show_teams())
        window.team_picker.teamsChanged.connect(self._pick_teams)
        service.listener = bridge
        bridge.connectionChanged.connect(self._joined)
        bridge.connectionChanged.connect(lambda _state: self._own_status_changed())

        window.ownStatusRequested.connect(lambda sid, msg: self._request_status(sid, msg))
        window.agentStatusRequested.connect(
            lambda agent, sid: self.runtime.spawn(self._set_agent_status(agent, sid), name=f"set-{agent}")
        )
        window.quitRequested.connect(self.runtime.request_quit)
        window.signOutRequested.connect(lambda: self.runtime.spawn(self.sign_out(), name="sign-out"))
        window.closed.connect(self._window_closed)

        tray = TrayController(self.catalogue, identity.username)
        tray.statusRequested.connect(lambda sid: self._request_status(sid, None))
        tray.messageRequested.connect(self._request_message)
        tray.showRequested.connect(self._show_window)
        tray.quitRequested.connect(self.runtime.request_quit)
        tray.show()

        self.service, self.bridge, self.window, self.tray = service, bridge, window, tray
        self._show_teams()
        clamp_to_screen(window)
        saved = self.settings.last_status.get(self._user_key())
        self.day = DayController(service, window, tray, self.settings, spawn=self.runtime.spawn,
                                 restore=(saved.status, saved.message) if saved else None, **self.day_options)
        self.day.preferencesApplied.connect(self._preferences_applied)
        bridge.connectionChanged.connect(self.day.connection_changed)
        self.supervisor_day = None
        if supervisor_day_for(identity):
            self.supervisor_day = SupervisorDay(
                service, window, notify=self.day.notifier.notify, spawn=self.runtime.spawn,
                rules=self.settings.alerts, save_rules=self._save_alert_rules,
                team_name=lambda t: self.settings.team_names.get(t, t))
            bridge.rosterChanged.connect(self.supervisor_day.on_roster_changed)
        window.show()
        clamp_to_screen(window)  # again with the frame the window manager gave it
        if self.note and self._remember_requested:
            window.show_note(self.note)
        service.start()
        return window

    # --- teams (docs/teams.md) ------------------------------------------------------------------
    def _teams_key(self, identity: Identity) -> str:
        return f"{self.profile.name}/{identity.username}"

    def _show_teams(self) -> None:
        if self.service is None or self.window is None:
            return
        shown = (self.service.allowed, self.service.watched)
        if shown != getattr(self, "_teams_shown", None):
            self._teams_shown = shown
            self.window.team_picker.set_teams(*shown)
            # An agent watches the own team: nothing to choose, no picker.
            self.window.team_picker.setVisible(self.service.identity.watches_many)
            self.window._apply_filter()  # rows of a team no longer watched leave the view
        self.window.show_empty_reason(self.service.watch_problem)

    def _pick_teams(self, teams: list[str] | None) -> None:
        if self.service is None or self.identity is None:
            return
        self.service.watch(teams)
        key = self._teams_key(self.identity)
        choices = dict(self.settings.watched_teams)
        if teams is None:
            choices.pop(key, None)
        else:
            choices[key] = list(teams)
        self.settings.watched_teams = choices
        if self.store is not None:
            try:
                self.store.save_settings(self.settings)
            except OSError as exc:
                log.info("could not remember the teams: %s", exc)
        self._show_teams()

    def _request_status(self, status_id: str, typed: str | None) -> None:
        """Window and tray: ``typed`` = a message entered for this request, None = none (the
        tray never has one); the rule of which message goes out is ``OwnStatus.message_for``."""
        if self.service is None:
            return
        self.service.request_status(status_id, self.service.own.message_for(status_id, typed))

    def _request_message(self, text: str) -> None:
        """The tray's message box: the current status again, with ``text`` ("" clears it)."""
        if self.service is None or self.service.own.status_id is None:
            return
        self._request_status(self.service.own.status_id, text)

    def unconfirmed_reason(self) -> str | None:
        """Why the own status cannot be vouched for now: "session expired", "disconnected",
        "reconnecting" (joining again), "server silent" (not even keep-alives for a while), or
        None while live."""
        if self.service is None:
            return None
        state = self.service.connection
        if not state.up:
            return "session expired" if state.needs_sign_in else "disconnected"
        if state.joining:
            return "reconnecting"
        return "server silent" if state.quiet_since is not None else None

    async def _set_agent_status(self, agent_id: str, status_id: str) -> None:
        try:
            await self.service.set_agent_status(agent_id, status_id)
        except (RelayCallError, PermissionError) as exc:
            if self.window is not None:
                self.window.show_problem(f"Could not change {agent_id}'s status: {exc}")

    _gc_frozen = False  # per process: freezing again would only pin later garbage
    _shown_logged = False  # per window session: "roster joined" logged once

    def _joined(self, state) -> None:
        # After the first join the start-up objects and the roster are long-lived: freeze them
        # out of the collector's full passes (runtime.freeze_gc). A moment later: the joined
        # roster's first paint does not wait for its collection.
        service = getattr(self, "service", None)
        if state.up and not state.joining and service is not None and not self._shown_logged:
            self._shown_logged = True
            # First roster in the window: the end of a start (the first-run timing reads it).
            log.info("roster joined: %d agents", len(service.roster))
            sup = getattr(self, "supervisor_day", None)
            if sup is not None:
                sup.refresh_floors()
                sup.load_today()
                if self.wallboard_at_start:
                    sup.open_wallboard(full_screen=True)
        if state.up and not state.joining and not GuiApp._gc_frozen:
            GuiApp._gc_frozen = True
            QTimer.singleShot(FREEZE_GC_DELAY_MS, lambda: freeze_gc())

    def _own_status_changed(self) -> None:
        if self.service is None:  # announcements during shutdown
            return
        own = self.service.own
        unconfirmed = self.unconfirmed_reason()
        if self.window is not None:
            self.window.on_own_status(own, unconfirmed)
        if self.tray is not None:
            self.tray.set_own(own.status_id, own.is_pending, unconfirmed, own.message)
        if self.day is not None:  # first: do-not-disturb follows the new status
            self.day.own_changed()
            self._remember_choice(self.day.day.last_choice())
        outside = own.take_outside_change()
        if outside is not None:
            self._tell_outside_change(outside)

    def _tell_outside_change(self, event) -> None:
        """A supervisor changed this agent's status: a notification naming who (never a modal
        box), and a note in the window."""
        who_entry = self.service.roster.get(event.changed_by) if event.changed_by else None
        who = display_text(who_entry.event.display_name) if who_entry is not None else display_text(event.changed_by)
        label = self.catalogue.display(event.status).label
        when = clock_time(parse_time(event.changed_at).timestamp(), self.service.server_clock())
        said = f" with the message “{display_text(event.message)}”" if event.message else ""
        text = f"{who or 'A supervisor'} set your status to {label}{said} at {when}."
        if self.day is not None:
            self.day.notifier.notify("Your status was changed", text)  # held while On call
        elif self.tray is not None:
            self.tray.notify("Your status was changed", text)
        if self.window is not None:
            self.window.show_note(text)

    def _user_key(self) -> str:
        return f"{self.profile.name if self.profile else ''}/{self.identity.username if self.identity else ''}"

    def _remember_choice(self, choice: tuple[str, str | None] | None) -> None:
        """The user's own pick, kept for the next start's offer (saved only when it changed)."""
        if choice is None:
            return
        saved = LastStatus(status=choice[0], message=choice[1])
        if self.settings.last_status.get(self._user_key()) != saved:
            self.settings.last_status[self._user_key()] = saved
            self._save_settings()

    def _save_alert_rules(self, rules: list[dict[str, Any]]) -> None:
        self.settings.alerts = rules
        self._save_settings()

    def _preferences_applied(self, settings: AppSettings) -> None:
        self.settings = settings
        self._save_settings()

    def _show_window(self) -> None:
        if self.window is not None:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()

    def _window_closed(self) -> None:
        # With a system tray the app keeps running there; without one, closing quits.
        if self.tray is not None and self.tray.icon.isVisible() and self.settings.minimize_to_tray:
            if not self.settings.tray_hint_shown:
                self.explain_close_to_tray()
            return
        self.runtime.request_quit()

    def explain_close_to_tray(self) -> QMessageBox:
        """The first close: say that Presence keeps running (and the status stays as it is),
        with Quit at hand. Not modal: the roster and the status keep living meanwhile."""
        self.settings.tray_hint_shown = True
        self._save_settings()
        own = self.service.own if self.service is not None else None
        label = self.catalogue.display(own.status_id if own else None).label
        box = QMessageBox()
        box.setWindowTitle("Presence is still running")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setText(f"Presence keeps running in the tray and your status stays {label}.")
        box.setInformativeText("Open the roster or change your status from the tray icon. "
                               "Quit Presence sets you Offline.")
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.AcceptRole)
        quit_ = box.addButton("Quit Presence", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(keep)
        box.setModal(False)
        quit_.clicked.connect(self.runtime.request_quit)
        box.show()
        self.tray_hint = box
        if self.tray is not None:
            self.tray.notify("Presence is still running", f"In the tray; your status stays {label}.")
        return box

    tray_hint: QMessageBox | None = None

    def _show_problem(self, text: str) -> None:
        if self.window is not None:
            self.window.show_problem(text)
        elif self.signin is not None:
            self.signin.show_error(text)

    def clear_problem(self, text: str) -> None:
        """Take back a problem shown earlier (``text`` exactly) that is over; another one stays."""
        if self.window is not None and self.window.messages.label.text() == text:
            self.window.messages.hide()
        if self.signin is not None and self.signin.error.text() == text:
            self.signin.error.hide()

    # --- leaving ---------------------------------------------------------------------------------
    async def _teardown_session(self) -> None:
        if self.window is not None:
            self.ui_state.roster_window = self.window.save_ui_state()
            if self.store is not None:
                self.store.save_ui_state(self.ui_state)
        if self.day is not None:
            self.day.stop()
            self.day = None
        if self.supervisor_day is not None:
            self.supervisor_day.stop()
            self.supervisor_day = None
        if self.service is not None:
            service, self.service = self.service, None
            await service.shutdown()
        if self.tray is not None:
            self.tray.hide()
            self.tray = None

    async def sign_out(self) -> None:
        await self._teardown_session()
        if self.auth is not None:
            try:
                await self.auth.sign_out()
            except Exception as exc:  # noqa: BLE001
                log.info("sign-out: %s", exc)
        if self.window is not None:
            w, self.window = self.window, None
            w.closed.disconnect()
            w.close()
            w.deleteLater()
        self.show_signin(self.profile.name if self.profile else None)

    async def _shutdown(self) -> None:
        await self._teardown_session()
        store = getattr(self.auth, "token_store", None)
        if store is not None and hasattr(store, "close"):
            store.close()

    def _save_settings(self) -> None:
        if self.store is not None:
            try:
                self.store.save_settings(self.settings)
            except OSError as exc:
                log.info("could not save settings: %s", exc)
