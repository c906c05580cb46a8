"""Replay's reading plan without a database: what the open read is trusted for, never a gap."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from app.chat.events import AssistantDelta, UserMessageEcho
from app.chat.loading import checkpoints
from app.chat.replay import StoredFrames, opened
from app.store.base import EventRecord


def _event(event_id: int, seq: int | None) -> EventRecord:
    return EventRecord(
        id=event_id,
        session_id="s",
        event_type="assistant_message",
        role="assistant",
        content=f"answer {event_id}",
        metadata={} if seq is None else {"seq": seq, "message_id": f"m{event_id}"},
        created_at=datetime.now(UTC),
    )


def test_a_whole_log_holds_every_frame_and_a_log_end_only_those_above_its_first_mark() -> None:
    events = [_event(i, i) for i in range(1, 1001)]
    assert opened(events, complete=True).floor_seq == 0
    end = opened(events[500:], complete=False)
    assert 500 < end.floor_seq < 700
    assert [seq for seq, _ in end.between(990, 1001)] == list(range(991, 1001))


@given(st.lists(st.one_of(st.none(), st.integers(1, 200)), max_size=300))
def test_no_event_up_to_a_mark_has_a_seq_above_the_marks(seqs: list[int | None]) -> None:
    events = [_event(i, seq) for i, seq in enumerate(seqs, start=1)]
    for highest, event_id in checkpoints(events, every=7):
        skipped = [e for e in events if e.id <= event_id]
        assert all((e.metadata.get("seq") or 0) <= highest for e in skipped)


def test_fanned_out_frames_are_held_in_stored_form_in_seq_order_once() -> None:
    held = StoredFrames([_event(1, 1), _event(2, 3)], floor_seq=0, read_below=0)
    held.record(UserMessageEcho(message_id="m9", content="q", queued=True, seq=2))
    held.record(AssistantDelta(message_id="m9", delta="a", seq=4))
    assert len(held.between(0, 10)) == 3
    held.record(UserMessageEcho(message_id="m2", content="again", seq=3))
    frames = [(seq, orjson.loads(text)) for seq, text in held.between(0, 10)]
    assert [seq for seq, _ in frames] == [1, 2, 3]
    assert frames[1][1]["queued"] is False
    assert frames[2][1]["type"] == "assistant.done"
    assert held.between(1, 3) == held.between(0, 10)[1:2]


class _Log:
    """A store's `tail_events` over a list of events, counting the reads."""

    def __init__(self, events: list[EventRecord]) -> None:
        self.events = events
        self.reads = 0

    async def tail_events(
        self, session_id: str, *, limit: int = 1000, before_id: int | None = None
    ) -> list[EventRecord]:
        self.reads += 1
        below = [e for e in self.events if before_id is None or e.id < before_id]
        return below[-limit:]


async def test_an_open_let_go_of_is_read_back_once_when_a_replay_reaches_below_it() -> None:
    events = [_event(i, i) for i in range(1, 401)]
    held = opened(events[200:], complete=False)
    held.let_go_of_open()
    held.record(UserMessageEcho(message_id="m401", content="q", seq=401))
    log = _Log(events)
    await held.reach_down(log, "s", to_seq=400)  # type: ignore[arg-type]
    assert log.reads == 0
    assert [seq for seq, _ in held.between(400, 500)] == [401]
    await held.reach_down(log, "s", to_seq=0)  # type: ignore[arg-type]
    await held.reach_down(log, "s", to_seq=0)  # type: ignore[arg-type]
    assert log.reads == 1
    assert [seq for seq, _ in held.between(0, 500)] == list(range(1, 402))


def _stream(held: StoredFrames, after_seq: int, before_seq: int, count: int) -> list[int]:
    """What a replay sends, a chunk at a time, as Session._replay takes them."""
    sent: list[int] = []
    low = after_seq
    while True:
        frames, bound = held.next_frames(low, before_seq, count=count)
        sent.extend(seq for seq, _ in frames)
        if bound >= before_seq:
            return sent
        low = max(low, bound - 1)
        # A frame fanned out meanwhile (its seq above every stored one) waits its turn.
        held.record(UserMessageEcho(message_id="live", content="q", seq=10_000 + len(sent)))


@given(
    st.permutations(list(range(1, 121))),
    st.integers(0, 130),
    st.integers(1, 50),
)
def test_a_replay_in_chunks_sends_every_frame_above_after_seq_once_in_seq_order(
    seqs: list[int], after_seq: int, count: int
) -> None:
    # Stored in id order, numbered in any order (a queued message is stored before older seqs).
    events = [_event(i, seq) for i, seq in enumerate(seqs, start=1)]
    held = opened(events, complete=True)
    sent = _stream(held, after_seq, 20_000, count)
    stored = [seq for seq in range(after_seq + 1, 121)]
    assert sent[: len(stored)] == stored
    assert sent == sorted(set(sent))
    assert [seq for seq, _ in held.between(0, 121)] == list(range(1, 121))


def test_a_replay_that_stopped_early_leaves_every_frame_held_for_the_next() -> None:
    held = opened([_event(i, i) for i in range(1, 301)], complete=True)
    frames, bound = held.next_frames(0, 1000, count=10)
    assert [seq for seq, _ in frames] == list(range(1, 11)) and bound == 11
    held.let_go_of_open()
    assert [seq for seq, _ in held.between(0, 1000)] == list(range(1, 301))
