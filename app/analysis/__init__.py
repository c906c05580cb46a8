"""Conversation analysis with pandas: shape sessions and events into frames, views, plots, files.

Loading them from a server or a database is app.notebook's job (`load_from_api`,
`load_from_database`); this package does no I/O but pandas' own file writing.
"""

from app.analysis.export import export_frames, flatten_for_files
from app.analysis.frames import Dataset, build_dataset, events_frame, sessions_frame
from app.analysis.plots import (
    plot_answer_timing,
    plot_messages_per_hour,
    plot_tool_usage,
    plot_usage_by_user,
)
from app.analysis.usage import answer_usage, usage_by_session, usage_by_user
from app.analysis.views import (
    answer_timing,
    format_transcript,
    messages_per_hour,
    sessions_table,
    tool_usage,
    transcript,
)

__all__ = [
    "Dataset",
    "answer_timing",
    "answer_usage",
    "build_dataset",
    "events_frame",
    "export_frames",
    "flatten_for_files",
    "format_transcript",
    "messages_per_hour",
    "plot_answer_timing",
    "plot_messages_per_hour",
    "plot_tool_usage",
    "plot_usage_by_user",
    "sessions_frame",
    "sessions_table",
    "tool_usage",
    "transcript",
    "usage_by_session",
    "usage_by_user",
]
