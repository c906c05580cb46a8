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
from app.analysis.load import BackendClient, load_from_api, load_from_database
from app.analysis.plots import plot_answer_timing, plot_messages_per_hour, plot_tool_usage
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
    "messages_per_hour",
    "plot_answer_timing",
    "plot_messages_per_hour",
    "plot_tool_usage",
    "run_blocking",
    "sessions_frame",
    "sessions_table",
    "tool_usage",
    "transcript",
    "ws_url",
]
