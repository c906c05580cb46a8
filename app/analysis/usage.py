"""Usage per session and per user: answers, time to first token, tokens and cost (LLM_PRICES).

The same figures `/metrics` counts live, read here from the stored answers' metadata.
"""

from __future__ import annotations

import pandas as pd

from app.analysis.frames import Dataset

# Stored answer metadata → the column names of the usage views.
_ANSWER_COLUMNS = {
    "meta.ttft_ms": "ttft_ms",
    "meta.total_ms": "total_ms",
    "meta.usage.prompt_tokens": "prompt_tokens",
    "meta.usage.completion_tokens": "completion_tokens",
    "meta.usage.total_tokens": "total_tokens",
    "meta.cost_usd": "cost_usd",
}
_TOKENS = ("prompt_tokens", "completion_tokens", "total_tokens")
USAGE_COLUMNS = (
    "answers",
    "ttft_ms_median",
    "ttft_ms_p90",
    "total_ms_median",
    *_TOKENS,
    "cost_usd",
)


def answer_usage(data: Dataset) -> pd.DataFrame:
    """One row per stored answer: its session, user, time to first token, tokens and cost."""
    events = data.events
    answers = events[events["event_type"] == "assistant_message"]
    rows = answers[["id", "session_id", "created_at"]].copy()
    owners = data.sessions.set_index("session_id")["user_id"]
    rows["user_id"] = rows["session_id"].map(owners).astype("string")
    for source, name in _ANSWER_COLUMNS.items():
        present = answers[source] if source in answers else pd.Series(pd.NA, index=answers.index)
        rows[name] = present.astype("Int64") if name in _TOKENS else present.astype("float64")
    return rows.reset_index(drop=True)


def usage_by_session(data: Dataset) -> pd.DataFrame:
    """Per session (with its user): answers, TTFT median and 90th percentile, tokens, cost."""
    per = _summarise(answer_usage(data), ["session_id", "user_id"])
    return per.sort_values("session_id", kind="stable", ignore_index=True)


def usage_by_user(data: Dataset) -> pd.DataFrame:
    """Per user: sessions, answers, TTFT median and p90, tokens, cost; costliest first."""
    answers = answer_usage(data)
    per = _summarise(answers, ["user_id"])
    sessions = data.sessions.groupby("user_id", observed=True)["session_id"].nunique()
    per.insert(1, "sessions", per["user_id"].map(sessions).fillna(0).astype("int64"))
    order = per["cost_usd"].fillna(0), per["total_tokens"].fillna(0)
    per = per.assign(_cost=order[0], _tokens=order[1])
    per = per.sort_values(["_cost", "_tokens", "user_id"], ascending=[False, False, True])
    return per.drop(columns=["_cost", "_tokens"]).reset_index(drop=True)


def _summarise(answers: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The usage columns for each group of answers; cost stays NA where no answer had one."""
    if answers.empty:
        empty = pd.DataFrame({key: pd.Series(dtype="string") for key in keys})
        for column in USAGE_COLUMNS:
            empty[column] = pd.Series(dtype="float64")
        return empty
    grouped = answers.groupby(keys, observed=True, dropna=False)
    per = grouped.agg(
        answers=("id", "size"),
        ttft_ms_median=("ttft_ms", "median"),
        ttft_ms_p90=("ttft_ms", lambda values: values.quantile(0.9)),
        total_ms_median=("total_ms", "median"),
    )
    for column in _TOKENS:
        per[column] = grouped[column].sum(min_count=1).astype("Int64")
    per["cost_usd"] = grouped["cost_usd"].sum(min_count=1).astype("float64")
    per = per.reset_index()
    for key in keys:
        per[key] = per[key].astype("string")
    return per[[*keys, *USAGE_COLUMNS]]
