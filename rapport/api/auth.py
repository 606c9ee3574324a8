from ninja.security import HttpBearer, SessionAuth

from rapport.accounts.services import user_for_token


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <token>`: the token acts as its user."""

    def authenticate(self, request, token):
        user = user_for_token(token)
        if user is not None:
            request.user = user
        return user


class ActiveSessionAuth(SessionAuth):
    """The web UI's own scripts, with the session cookie and CSRF token."""

    def authenticate(self, request, key):
        user = super().authenticate(request, key)
        return user if user is not None and user.is_active else None
