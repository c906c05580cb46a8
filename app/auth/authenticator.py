"""From a presented credential to the caller: the service's API key, a user's token, or refused."""

from __future__ import annotations

import hmac
import logging

from app.auth.jwks import JwksCache, KeysUnavailable
from app.auth.principal import Principal
from app.auth.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from app.auth.tokens import InvalidToken, TokenRules, TokenVerifier
from app.config import Settings

__all__ = ["Authenticator", "KeysUnavailable", "Unauthenticated", "build_rate_limiter"]

log = logging.getLogger(__name__)


class Unauthenticated(Exception):
    """No credential where one is needed, or one that is not accepted."""


class Authenticator:
    """Tells who presented a credential, under the settings' API_KEY and AUTH_* rules."""

    def __init__(self, settings: Settings, verifier: TokenVerifier | None) -> None:
        self._api_key = settings.api_key
        self._verifier = verifier

    @classmethod
    def from_settings(cls, settings: Settings) -> Authenticator:
        """The authenticator for these settings (token checks only when a secret or JWKS is set)."""
        verifier = None
        if settings.user_sign_in:
            jwks = JwksCache(settings.auth_jwks_url) if settings.auth_jwks_url else None
            rules = TokenRules(audience=settings.auth_jwt_audience, issuer=settings.auth_jwt_issuer)
            verifier = TokenVerifier(secret=settings.auth_jwt_secret, jwks=jwks, rules=rules)
        return cls(settings, verifier)

    @property
    def open(self) -> bool:
        """True when no credential is needed at all (no API_KEY, no user sign-in)."""
        return self._api_key is None and self._verifier is None

    async def principal(self, credential: str | None) -> Principal:
        """The caller; Unauthenticated, or KeysUnavailable when the keys cannot be read."""
        if self.open:
            return Principal.service(via="open")
        if credential and self._is_api_key(credential):
            return Principal.service(via="api_key")
        if credential and self._verifier is not None:
            try:
                return Principal.user(await self._verifier.subject(credential))
            except InvalidToken as exc:
                # The reason, never the token: enough to tell expiry from forgery in the log.
                log.info("token refused: %s", exc)
                raise Unauthenticated(str(exc)) from exc
        raise Unauthenticated("missing or wrong credential")

    def _is_api_key(self, credential: str) -> bool:
        if self._api_key is None:
            return False
        expected = self._api_key.get_secret_value().encode(errors="replace")
        return hmac.compare_digest(expected, credential.encode(errors="replace"))


def build_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The limiter for RATE_LIMIT_PER_MINUTE: shared through Redis when REDIS_URL is set."""
    limit = settings.rate_limit_per_minute
    if limit is None:
        return None
    if settings.redis_url:
        return RedisRateLimiter.from_url(settings.redis_url, limit, prefix=settings.redis_prefix)
    return MemoryRateLimiter(limit)
