import time
import uuid

import jwt
import pytest

from core.deliveries.email import unsubscribe_token, unsubscribe_token_is_valid
from core.tenants.access_tokens import (InvalidToken, access_token_identity, account_from_access_token,
                                        mint_access_token)

SECRET = "s" * 32
ACCOUNT = uuid.UUID("912014c3-6deb-4b40-a28d-489ef3923a3a")


def test_minted_token_round_trips_to_its_account():
    assert account_from_access_token(SECRET, mint_access_token(SECRET, ACCOUNT)) == ACCOUNT


def test_expired_token_is_refused():
    token = mint_access_token(SECRET, ACCOUNT, ttl_seconds=10, now=1_000_000)
    with pytest.raises(InvalidToken, match="expired"):
        account_from_access_token(SECRET, token)


@pytest.mark.parametrize("token", [
    "not-a-jwt",
    jwt.encode({"account_id": str(ACCOUNT), "exp": 9999999999}, "other-secret-other-secret-other!", algorithm="HS256"),
    jwt.encode({"account_id": str(ACCOUNT), "exp": 9999999999}, None, algorithm="none"),
    jwt.encode({"account_id": str(ACCOUNT)}, SECRET, algorithm="HS256"),  # no exp
    jwt.encode({"account_id": "42", "exp": 9999999999}, SECRET, algorithm="HS256"),
])
def test_forged_unsigned_eternal_or_malformed_tokens_are_refused(token):
    with pytest.raises(InvalidToken):
        account_from_access_token(SECRET, token)


def test_unsubscribe_token_is_the_hmac_of_address_and_account():
    import hashlib
    import hmac
    expected = hmac.new(b"k", f"a@example.com:{ACCOUNT}".encode(), hashlib.sha256).hexdigest()
    assert unsubscribe_token("k", "a@example.com", ACCOUNT) == expected
    assert unsubscribe_token_is_valid("k", "a@example.com", ACCOUNT, expected)
    assert not unsubscribe_token_is_valid("k", "b@example.com", ACCOUNT, expected)


@pytest.mark.parametrize("token", ["é" * 64, "\x00", "", "\ufffd", "0" * 63 + "\u2028"])
def test_a_non_ascii_or_odd_unsubscribe_token_is_only_invalid(token):
    assert not unsubscribe_token_is_valid("k", "a@example.com", ACCOUNT, token)


@pytest.mark.parametrize("kind", ["exp-string", "exp-float", "iat-string"])
def test_exp_and_iat_must_be_integers(kind):
    now = int(time.time())  # PyJWT checks exp and iat against the real clock
    claims = {"exp-string": {"exp": str(now + 3600)}, "exp-float": {"exp": now + 3600.5},
              "iat-string": {"exp": now + 3600, "iat": str(now)}}[kind]
    token = jwt.encode({"account_id": str(ACCOUNT), **claims}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match="must be integers|invalid"):  # PyJWT refuses a string iat itself
        access_token_identity(SECRET, token, now=now)


def test_a_token_may_not_live_longer_than_the_maximum():
    now = int(time.time())
    far = jwt.encode({"account_id": str(ACCOUNT), "exp": now + 10**12}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match="longer than the maximum of 30 days"):
        access_token_identity(SECRET, far, now=now)
    # Issued long ago with a long life: refused by exp - iat even though exp - now is short.
    old = jwt.encode({"account_id": str(ACCOUNT), "iat": now - 40 * 86400, "exp": now + 86400}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match="longer than the maximum"):
        access_token_identity(SECRET, old, now=now)
    week = mint_access_token(SECRET, ACCOUNT, ttl_seconds=7 * 86400, now=now)
    with pytest.raises(InvalidToken, match="longer than the maximum of 1 days"):
        access_token_identity(SECRET, week, max_lifetime_seconds=86400, now=now)
    assert access_token_identity(SECRET, week, max_lifetime_seconds=7 * 86400, now=now)[0] == ACCOUNT


def test_a_token_of_the_default_life_minted_by_a_clock_a_little_ahead_is_accepted():
    now = int(time.time())
    token = mint_access_token(SECRET, ACCOUNT, now=now + 30)  # 30 days from a clock 30 s ahead
    assert access_token_identity(SECRET, token, now=now)[0] == ACCOUNT
