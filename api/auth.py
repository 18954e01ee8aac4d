"""Bearer-token authentication: `Authorization: Bearer <JWT>` (HS256, JWT_SECRET, claim account_id;
optional claim `sub`, who is acting, which the change history records as `g.actor`).

`require_token` runs before every view of the /v1 blueprints and puts the tenant on `g.account_id`;
a missing, malformed, expired or foreign token, or one whose `exp` is not an integer or lies further
ahead than JWT_MAX_LIFETIME_DAYS, is a 401 JSON answer with a WWW-Authenticate header
(RFC 6750). Whether the account still exists is left to the database: an unknown tenant simply owns
nothing, and creating a schedule for it is refused as a 401 by the schedules blueprint.
"""
from __future__ import annotations

from flask import current_app, g, request

from api.errors import ApiError
from core.tenants.access_tokens import InvalidToken, access_token_identity

REALM = 'Bearer realm="schedules"'


def unauthorized(message: str, *, invalid_token: bool = True) -> ApiError:
    challenge = f'{REALM}, error="invalid_token"' if invalid_token else REALM
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": challenge})


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if not header:
        raise unauthorized("missing bearer token: send Authorization: Bearer <token>", invalid_token=False)
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def require_token() -> None:
    if request.method == "OPTIONS":
        return
    settings = current_app.config["SETTINGS"]
    try:
        g.account_id, subject = access_token_identity(settings.jwt_secret, bearer_token(),
                                                      max_lifetime_seconds=settings.jwt_max_lifetime_days * 86400)
    except InvalidToken as error:
        raise unauthorized(str(error)) from None
    # Who the change history names: the token's subject (`sub`); a token without one is "api".
    g.actor = subject or "api"
