"""Sessions and events as pandas DataFrames: typed columns, JSON metadata expanded into `meta.*`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, get_args

import pandas as pd

from app.store.base import EventType, Role, SessionStatus
from app.vocabulary import FINISH_REASONS

UTC_TIMESTAMP: Final = "datetime64[ns, UTC]"
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
ROLES: tuple[str, ...] = get_args(Role)
STATUSES: tuple[str, ...] = get_args(SessionStatus)

_SESSION_DTYPES: dict[str, Any] = {
    "session_id": "string",
    "user_id": "string",
    "start_time": UTC_TIMESTAMP,
    "end_time": UTC_TIMESTAMP,
    "duration_seconds": "float64",
    "status": STATUSES,
    "summary": "string",
    "turns": "Int64",
}
_EVENT_DTYPES: dict[str, Any] = {
    "id": "int64",
    "session_id": "string",
    "event_type": EVENT_TYPES,
    "role": ROLES,
    "content": "string",
    "created_at": UTC_TIMESTAMP,
}
# Metadata the app writes itself; other keys get a dtype inferred from their values.
_META_DTYPES: dict[str, Any] = {
    "meta.finish_reason": FINISH_REASONS,
    "meta.provider": (),
    "meta.model": (),
    "meta.name": (),
    "meta.message_id": "string",
    "meta.call_id": "string",
    "meta.ttft_ms": "float64",
    "meta.total_ms": "float64",
    "meta.tool_calls": "Int64",
    "meta.cost_usd": "float64",
    "meta.usage.prompt_tokens": "Int64",
    "meta.usage.completion_tokens": "Int64",
    "meta.usage.total_tokens": "Int64",
}
_TOOL_EVENTS = ("tool_call", "tool_result")


@dataclass(frozen=True)
class Dataset:
    """The sessions and events of one load, each as a DataFrame."""

    sessions: pd.DataFrame
    events: pd.DataFrame


def sessions_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Sessions as a typed DataFrame, one row each, `metadata` expanded into `meta.*` columns."""
    return _typed_frame(list(records), _SESSION_DTYPES)


def events_frame(records: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Events as a typed DataFrame ordered by id, with `meta.*` columns and the `tool` name."""
    frame = _typed_frame(list(records), _EVENT_DTYPES)
    frame = frame.sort_values("id", kind="stable", ignore_index=True)
    names = frame["meta.name"] if "meta.name" in frame else pd.Series(pd.NA, index=frame.index)
    tool = names.astype("object").where(frame["event_type"].isin(_TOOL_EVENTS))
    frame["tool"] = _as_dtype(tool, ())
    return frame


def build_dataset(
    sessions: Iterable[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
) -> Dataset:
    """Both frames from plain records; `turns` is counted from the events when not given."""
    session_rows, event_rows = sessions_frame(sessions), events_frame(events)
    user_turns = event_rows.loc[event_rows["event_type"] == "user_message", "session_id"]
    counted = session_rows["session_id"].map(user_turns.value_counts()).fillna(0)
    session_rows["turns"] = session_rows["turns"].fillna(counted.astype("Int64"))
    return Dataset(sessions=session_rows, events=event_rows)


def _typed_frame(records: list[Mapping[str, Any]], dtypes: dict[str, Any]) -> pd.DataFrame:
    """Known columns with their dtypes, then the expanded metadata."""
    base = pd.DataFrame(
        {name: [row.get(name) for row in records] for name in dtypes}, index=range(len(records))
    )
    for name, dtype in dtypes.items():
        base[name] = _as_dtype(base[name], dtype)
    meta = _expand_metadata([dict(row.get("metadata") or {}) for row in records])
    return pd.concat([base, meta], axis=1)


def _expand_metadata(documents: list[dict[str, Any]]) -> pd.DataFrame:
    """One `meta.` column per key (nested objects one level deep: `meta.usage.total_tokens`)."""
    if not any(documents):
        return pd.DataFrame(index=range(len(documents)))
    meta = pd.json_normalize(documents, max_level=1, sep=".").add_prefix("meta.")
    meta.index = pd.RangeIndex(len(documents))
    # A parent that is null in some rows and expanded in others adds only an empty column.
    meta = meta.drop(columns=[c for c in meta if c not in _META_DTYPES and meta[c].isna().all()])
    meta = meta[sorted(meta.columns)]
    for name in meta.columns:
        meta[name] = _as_dtype(meta[name], _META_DTYPES.get(name))
    return meta


def _as_dtype(values: pd.Series, dtype: Any) -> pd.Series:
    """Cast to a dtype name; a tuple means a category with those (and any further) values."""
    if dtype == UTC_TIMESTAMP:
        return pd.to_datetime(values, utc=True, format="ISO8601").astype(UTC_TIMESTAMP)
    if isinstance(dtype, tuple):
        seen = [v for v in pd.unique(values.dropna()) if v not in dtype]
        return values.astype(pd.CategoricalDtype([*dtype, *sorted(seen, key=str)]))
    if dtype is not None:
        return values.astype(dtype)
    return _inferred(values)


def _inferred(values: pd.Series) -> pd.Series:
    """Text as `string`, flags as `boolean`; numbers and mixed values stay as pandas reads them."""
    present = values.dropna()
    if values.dtype != object or present.empty:
        return values
    if all(isinstance(v, str) for v in present):
        return values.astype("string")
    if all(isinstance(v, bool) for v in present):
        return values.astype("boolean")
    return values
