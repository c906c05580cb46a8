"""A stand-in for Supabase Auth: its JWKS endpoint, its password sign-in, and tokens it signs.

Supabase Auth cannot run here, so this small Starlette app, served by uvicorn on a free 127.0.0.1
port, publishes the public halves of keys made in the test at `/auth/v1/.well-known/jwks.json`
(RS256 and ES256, rotated by the test; reads are counted) and answers the password sign-in
`POST /auth/v1/token?grant_type=password` (with the anon key, CORS open as Supabase's is) with
an HS256 access token; the helpers below sign tokens with PyJWT as Supabase would.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.background import BackgroundServer

JWT_SECRET = "a-test-jwt-secret-of-at-least-32-bytes!"
AUDIENCE = "authenticated"
ISSUER = "https://stand-in.supabase.co/auth/v1"
JWKS_PATH = "/auth/v1/.well-known/jwks.json"
ANON_KEY = "stand-in-anon-key"
# The accounts the sign-in knows: email -> (password, user id).
ACCOUNTS = {"ann@example.com": ("correct horse", "00000000-0000-4000-8000-0000000000a2")}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class SigningKey:
    """A private key with its id and algorithm; `public_jwk` is what the JWKS publishes."""

    algorithm: str
    private: PrivateKey
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @classmethod
    def new(cls, algorithm: str) -> SigningKey:
        """A fresh RS256 or ES256 key."""
        if algorithm == "RS256":
            return cls(algorithm, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return cls(algorithm, ec.generate_private_key(ec.SECP256R1()))

    def public_jwk(self) -> dict[str, Any]:
        """The key's public half as a JWK."""
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.algorithm, "use": "sig"}


def claims(sub: str | None, **overrides: Any) -> dict[str, Any]:
    """Supabase-shaped claims for a signed-in user, valid for an hour."""
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": sub,
        "aud": AUDIENCE,
        "iss": ISSUER,
        "role": "authenticated",
        "iat": now,
        "exp": now + 3600,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def hs256_token(sub: str | None, *, secret: str = JWT_SECRET, **overrides: Any) -> str:
    """A token signed with the project's JWT secret."""
    return jwt.encode(claims(sub, **overrides), secret, algorithm="HS256")


def signed_token(key: SigningKey, sub: str, **overrides: Any) -> str:
    """A token signed with one of the published keys (its `kid` in the header)."""
    return jwt.encode(
        claims(sub, **overrides), key.private, algorithm=key.algorithm, headers={"kid": key.kid}
    )


class JwksServer:
    """Serves the public keys of `keys` at JWKS_PATH; `fetches` counts the reads."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = [SigningKey.new("RS256"), SigningKey.new("ES256")]
        self.fetches = 0
        self.failing = False
        app = Starlette(
            routes=[
                Route(JWKS_PATH, self._serve),
                Route("/auth/v1/token", self._sign_in, methods=["POST"]),
            ],
            middleware=[
                Middleware(
                    CORSMiddleware, allow_origins=["*"], allow_headers=["*"], allow_methods=["*"]
                )
            ],
        )
        self._server = BackgroundServer(app).start()
        self.base_url = self._server.url
        self.url = self._server.url + JWKS_PATH

    def key(self, algorithm: str) -> SigningKey:
        """The newest published key of an algorithm."""
        return next(k for k in reversed(self.keys) if k.algorithm == algorithm)

    def rotate(self, algorithm: str) -> SigningKey:
        """Publish a new key of an algorithm and withdraw the old ones of it."""
        fresh = SigningKey.new(algorithm)
        self.keys = [k for k in self.keys if k.algorithm != algorithm] + [fresh]
        return fresh

    async def _serve(self, _request: Request) -> Response:
        self.fetches += 1
        if self.failing:
            return JSONResponse({"message": "down"}, status_code=503)
        return JSONResponse({"keys": [k.public_jwk() for k in self.keys]})

    async def _sign_in(self, request: Request) -> Response:
        body = await request.json()
        account = ACCOUNTS.get(str(body.get("email")))
        if request.headers.get("apikey") != ANON_KEY:
            return JSONResponse({"message": "Invalid API key"}, status_code=401)
        if account is None or account[0] != body.get("password"):
            refused = {"error": "invalid_grant", "error_description": "Invalid login credentials"}
            return JSONResponse(refused, status_code=400)
        token = hs256_token(account[1], email=body["email"])
        return JSONResponse({"access_token": token, "token_type": "bearer", "expires_in": 3600})

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    """A JWKS endpoint of this test with one RS256 and one ES256 key."""
    server = JwksServer()
    yield server
    server.stop()
