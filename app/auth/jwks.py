"""The signing keys of a JWKS URL (e.g. Supabase's), cached by key id and refreshed on rotation."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

log = logging.getLogger(__name__)

# Only asymmetric keys come from a JWKS; a shared secret never does.
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})


class KeysUnavailable(Exception):
    """The JWKS URL could not be read, so no token signed by its keys can be checked."""


class UnknownKey(Exception):
    """No published key has the token's `kid` (or it is of another algorithm)."""


class JwksCache:
    """Keys by `kid`; an unknown `kid` triggers one refetch, then a cool-down if nothing changed.

    The cool-down stops a flood of made-up `kid`s from turning into a flood of fetches; a
    real rotation publishes a new key, so its first refetch finds something new and is free.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 5.0,
        max_age: float = 600.0,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._max_age = max_age
        self._cooldown = cooldown
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._quiet_until = 0.0
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None, algorithm: str) -> jwt.PyJWK:
        """The published key with this `kid` for this algorithm; UnknownKey when there is none."""
        if algorithm not in ASYMMETRIC_ALGORITHMS or not kid:
            raise UnknownKey("the token has no key id or an algorithm a JWKS does not serve")
        if self._stale():
            await self._refresh(force=True)
        if kid not in self._keys:
            await self._refresh(force=False)
        key = self._keys.get(kid)
        if key is None or key.algorithm_name != algorithm:
            raise UnknownKey(f"no published key '{kid[:64]}' for {algorithm}")
        return key

    def _stale(self) -> bool:
        return self._fetched_at is None or self._clock() - self._fetched_at > self._max_age

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            now = self._clock()
            if not force and now < self._quiet_until:
                return
            keys = await self._fetch()
            if set(keys) == set(self._keys):
                self._quiet_until = now + self._cooldown
            self._keys, self._fetched_at = keys, now

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as http:
                answer = await http.get(self._url)
                answer.raise_for_status()
                document: Any = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise KeysUnavailable(f"AUTH_JWKS_URL could not be read: {type(exc).__name__}") from exc
        return _usable_keys(document)


def _usable_keys(document: Any) -> dict[str, jwt.PyJWK]:
    """The document's signing keys with a `kid` and an accepted algorithm; others are skipped."""
    entries = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise KeysUnavailable("AUTH_JWKS_URL did not answer a JWKS ({'keys': [...]})")
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("kid") or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError as exc:
            log.warning("JWKS key %s skipped: %s", entry.get("kid"), exc)
            continue
        if key.algorithm_name in ASYMMETRIC_ALGORITHMS:
            keys[str(entry["kid"])] = key
    return keys
