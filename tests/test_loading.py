"""Replay's reading plan without a database: checkpoints never skip a frame a replay needs."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from app.chat.loading import checkpoints, read_after
from app.store.base import EventRecord


def _event(event_id: int, seq: int | None) -> EventRecord:
    return EventRecord(
        id=event_id,
        session_id="s",
        event_type="assistant_message",
        role="assistant",
        content="",
        metadata={} if seq is None else {"seq": seq},
        created_at=datetime.now(UTC),
    )


def test_a_replay_of_the_last_frames_reads_from_a_late_checkpoint() -> None:
    events = [_event(i, i) for i in range(1, 1001)]
    marks = checkpoints(events, every=64)
    start = read_after(marks, 990)
    assert 900 < start <= 990
    assert read_after(marks, 0) == 0


@given(st.lists(st.one_of(st.none(), st.integers(1, 200)), max_size=300), st.integers(0, 210))
def test_no_event_above_after_seq_lies_before_the_start(
    seqs: list[int | None], after_seq: int
) -> None:
    events = [_event(i, seq) for i, seq in enumerate(seqs, start=1)]
    start = read_after(checkpoints(events, every=7), after_seq)
    skipped = [e for e in events if e.id <= start]
    assert all((e.metadata.get("seq") or 0) <= after_seq for e in skipped)
