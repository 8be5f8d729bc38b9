"""Running the GUI: the profile chosen, the local devstack when asked for, the real backends wired
into :class:`presence_desktop.ui.gui_app.GuiApp`, and the event loop until quit."""

from __future__ import annotations

import argparse
import linecache
import logging
import sys
from typing import Any

from presence_desktop.app.cli import DEMO_SUPERVISOR, LOCAL_PROFILE
from presence_desktop.app.platform import missing_display_libraries

log = logging.getLogger("presence_desktop")


def real_auth_factory(profile, remember: bool):
    from presence_desktop.auth.session import AuthSession
    from presence_desktop.auth.token_store import TokenStore

    store = TokenStore.for_settings(profile.cognito, profile=profile.name) if remember else None
    return AuthSession(profile.cognito, store)


def real_backend_factory(profile, auth, identity):
    from presence_desktop.client.backends import make_backends

    return make_backends(profile, auth, identity)


def prepare_backends(profile) -> None:
    """Ahead of need (GuiApp calls it while a remembered session is restored): the TLS contexts
    of the profile's endpoints, built on a thread (OpenSSL reads the trust store without the
    GIL; no imports there), and the live feed's modules (websockets, the events client),
    imported meanwhile on the calling thread."""
    from presence_desktop.net.tls import prewarm_ssl_contexts

    cas = []  # botocore (Cognito) builds its own TLS context: only ours are made here
    if profile.relay.url.startswith("https://"):
        cas.append(profile.relay.ca_file)
    if profile.events.realtime_url.startswith("wss://"):
        cas.append(profile.events.ca_file)
    if cas:
        prewarm_ssl_contexts(cas)
    # Imported now so that first use does not pay for it (events_api.client also loads websockets).
    from presence_desktop.client import backends  # noqa: F401
    from presence_desktop.events_api import auth, client  # noqa: F401


def load_core_before_qt() -> None:
    """Import the app's Qt-free core (settings and profile models, the session, the relay client,
    the live feed, the keyring and PyJWT) before the first PySide6 import.

    Why the order matters: once PySide6 is imported, its import hook (shibokensupport's
    ``feature_imported``, for ``from __feature__ import ...``) reads the whole source of every
    module imported after it, through ``linecache``, which then keeps it for the life of the
    process. The same modules imported before PySide6 are never read: measured on this machine
    (bench/README.md "Import weight"), ~11 MB less RSS and ~50 ms less start-up. Nothing is
    loaded that a start would not load anyway; only when. (The Qt modules themselves and the
    ``ui`` room are read by the hook whatever the order.)"""
    import asyncio  # noqa: F401

    import jwt  # noqa: F401 - PyJWT (and cryptography, which it imports) read the id token
    import keyring  # noqa: F401 - its back-ends are chosen on the keyring thread

    from presence_desktop.auth import session, token_store  # noqa: F401
    from presence_desktop.client import (  # noqa: F401
        agent_day,
        alerts,
        backends,
        service,
        settings,
        signin,
        timelines,
        wake,
    )
    from presence_desktop.domain import text  # noqa: F401
    from presence_desktop.events_api import auth, client  # noqa: F401
    from presence_desktop.net import tls  # noqa: F401


async def watch_stack(runtime, devstack: Any, info: dict) -> None:
    """Tell the user, in plain words, when the local stack dies or is restarted under the app (the
    windows would otherwise retry dead ports forever; the log says why), and while it does not
    answer for a while (cleared when it answers again)."""
    from presence_desktop.devstack.launcher import STACK_NOT_ANSWERING_TEXT

    def on_outage(silent: bool) -> None:
        if silent:
            log.warning("the local stack's relay does not answer")
            runtime.report(STACK_NOT_ANSWERING_TEXT)
        else:
            log.info("the local stack answers again")
            gui = getattr(runtime, "gui", None)
            if gui is not None:
                gui.clear_problem(STACK_NOT_ANSWERING_TEXT)

    ended = await devstack.watch(info, interval_s=1.0 if devstack.process is not None else 2.0, on_outage=on_outage)
    if ended is None:
        return
    text, reason = ended
    log.error("%s. %s", reason, text)
    runtime.report(text)


