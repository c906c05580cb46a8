"""Users' own tokens (JWTs): checked with PyJWT against the secret or the published keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import SecretStr

from app.auth.jwks import JwksCache, KeysUnavailable, UnknownKey

__all__ = ["InvalidToken", "KeysUnavailable", "TokenVerifier"]

# A little slack for clocks that differ between the issuer and this server.
LEEWAY_SECONDS = 30


class InvalidToken(Exception):
    """The token is malformed, wrongly signed, expired, not yet valid, or for someone else."""


@dataclass(frozen=True, slots=True)
class TokenRules:
    """What a token must say besides its signature."""

    audience: str | None
    issuer: str | None


class TokenVerifier:
    """Checks a JWT: HS256 with AUTH_JWT_SECRET, RS256/ES256 with AUTH_JWKS_URL's keys."""

    def __init__(
        self, *, secret: SecretStr | None, jwks: JwksCache | None, rules: TokenRules
    ) -> None:
        self._secret = secret
        self._jwks = jwks
        self._rules = rules

    async def subject(self, token: str) -> str:
        """The user the token names (`sub`); InvalidToken when it must be refused."""
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken("not a JWT") from exc
        algorithm = header.get("alg")
        key = await self._key_for(algorithm, header.get("kid"))
        try:
            claims = jwt.decode(token, key, algorithms=[str(algorithm)], **self._checks())
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidToken(f"token refused: {type(exc).__name__}") from exc
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 1 <= len(subject) <= 256:
            raise InvalidToken("the token names no user (sub)")
        return subject

    async def _key_for(self, algorithm: object, kid: object) -> Any:
        # The header picks the algorithm, so each one has exactly one possible key: a token
        # cannot get its HS256 signature checked against a public key, nor use `none`.
        if algorithm == "HS256" and self._secret is not None:
            return self._secret.get_secret_value()
        if self._jwks is None or not isinstance(algorithm, str):
            raise InvalidToken(f"algorithm {str(algorithm)[:16]!r} is not accepted")
        try:
            return await self._jwks.key_for(kid if isinstance(kid, str) else None, algorithm)
        except UnknownKey as exc:
            raise InvalidToken(str(exc)) from exc

    def _checks(self) -> dict[str, Any]:
        rules = self._rules
        return {
            "audience": rules.audience,
            "issuer": rules.issuer,
            "leeway": LEEWAY_SECONDS,
            "options": {
                "require": ["exp", "sub"],
                "verify_aud": rules.audience is not None,
                "verify_iss": rules.issuer is not None,
            },
        }
