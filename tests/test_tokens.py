"""Users' tokens: HS256 with the secret, RS256/ES256 from a JWKS with rotation, and the refusals."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from app.auth.jwks import JwksCache, KeysUnavailable
from app.auth.tokens import InvalidToken, TokenRules, TokenVerifier
from tests.servers.jwks import (
    AUDIENCE,
    ISSUER,
    JWT_SECRET,
    JwksServer,
    SigningKey,
    claims,
    hs256_token,
    signed_token,
)

pytestmark = pytest.mark.timeout(60)
USER = "7f1a6c2e-0000-4000-8000-000000000001"


def verifier(jwks_url: str | None = None, *, secret: str | None = JWT_SECRET) -> TokenVerifier:
    """A verifier with the stand-in's audience and issuer."""
    return TokenVerifier(
        secret=SecretStr(secret) if secret else None,
        jwks=JwksCache(jwks_url) if jwks_url else None,
        rules=TokenRules(audience=AUDIENCE, issuer=ISSUER),
    )


def unsigned(payload: dict[str, object]) -> str:
    """A token with `alg: none` and no signature."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


async def test_an_hs256_token_signed_with_the_secret_names_its_user() -> None:
    assert await verifier().subject(hs256_token(USER)) == USER


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_a_token_signed_with_a_published_key_names_its_user(
    jwks_server: JwksServer, algorithm: str
) -> None:
    token = signed_token(jwks_server.key(algorithm), USER)
    assert await verifier(jwks_server.url, secret=None).subject(token) == USER


async def test_keys_are_fetched_once_and_cached_by_key_id(jwks_server: JwksServer) -> None:
    check = verifier(jwks_server.url, secret=None)
    for algorithm in ("RS256", "ES256", "RS256"):
        await check.subject(signed_token(jwks_server.key(algorithm), USER))
    assert jwks_server.fetches == 1


async def test_a_rotated_key_is_fetched_with_its_first_token_and_the_old_one_stops(
    jwks_server: JwksServer,
) -> None:
    check = verifier(jwks_server.url, secret=None)
    old = jwks_server.key("RS256")
    assert await check.subject(signed_token(old, USER)) == USER
    fresh = jwks_server.rotate("RS256")
    assert await check.subject(signed_token(fresh, USER)) == USER
    assert jwks_server.fetches == 2
    # The refetch replaced the set: the withdrawn key signs nothing any more.
    with pytest.raises(InvalidToken):
        await check.subject(signed_token(old, USER))


async def test_made_up_key_ids_cause_one_fetch_then_a_cool_down(jwks_server: JwksServer) -> None:
    check = verifier(jwks_server.url, secret=None)
    await check.subject(signed_token(jwks_server.key("ES256"), USER))
    forged = SigningKey.new("ES256")
    for _ in range(20):
        forged.kid = f"made-up-{_}"
        with pytest.raises(InvalidToken):
            await check.subject(signed_token(forged, USER))
    assert jwks_server.fetches == 2


async def test_an_unreadable_jwks_is_reported_as_unavailable_keys(
    jwks_server: JwksServer,
) -> None:
    jwks_server.failing = True
    with pytest.raises(KeysUnavailable):
        await verifier(jwks_server.url, secret=None).subject(
            signed_token(jwks_server.key("RS256"), USER)
        )


def _refused_hs256_tokens() -> dict[str, str]:
    now = int(time.time())
    return {
        "expired": hs256_token(USER, iat=now - 7200, exp=now - 3600),
        "not yet valid": hs256_token(USER, nbf=now + 3600),
        "another audience": hs256_token(USER, aud="another-app"),
        "another issuer": hs256_token(USER, iss="https://evil.example/auth/v1"),
        "no expiry": hs256_token(USER, exp=None),
        "no subject": hs256_token(None),
        "wrong secret": hs256_token(USER, secret="another-secret-of-at-least-32-bytes!!"),
        "alg none": unsigned(claims(USER)),
        "garbage": "not.a.jwt",
        "the anon key": jwt.encode(
            {"role": "anon", "iss": "supabase", "exp": now + 3600}, JWT_SECRET, algorithm="HS256"
        ),
    }


@pytest.mark.parametrize("case", sorted(_refused_hs256_tokens()))
async def test_tokens_that_must_not_sign_in_are_refused(case: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier().subject(_refused_hs256_tokens()[case])


async def test_a_token_signed_with_an_unpublished_key_is_refused(jwks_server: JwksServer) -> None:
    impostor = SigningKey.new("RS256")
    impostor.kid = jwks_server.key("RS256").kid
    with pytest.raises(InvalidToken):
        await verifier(jwks_server.url, secret=None).subject(signed_token(impostor, USER))


async def test_hs256_signed_with_the_public_key_is_refused(jwks_server: JwksServer) -> None:
    key = jwks_server.key("RS256")
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT will not sign with a PEM as an HMAC secret, so the attacker's token is built by hand.
    header: dict[str, object] = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    forged = _hmac_token(header, claims(USER), public_pem)
    for check in (verifier(jwks_server.url, secret=None), verifier(jwks_server.url)):
        with pytest.raises(InvalidToken):
            await check.subject(forged)


async def test_an_rs256_token_is_refused_when_only_a_secret_is_set(
    jwks_server: JwksServer,
) -> None:
    with pytest.raises(InvalidToken):
        await verifier().subject(signed_token(jwks_server.key("RS256"), USER))


async def test_a_token_whose_header_claims_another_algorithm_than_its_key_is_refused(
    jwks_server: JwksServer,
) -> None:
    es_key = jwks_server.key("ES256")
    rs_key = jwks_server.key("RS256")
    # Signed by the RSA key but naming the EC key's id.
    token = jwt.encode(claims(USER), rs_key.private, algorithm="RS256", headers={"kid": es_key.kid})
    with pytest.raises(InvalidToken):
        await verifier(jwks_server.url, secret=None).subject(token)


def _hmac_token(header: dict[str, object], payload: dict[str, object], secret: bytes) -> str:
    def part(value: dict[str, object]) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    signing_input = part(header) + b"." + part(payload)
    signature = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def _b64(value: object) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_headers = st.fixed_dictionaries(
    {"alg": st.sampled_from(["HS256", "RS256", "ES256", "none", "HS512"]) | _json},
    optional={"kid": _json, "crit": _json, "typ": _json},
)
_tokens = st.text(max_size=200) | st.builds(
    lambda header, payload, signature: f"{_b64(header)}.{_b64(payload)}.{signature}",
    _headers,
    st.dictionaries(st.sampled_from(["sub", "exp", "aud", "iss", "nbf"]), _json),
    st.text(alphabet="abcXYZ019-_", max_size=40),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=_tokens)
async def test_any_malformed_token_is_refused_as_invalid_never_with_another_error(
    token: str,
) -> None:
    with pytest.raises(InvalidToken):
        await verifier().subject(token)
