"""Sign-in: Cognito SRP session with challenges and refresh (:mod:`.session`), typed errors
(:mod:`.errors`), and the session remembered in the OS keyring (:mod:`.token_store`)."""

from presence_desktop.auth.errors import AuthError
from presence_desktop.auth.session import (
    AuthSession,
    MfaSelectionRequired,
    MfaSetupRequired,
    NewPasswordRequired,
    SignedIn,
    SignInResult,
    SmsMfaRequired,
    TotpRequired,
    TotpSetup,
)
from presence_desktop.auth.token_store import LiveTokens, StoredSession, TokenStore

__all__ = [
    "AuthError", "AuthSession", "LiveTokens", "MfaSelectionRequired", "MfaSetupRequired", "NewPasswordRequired",
    "SignedIn", "SignInResult", "SmsMfaRequired", "StoredSession", "TokenStore", "TotpRequired", "TotpSetup",
]
