"""The package's one TLS-context factory: verifying client contexts (:func:`client_ssl_context`,
used by the desktop, the realtime client, the relay's publisher, the devstack and bench) and
server contexts (:func:`server_ssl_context`, the relay and the devstack servers).

The desktop app's HTTP stack for the relay: urllib3 (thread-safe keep-alive pools, timeouts)
with verifying TLS contexts shared per trust set.

Why not aiohttp here: urllib3 is already in the process for botocore, and a second HTTP stack
cost start-up time and memory (bench/README.md, "Figures behind the code").
Cognito calls stay with botocore (the AWS SDK).

Blocking calls: run them off the event loop (``loop.run_in_executor``); nothing here is async.

This module loads what a first request would import, so the start-up does it on the GUI thread
while it waits for the keyring and Cognito, not on the request's worker thread later.

TLS contexts: building one reads the system trust store (slow, and memory each); the relay, the
realtime client share one per set of trusted CAs. Verification is never disabled.
"""

from __future__ import annotations

import encodings.idna  # noqa: F401 - a first TLS request imports it; here, not on a worker thread
import os
import ssl
import threading
from collections.abc import Iterable

_contexts: dict[str | None, ssl.SSLContext] = {}
_lock = threading.Lock()


def client_ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A verifying client context (CERT_REQUIRED, hostname check): the system trust store plus
    ``ca_file`` (PEM) when given. One shared context per ``ca_file`` (contexts are safe to share
    between connections and threads once configured). Raises ``OSError``/``ssl.SSLError`` for an
    unreadable CA file (and caches nothing then)."""
    ctx = _contexts.get(ca_file)
    if ctx is not None:
        return ctx
    with _lock:
        ctx = _contexts.get(ca_file)
        if ctx is None:
            ctx = ssl.create_default_context()
            if ca_file:
                ctx.load_verify_locations(cafile=ca_file)
            _contexts[ca_file] = ctx
    return ctx


def server_ssl_context(cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str] | None = None) -> ssl.SSLContext:
    """A TLS server context (``ssl.Purpose.CLIENT_AUTH`` defaults: TLS 1.2+, no client
    certificates asked) serving ``cert_file`` (PEM chain) with ``key_file`` (PEM key; None: the
    key is in ``cert_file``). A new
    context per call. Raises ``OSError``/``ssl.SSLError`` for an unreadable or mismatched pair."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def prewarm_ssl_contexts(ca_files: Iterable[str | None]) -> threading.Thread:
    """Build the contexts for ``ca_files`` on a daemon thread (OpenSSL reads the trust store
    without the GIL, so this overlaps with imports on the main thread). Errors are left for the
    real caller to meet. Returns the thread (tests join it)."""
    wanted = list(dict.fromkeys(ca_files))

    def work() -> None:
        for ca in wanted:
            try:
                client_ssl_context(ca)
            except (OSError, ssl.SSLError):
                pass

    thread = threading.Thread(target=work, name="tls-prewarm", daemon=True)
    thread.start()
    return thread
