"""Sign a test's AppTest session in as a real user of the store, as the sign-in page would: a
server-side session (``trust.sessions``) whose token the browser session keeps."""

from __future__ import annotations

from data_access.trust import auth, sessions
from tests.principals import ADMIN

PASSWORD = "pass-for-tests-1"


def signed_in_as(at, engine, username: str = "test-admin", role: str = "admin", unit=None):
    """Put ``username`` (created with ``role`` if missing) into ``at``'s session; returns the principal."""
    principal = auth.active_principal(engine, username)
    if principal is None:
        auth.add_user(engine, ADMIN, username, PASSWORD, role, unit=unit, display_name=username)
        principal = auth.active_principal(engine, username)
    at.session_state["principal"] = principal
    at.session_state["auth_token"] = sessions.start(engine, principal)
    return principal


def session_for(at, principal) -> None:
    """Put ``principal`` (a user of the app's store, ``BANGFU_DATABASE_URL``) into ``at``'s session
    with a server-side session of its own, as a sign-in leaves it."""
    from data_access.store.config import database_url
    from data_access.store.db import make_engine

    engine = make_engine(database_url())
    try:
        at.session_state["principal"] = principal
        at.session_state["auth_token"] = sessions.start(engine, principal)
    finally:
        engine.dispose()
