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

from PySide6.QtCore import QTimer

from presence_desktop.client.ports import LiveFeed, RelayApi, RelayError
from presence_desktop.client.profile import Profile
from presence_desktop.client.service import PresenceService
from presence_desktop.client.settings import AppSettings, SettingsStore, UiState
from presence_desktop.client.signin import plain_auth_error
from presence_desktop.domain.identity import SUPPORT_AGENTS, Identity
from presence_desktop.domain.statuses import StatusCatalogue
from presence_desktop.ui.bridge import QtBridge
from presence_desktop.ui.roster_window import RosterWindow
from presence_desktop.ui.runtime import QtRuntime, freeze_gc
from presence_desktop.ui.signin_window import SignInWindow
from presence_desktop.ui.tray import TrayController

log = logging.getLogger(__name__)

FREEZE_GC_DELAY_MS = 1000  # after the first join: the roster has painted by then

AuthFactory = Callable[[Profile, bool], Any]
BackendFactory = Callable[[Profile, Any, Identity], tuple[RelayApi, LiveFeed]]


def identity_from_claims(claims: Any) -> Identity:
    """``Claims`` (relay/cognito_jwt.py, also what auth/claims.py returns: sub, username, groups, team_id) -> :class:`Identity`."""
    return Identity(
        username=claims.username,
        sub=claims.sub,
        groups=tuple(claims.groups or ()),
        team_id=getattr(claims, "team_id", None),
    )


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
        try:
            restored = await restoring
        except Exception as exc:  # noqa: BLE001 - fall back to asking
            log.info("could not restore the remembered session: %s", exc)
            restored = None
        if restored is not None:
            self.profile, self.auth = profile, auth
            self.note = getattr(restored, "note", None)
            self.open_roster(identity_from_claims(restored.claims))
            return
        self.show_signin(profile_name, self.settings.last_username)

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
            self.signin = w
        if profile_name:
            self.signin.select_profile(profile_name)
        if username:
            self.signin.username.setText(username)
        self.signin.reset()
        self.signin.show()
        self.signin.raise_()
        return self.signin

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
            if not (identity.is_supervisor or SUPPORT_AGENTS in identity.groups):
                # The relay and the events API would refuse every call: say why now.
                self.runtime.spawn(self._quiet_sign_out(), name="sign-out")
                if self.signin is not None:
                    self.signin.show_error(
                        "This account may not use Presence: it is in neither the support agents nor the "
                        "supervisors group. Ask your administrator to add it."
                    )
                return
            self.note = getattr(result, "note", None)
            if self.signin is not None:
                self.signin.close_by_app()
            self.open_roster(identity)
        elif kind == "NewPasswordRequired":
            self.signin.show_challenge("new_password")
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
        )
        bridge = QtBridge()
        window = RosterWindow(service.roster, self.catalogue, identity, profile_name=self.profile.name)
        window.restore_ui_state(self.ui_state.roster_window)
        bridge.rosterChanged.connect(window.on_roster_changed)
        bridge.connectionChanged.connect(window.on_connection)
        bridge.ownStatusChanged.connect(lambda: self._own_status_changed())
        bridge.problemRaised.connect(window.show_problem)
        service.listener = bridge
        bridge.connectionChanged.connect(self._joined)

        window.ownStatusRequested.connect(lambda sid, msg: self._request_status(sid, msg))
        window.agentStatusRequested.connect(
            lambda agent, sid: self.runtime.spawn(self._set_agent_status(agent, sid), name=f"set-{agent}")
        )
        window.quitRequested.connect(self.runtime.request_quit)
        window.signOutRequested.connect(lambda: self.runtime.spawn(self.sign_out(), name="sign-out"))
        window.closed.connect(self._window_closed)

        tray = TrayController(self.catalogue, identity.username)
        tray.statusRequested.connect(lambda sid: self._request_status(sid, None))
        tray.showRequested.connect(self._show_window)
        tray.quitRequested.connect(self.runtime.request_quit)
        tray.show()

        self.service, self.bridge, self.window, self.tray = service, bridge, window, tray
        window.show()
        if self.note and self._remember_requested:
            window.show_note(self.note)
        service.start()
        return window

    def _request_status(self, status_id: str, typed: str | None) -> None:
        """Window and tray: ``typed`` = a message entered for this request, None = none (the
        tray never has one); the rule of which message goes out is ``OwnStatus.message_for``."""
        if self.service is None:
            return
        self.service.request_status(status_id, self.service.own.message_for(status_id, typed))

    async def _set_agent_status(self, agent_id: str, status_id: str) -> None:
        try:
            await self.service.set_agent_status(agent_id, status_id)
        except (RelayError, PermissionError) as exc:
            if self.window is not None:
                self.window.show_problem(f"Could not change {agent_id}'s status: {exc}")

    _gc_frozen = False  # per process: freezing again would only pin later garbage

    def _joined(self, state) -> None:
        # After the first join the start-up objects and the roster are long-lived: freeze them
        # out of the collector's full passes (runtime.freeze_gc). A moment later: the joined
        # roster's first paint does not wait for its collection.
        if state.up and not state.joining and not GuiApp._gc_frozen:
            GuiApp._gc_frozen = True
            QTimer.singleShot(FREEZE_GC_DELAY_MS, lambda: freeze_gc())

    def _own_status_changed(self) -> None:
        if self.service is None:  # announcements during shutdown
            return
        own = self.service.own
        if self.window is not None:
            self.window.on_own_status(own)
        if self.tray is not None:
            self.tray.set_own(own.status_id, own.is_pending)

    def _show_window(self) -> None:
        if self.window is not None:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()

    def _window_closed(self) -> None:
        # With a system tray the app keeps running there; without one, closing quits.
        if self.tray is not None and self.tray.icon.isVisible() and self.settings.minimize_to_tray:
            return
        self.runtime.request_quit()

    def _show_problem(self, text: str) -> None:
        if self.window is not None:
            self.window.show_problem(text)
        elif self.signin is not None:
            self.signin.show_error(text)

    # --- leaving ---------------------------------------------------------------------------------
    async def _teardown_session(self) -> None:
        if self.window is not None:
            self.ui_state.roster_window = self.window.save_ui_state()
            if self.store is not None:
                self.store.save_ui_state(self.ui_state)
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
