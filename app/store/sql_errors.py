"""What a database failure means for the caller: driver errors sorted into the store's tree.

The sorting is pure: it only reads the exception chain; `translated` applies it around a
database call and logs the driver's text. Kinds, by the SQLSTATE PostgreSQL sends, by the
extended result code SQLite gives, or by the Python error a driver raised while binding
a parameter (a lone surrogate does not encode, an integer does not fit in 64 bits):

- a value the database refuses as sent (data exceptions, class 22; check and not-null
  violations; program limits such as a too-large value, class 54) fails that one write;
- a unique violation is a conflict, a foreign-key violation a missing parent;
- anything else (connection refused or lost, timeout, pool exhausted, server shutting
  down, disk full, locked) means the database cannot serve the request now.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum

from sqlalchemy.exc import SQLAlchemyError

from app.store.base import AlreadyExists, InvalidValue, NotFound, StoreError, Unavailable

log = logging.getLogger(__name__)


class Failure(Enum):
    """The kinds of database failure the store tells apart."""

    UNAVAILABLE = "unavailable"
    INVALID = "invalid"
    CONFLICT = "conflict"
    MISSING = "missing"


_PG_CODES = {
    "23505": Failure.CONFLICT,
    "23503": Failure.MISSING,
    "23514": Failure.INVALID,
    "23502": Failure.INVALID,
}
_PG_VALUE_CLASSES = ("22", "54")
_SQLITE_CODES = {
    "SQLITE_CONSTRAINT_UNIQUE": Failure.CONFLICT,
    "SQLITE_CONSTRAINT_PRIMARYKEY": Failure.CONFLICT,
    "SQLITE_CONSTRAINT_FOREIGNKEY": Failure.MISSING,
    "SQLITE_CONSTRAINT_CHECK": Failure.INVALID,
    "SQLITE_CONSTRAINT_NOTNULL": Failure.INVALID,
    "SQLITE_TOOBIG": Failure.INVALID,
    "SQLITE_MISMATCH": Failure.INVALID,
}
# What drivers raise while encoding a parameter they cannot send.
_BINDING_ERRORS = (UnicodeError, OverflowError, ValueError)
# Everything a database call can raise from below: the drivers' errors, SQLAlchemy's
# wrappers of them, network errors, and Python's own while binding parameters.
DRIVER_ERRORS = (SQLAlchemyError, sqlite3.Error, OSError, TimeoutError, *_BINDING_ERRORS)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify_sqlstate(code: str) -> Failure:
    """The kind of failure a PostgreSQL SQLSTATE stands for."""
    return _PG_CODES.get(
        code, Failure.INVALID if code[:2] in _PG_VALUE_CLASSES else Failure.UNAVAILABLE
    )


def classify(exc: BaseException) -> Failure:
    """The kind of failure `exc` (a driver's or SQLAlchemy's error) stands for."""
    for cause in _chain(exc):
        code = getattr(cause, "sqlstate", None)
        if isinstance(code, str) and len(code) == 5:
            return classify_sqlstate(code)
        if isinstance(cause, sqlite3.Error):
            name = getattr(cause, "sqlite_errorname", "")
            return _SQLITE_CODES.get(name, Failure.UNAVAILABLE)
        if isinstance(cause, _BINDING_ERRORS):
            return Failure.INVALID
    return Failure.UNAVAILABLE


def translate(exc: BaseException, *, session_id: str | None = None) -> StoreError:
    """The store's error for `exc`, with a message fit for clients (no driver text)."""
    return error_for(classify(exc), session_id=session_id)


def error_for(kind: Failure, *, session_id: str | None = None) -> StoreError:
    """The store's error for a kind of failure, its message fit for clients."""
    session = f"session '{session_id}'" if session_id is not None else "the session"
    if kind is Failure.CONFLICT:
        return AlreadyExists(f"{session} already exists")
    if kind is Failure.MISSING:
        return NotFound(f"{session} not found")
    if kind is Failure.INVALID:
        return InvalidValue("a value cannot be stored as sent")
    return Unavailable("database unavailable; try again later")


def describe(exc: BaseException) -> str:
    """The driver's own account of `exc`, for the log only (never for clients)."""
    inner = getattr(exc, "orig", None) or exc
    return f"{type(inner).__name__}: {str(inner)[:300]}"


@contextmanager
def translated(session_id: str | None = None) -> Iterator[None]:
    """Driver failures become the store's errors, once, here; the log keeps the driver's text."""
    try:
        yield
    except DRIVER_ERRORS as exc:
        failure = translate(exc, session_id=session_id)
        log.warning("storage: %s (%s)", failure, describe(exc))
        raise failure from exc
