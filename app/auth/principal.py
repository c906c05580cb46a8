"""The caller a request acts as, and the rule for the `user_id` it may name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ANONYMOUS = "anonymous"


class Forbidden(Exception):
    """A signed-in user named someone else's `user_id`."""


@dataclass(frozen=True, slots=True)
class Principal:
    """The service (its API key, or a server with no sign-in) or one signed-in user."""

    via: Literal["open", "api_key", "token"]
    user_id: str | None = None

    @classmethod
    def service(cls, *, via: Literal["open", "api_key"]) -> Principal:
        """The service itself, acting for every user."""
        return cls(via=via)

    @classmethod
    def user(cls, user_id: str) -> Principal:
        """A user signed in with their own token (its `sub`)."""
        return cls(via="token", user_id=user_id)

    @property
    def owner(self) -> str | None:
        """The user whose data alone this caller may touch; None for the service."""
        return self.user_id if self.via == "token" else None

    def acts_for(self, requested: str | None) -> str:
        """The `user_id` to use: a user's own (Forbidden for another), the service's choice."""
        if self.owner is None:
            return requested or ANONYMOUS
        if requested is not None and requested != self.owner:
            raise Forbidden("a signed-in user can only act as themselves")
        return self.owner

    def filter_user(self, requested: str | None) -> str | None:
        """The `user_id` a listing is filtered by: forced to a user's own, else as asked."""
        if self.owner is None:
            return requested
        return self.acts_for(requested)

    @property
    def rate_key(self) -> str | None:
        """The key REST writes are counted under; None: the service's key is not limited."""
        if self.via == "api_key":
            return None
        return self.owner or ANONYMOUS
