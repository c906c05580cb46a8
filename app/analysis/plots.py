"""Matplotlib figures of the analysis views; each helper returns a Figure, shown by its caller."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

_COLORS = {"user": "#4C72B0", "assistant": "#DD8452", "ttft_ms": "#55A868", "total_ms": "#8172B3"}
_TIMING_TITLES = {"ttft_ms": "Time to first token", "total_ms": "Whole answer time"}


def _figure(width: float, height: float, columns: int = 1) -> tuple[Figure, list[Axes]]:
    """A figure on the Agg canvas: drawn without a display and never kept alive by pyplot."""
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, columns, squeeze=False)[0]
    return figure, list(axes)


def plot_answer_timing(timing: pd.DataFrame) -> Figure:
    """Histograms of time to first token and whole answer time, in ms, with their medians."""
    figure, axes = _figure(10, 3.6, columns=2)
    for ax, column in zip(axes, _TIMING_TITLES, strict=True):
        values = (
            timing[column].dropna().astype("float64")
            if column in timing
            else pd.Series(dtype="float64")
        )
        ax.set_title(_TIMING_TITLES[column])
        ax.set_xlabel("milliseconds")
        if values.empty:
            _say_empty(ax)
            continue
        ax.hist(values, bins=min(30, max(5, len(values) // 2)), color=_COLORS[column])
        median = float(values.median())
        ax.axvline(median, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            f"median {median:.0f} ms",
            (median, 1),
            xycoords=("data", "axes fraction"),
            xytext=(4, -14),
            textcoords="offset points",
        )
        ax.set_ylabel("answers")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(f"Answer timing ({len(timing)} answers)")
    return figure


def plot_tool_usage(usage: pd.DataFrame) -> Figure:
    """Horizontal bars: calls per tool, most used on top."""
    figure, [ax] = _figure(7, 1.2 + 0.45 * max(len(usage), 2))
    ax.set_title("Tool calls")
    if usage.empty:
        _say_empty(ax)
        return figure
    ordered = usage.iloc[::-1]
    bars = ax.barh(ordered["tool"].astype(str), ordered["calls"], color=_COLORS["assistant"])
    ax.bar_label(
        bars,
        labels=[
            f"{c} in {s} session{'' if s == 1 else 's'}"
            for c, s in zip(ordered["calls"], ordered["sessions"], strict=True)
        ],
        padding=4,
    )
    ax.set_xlabel("calls")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, float(ordered["calls"].max()) * 1.5)
    return figure


def plot_messages_per_hour(per_hour: pd.DataFrame) -> Figure:
    """Stacked bars of user and assistant messages per UTC hour."""
    figure, [ax] = _figure(10, 3.6)
    ax.set_title("Messages per hour")
    if per_hour.empty:
        _say_empty(ax)
        return figure
    hours = pd.DatetimeIndex(per_hour.index).tz_convert(None).to_numpy()
    width = np.timedelta64(50, "m")
    ax.bar(hours, per_hour["user"], width=width, align="edge", label="user", color=_COLORS["user"])
    ax.bar(
        hours,
        per_hour["assistant"],
        width=width,
        align="edge",
        label="assistant",
        bottom=per_hour["user"],
        color=_COLORS["assistant"],
    )
    # A margin of hours either side keeps a single busy hour from filling the whole axis.
    ax.set_xlim(hours[0] - np.timedelta64(2, "h"), hours[-1] + np.timedelta64(3, "h"))
    ax.set_xlabel("hour (UTC)")
    ax.set_ylabel("messages")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend()
    figure.autofmt_xdate()
    return figure


def plot_usage_by_user(per_user: pd.DataFrame, *, top: int = 12) -> Figure:
    """Per user (the `top` costliest): time to first token, tokens by kind, and cost."""
    shown = per_user.head(top).iloc[::-1]
    figure, axes = _figure(12, 1.6 + 0.4 * max(len(shown), 3), columns=3)
    for ax, title in zip(axes, ("Time to first token (ms)", "Tokens", "Cost"), strict=True):
        ax.set_title(title)
    if shown.empty:
        for ax in axes:
            _say_empty(ax)
        return figure
    users = shown["user_id"].astype(str).tolist()
    ttft_ax, tokens_ax, cost_ax = axes
    ttft_ax.barh(users, shown["ttft_ms_median"].astype("float64"), color=_COLORS["ttft_ms"])
    p90 = shown["ttft_ms_p90"].astype("float64")
    ttft_ax.scatter(p90, users, color="black", marker="|", s=160, zorder=3)
    ttft_ax.set_xlabel("median (bar), 90th percentile (|)")
    prompt = shown["prompt_tokens"].astype("float64").fillna(0)
    completion = shown["completion_tokens"].astype("float64").fillna(0)
    tokens_ax.barh(users, prompt, color=_COLORS["user"], label="prompt")
    tokens_ax.barh(users, completion, left=prompt, color=_COLORS["assistant"], label="completion")
    tokens_ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=2, frameon=False)
    tokens_ax.set_yticks([])
    spent = shown["cost_usd"].astype("float64")
    if spent.isna().all():
        cost_ax.text(0.5, 0.5, "no LLM_PRICES set", ha="center", transform=cost_ax.transAxes)
        cost_ax.set_axis_off()
    else:
        bars = cost_ax.barh(users, spent.fillna(0), color=_COLORS["total_ms"])
        cost_ax.bar_label(bars, labels=[f"${v:.3g}" for v in spent.fillna(0)], padding=3)
        cost_ax.set_xlim(0, float(spent.max()) * 1.6)
        cost_ax.set_xlabel("USD by LLM_PRICES")
        cost_ax.set_yticks([])
    figure.suptitle(f"Usage per user ({int(shown['answers'].sum())} answers)")
    return figure


def _say_empty(ax: Axes) -> None:
    ax.text(0.5, 0.5, "no data yet", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
