"""Plain words for a sign-in failure, for the window to show (the auth layer's errors carry them)."""

from __future__ import annotations

from presence_desktop.auth.errors import AuthError


def plain_auth_error(exc: BaseException) -> str:
    """The sentence to show for ``exc``, raised by a sign-in, challenge answer or restore."""
    if isinstance(exc, AuthError):
        return str(exc)
    if isinstance(exc, (OSError, TimeoutError)):
        return "Cannot reach the sign-in service. Check the network connection and try again."
    return f"Sign-in failed: {exc}"