def run_gui(args: argparse.Namespace) -> int:
    missing = missing_display_libraries()
    if missing:
        print("warning: Qt's X11 support needs system libraries that seem to be missing; if the app does not start, "
              f"install them (Debian/Ubuntu): sudo apt install {' '.join(missing)}", file=sys.stderr)
    load_core_before_qt()
    from presence_desktop.client.profile import Profile
    from presence_desktop.client.settings import SettingsError, SettingsStore
    from presence_desktop.resources import default_catalogue
    from presence_desktop.ui import runtime as rt  # the first PySide6 import
    from presence_desktop.ui.gui_app import GuiApp

    # The source PySide6's import hook read for the modules imported since (load_core_before_qt):
    # only a cache; dropped, the windows made next reuse that memory.
    linecache.clearcache()

    store = SettingsStore()
    try:
        settings = store.load_settings()
    except SettingsError as exc:
        print(f"warning: {exc}; using default settings", file=sys.stderr)
        from presence_desktop.client.settings import AppSettings

        settings = AppSettings()
    profile_name = args.profile or settings.last_profile or LOCAL_PROFILE
    devstack: Any = None
    failures: list[BaseException] = []

    async def start(runtime: rt.QtRuntime) -> None:
        try:
            await _start(runtime)
        except Exception as exc:  # cannot start: say why and quit with 1
            log.debug("start failed", exc_info=True)
            failures.append(exc)
            runtime.request_quit()

    async def _start(runtime: rt.QtRuntime) -> None:
        nonlocal devstack
        profiles: dict[str, Profile] = {}
        for name in store.profile_names():
            try:
                profiles[name] = store.load_profile(name)
            except SettingsError as exc:
                log.warning("%s", exc)
        username = password = None
        if profile_name == LOCAL_PROFILE:
            from presence_desktop.devstack.launcher import (
                LocalDevstack,
                default_devstack_dir,
                demo_password,
                profile_from_ready_file,
            )

            devstack = LocalDevstack(args.devstack_dir or default_devstack_dir(), agents=args.agents)
            info = devstack.running_info()
            if info is None:
                from presence_desktop.ui.splash import StartupSplash

                splash = StartupSplash(
                    f"Starting the local stack: sign-in service, events server, relay and "
                    f"{args.agents} simulated agents…"
                )
                splash.show()
                try:
                    devstack.start()
                    info = await devstack.wait_ready(on_progress=splash.set_step)
                finally:
                    splash.close()
                    splash.deleteLater()
            else:
                devstack.process = None  # someone else's: never stop it

            async def stop_stack() -> None:  # registered first, so it runs last: after "offline"
                devstack.terminate()

            runtime.add_shutdown_hook(stop_stack)
            profiles[LOCAL_PROFILE] = profile_from_ready_file(devstack.ready_file, name=LOCAL_PROFILE)
            username = args.user or DEMO_SUPERVISOR
            password = demo_password(info, username)
        elif profile_name not in profiles:
            raise ValueError(
                f"no profile named {profile_name!r} (saved: {', '.join(profiles) or 'none'}); import one with "
                "`presence-desktop profile import --stack-outputs FILE`, or use --profile local"
            )
        gui = GuiApp(runtime, default_catalogue(), profiles, auth_factory=real_auth_factory,
                     backend_factory=real_backend_factory, store=store, settings=settings,
                     prepare=prepare_backends)
        runtime.gui = gui  # for tests and debugging
        gui.wallboard_at_start = bool(getattr(args, "wallboard", False))
        if devstack is not None:
            runtime.spawn(watch_stack(runtime, devstack, info), name="devstack-watch")
        # The devstack's demo users are recreated at every start: nothing worth remembering.
        await gui.start(profile_name, username, password, remember=False if username else None)

    try:
        code = rt.run(start, [sys.argv[0]])
        log.info("event loop ended (code %s)", code)
    finally:
        if devstack is not None:
            devstack.stop()
            log.info("devstack stopped")
    if failures:
        raise RuntimeError(str(failures[0]))
    return code
