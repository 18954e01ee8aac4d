"""An account's API bearer tokens (JWT, HS256): minted by `python -m api.cli mint-token` (and
`make dev` for its demo account), read by the API's authentication (api/auth.py).

They carry the claim `account_id` and an `exp`; only HS256 is accepted, so a token signed with
"none" or another algorithm is refused. `exp` (and `iat`, when present) must be JSON integers (PyJWT
would take "1999999999" as a string), and a token may not live longer than JWT_MAX_LIFETIME_DAYS: its
`exp` at most that far from now, and from its `iat`, so a leaked token is not good for decades.
"""
from __future__ import annotations

import time
import uuid

import jwt

ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 30 * 24 * 3600
CLOCK_LEEWAY_SECONDS = 60


class InvalidToken(Exception):
    """The bearer token is missing, malformed, expired or not ours; the message says which."""


def mint_access_token(secret: str, account_id, *, ttl_seconds: int = DEFAULT_TTL_SECONDS, now: float | None = None,
                      subject: str | None = None) -> str:
    """A bearer token; `subject` (the `sub` claim: who uses it) is what the change history records."""
    issued = int(time.time() if now is None else now)
    claims = {"account_id": str(uuid.UUID(str(account_id))), "iat": issued, "exp": issued + ttl_seconds}
    if subject:
        claims["sub"] = subject
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def account_from_access_token(secret: str, token: str) -> uuid.UUID:
    """The token's account id; raises InvalidToken with a reason fit for a 401 body."""
    return access_token_identity(secret, token)[0]


def access_token_identity(secret: str, token: str, *, max_lifetime_seconds: int = DEFAULT_TTL_SECONDS,
                          now: float | None = None) -> tuple[uuid.UUID, str | None]:
    """(account id, subject or None) of a valid token; raises InvalidToken like account_from_access_token."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "account_id"]},
                            leeway=CLOCK_LEEWAY_SECONDS)
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token has expired") from None
    except jwt.PyJWTError:
        raise InvalidToken("token is invalid") from None
    _check_lifetime(claims, max_lifetime_seconds, time.time() if now is None else now)
    try:
        account = uuid.UUID(str(claims["account_id"]))
    except ValueError:
        raise InvalidToken("token's account_id is not a UUID") from None
    subject = claims.get("sub")
    return account, (subject[:200] if isinstance(subject, str) and subject.strip() else None)


def _check_lifetime(claims: dict, max_lifetime_seconds: int, now: float) -> None:
    exp, iat = claims["exp"], claims.get("iat")
    if type(exp) is not int or (iat is not None and type(iat) is not int):  # bool is an int subclass: refused too
        raise InvalidToken("token's exp and iat must be integers (seconds since the epoch)")
    longest = max_lifetime_seconds + CLOCK_LEEWAY_SECONDS  # the minting host's clock may run a little ahead
    if exp - now > longest or (iat is not None and exp - iat > longest):
        raise InvalidToken(f"token lives longer than the maximum of {max_lifetime_seconds // 86400} days")
