"""Conversation analysis: load sessions and events into pandas, shape, plot and export them."""

from app.analysis.blocking import run_blocking
from app.analysis.demo import (
    DEMO_SCRIPTS,
    ChatLog,
    StreamPrinter,
    chat,
    converse,
    generate_demo_sessions,
    ws_url,
)
from app.analysis.export import export_frames, flatten_for_files
from app.analysis.frames import Dataset, build_dataset, events_frame, sessions_frame
from app.analysis.load import BackendClient, load_from_api, load_from_database, load_from_export
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
    "DEMO_SCRIPTS",
    "BackendClient",
    "ChatLog",
    "Dataset",
    "StreamPrinter",
    "answer_timing",
    "answer_usage",
    "build_dataset",
    "chat",
    "converse",
    "events_frame",
    "export_frames",
    "flatten_for_files",
    "format_transcript",
    "generate_demo_sessions",
    "load_from_api",
    "load_from_database",
    "load_from_export",
    "messages_per_hour",
    "plot_answer_timing",
    "plot_messages_per_hour",
    "plot_tool_usage",
    "plot_usage_by_user",
    "run_blocking",
    "sessions_frame",
    "sessions_table",
    "tool_usage",
    "transcript",
    "usage_by_session",
    "usage_by_user",
    "ws_url",
]
