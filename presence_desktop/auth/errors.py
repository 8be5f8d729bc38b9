"""Sign-in errors a user can act on. Each has a plain ``message`` for the UI and a stable ``code``.

Mapping from Cognito's error codes (Amazon Cognito API reference, InitiateAuth /
RespondToAuthChallenge "Errors"): UserNotFoundException and NotAuthorizedException alike become
:class:`WrongCredentialsError` (never reveal which usernames exist), except NotAuthorized "User is
disabled." (:class:`UserDisabledError`) and "Password attempts exceeded" (:class:`ThrottledError`).
"""

from __future__ import annotations

import re
from typing import Any

# Runs of token characters this long are tokens, hashes or ids, never words: some servers (moto)
# echo the refresh/access token as the error message, and ``detail`` goes to logs.
_OPAQUE = re.compile(r"[A-Za-z0-9_\-.=+/]{32,}")


def redact(text: str) -> str:
    """``text`` with every token-like run (32+ chars of base64url/JWT/UUID characters) replaced."""
    return _OPAQUE.sub("<redacted>", text)


class AuthError(Exception):
    """Base class. ``code``: stable identifier; ``message``: one sentence for the user."""

    code = "auth_error"
    default_message = "Sign-in failed."

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        self.message = message or self.default_message
        self.detail = detail  # for logs; never contains a token or password
        super().__init__(self.message)


class WrongCredentialsError(AuthError):
    code = "wrong_credentials"
    default_message = "Wrong username or password."


class UserDisabledError(AuthError):
    code = "user_disabled"
    default_message = "This account is disabled. Ask your administrator to enable it."


class UserNotConfirmedError(AuthError):
    code = "user_not_confirmed"
    default_message = "This account is not confirmed yet. Ask your administrator to confirm it."


class PasswordResetRequiredError(AuthError):
    code = "password_reset_required"
    default_message = "Your password must be reset before you can sign in. Ask your administrator for a reset."


class ThrottledError(AuthError):
    code = "throttled"
    default_message = "Too many sign-in attempts. Wait a minute, then try again."


class NetworkError(AuthError):
    code = "network"
    default_message = "Cannot reach the sign-in service. Check the network connection and try again."


class ClockSkewError(AuthError):
    """A freshly issued token was rejected again after one refresh. ``skew_s``: this computer's
    clock minus the sign-in service's, in seconds (None if unknown)."""

    code = "clock_skew"
    default_message = (
        "The server keeps rejecting your sign-in. Check that this computer's clock (date, time and "
        "time zone) is set automatically, then sign in again."
    )

    def __init__(self, message: str | None = None, *, skew_s: float | None = None, detail: str | None = None):
        super().__init__(message, detail=detail)
        self.skew_s = skew_s


class InvalidCodeError(AuthError):
    """A wrong MFA code; the same challenge may be answered again."""

    code = "invalid_code"
    default_message = "That code is not correct. Check the code and try again."


class InvalidNewPasswordError(AuthError):
    code = "invalid_new_password"
    default_message = "The new password does not meet the password rules."


class ChallengeExpiredError(AuthError):
    code = "challenge_expired"
    default_message = "The sign-in took too long. Start again."


class SessionExpiredError(AuthError):
    code = "session_expired"
    default_message = "Your session has ended. Sign in again."


class NotSignedInError(AuthError):
    code = "not_signed_in"
    default_message = "You are not signed in."


class AuthServiceError(AuthError):
    code = "service_error"
    default_message = "The sign-in service reported an error. Try again later."


def map_client_error(exc: Any, *, during_challenge: bool = False) -> AuthError:
    """Turn a botocore ``ClientError`` from Cognito into an :class:`AuthError`."""
    err = getattr(exc, "response", {}).get("Error", {})
    code = err.get("Code", "")
    msg = err.get("Message", "") or ""
    detail = redact(f"{code}: {msg}")[:300]
    low = msg.lower()
    if code == "NotAuthorizedException":
        if "disabled" in low:
            return UserDisabledError(detail=detail)
        if "attempts exceeded" in low:
            return ThrottledError(detail=detail)
        if during_challenge and ("session" in low and ("expired" in low or "invalid" in low)):
            return ChallengeExpiredError(detail=detail)
        return WrongCredentialsError(detail=detail)
    if code == "UserNotFoundException":
        return WrongCredentialsError(detail=detail)
    if code == "UserNotConfirmedException":
        return UserNotConfirmedError(detail=detail)
    if code == "PasswordResetRequiredException":
        return PasswordResetRequiredError(detail=detail)
    if code in ("TooManyRequestsException", "LimitExceededException", "TooManyFailedAttemptsException",
                "ThrottlingException"):
        return ThrottledError(detail=detail)
    if code in ("CodeMismatchException", "EnableSoftwareTokenMFAException"):
        return InvalidCodeError(detail=detail)
    if code == "ExpiredCodeException":
        return InvalidCodeError("That code has expired. Use the newest code.", detail=detail)
    if code == "InvalidPasswordException":
        return InvalidNewPasswordError(
            f"The new password does not meet the password rules: {msg}" if msg else None, detail=detail
        )
    if code == "ResourceNotFoundException" and during_challenge:
        return ChallengeExpiredError(detail=detail)
    return AuthServiceError(detail=detail)
