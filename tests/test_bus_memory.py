"""The in-memory log: seq numbering, tail, trim and fan-out."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.bus.memory import MemoryLog
from app.chat.events import AssistantDelta, AssistantDone, ConversationFrame, UserMessageEcho


def _delta(text: str) -> AssistantDelta:
    return AssistantDelta(message_id="m", delta=text)


async def test_frames_get_increasing_seqs_from_the_floor() -> None:
    log = MemoryLog()
    assert await log.open("s", floor=41) == 41
    first = await log.append("s", _delta("a"))
    second = await log.append("s", _delta("b"))
    assert (first.seq, second.seq) == (42, 43)
    assert await log.open("s", floor=5) == 43  # a lower floor never goes back


async def test_listeners_get_each_frame_once_until_they_stop() -> None:
    log = MemoryLog()
    seen: list[ConversationFrame] = []
    stop = log.listen("s", seen.append)
    await log.append("s", _delta("a"))
    stop()
    await log.append("s", _delta("b"))
    assert [f.seq for f in seen] == [1]


async def test_trim_drops_stored_frames_and_says_where_the_tail_starts() -> None:
    log = MemoryLog()
    for piece in "abcde":
        await log.append("s", _delta(piece))
    await log.trim("s", through_seq=3)
    tail = await log.tail("s", after_seq=0)
    assert tail.first_seq == 4 and [f.seq for f in tail.frames] == [4, 5]
    assert [f.seq for f in (await log.tail("s", after_seq=4)).frames] == [5]


async def test_forget_releases_a_session_without_listeners() -> None:
    log = MemoryLog()
    await log.append("s", _delta("a"))
    await log.forget("s")
    assert await log.open("s", floor=0) == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["append", "trim"]), max_size=40))
def test_seq_strictly_increases_whatever_is_appended_or_trimmed(steps: list[str]) -> None:
    import asyncio

    async def run() -> list[int]:
        log = MemoryLog()
        seqs: list[int] = []
        for step in steps:
            if step == "append":
                seqs.append((await log.append("s", _delta("x"))).seq or 0)
            else:
                await log.trim("s", through_seq=seqs[-1] if seqs else 0)
        return seqs

    seqs = asyncio.run(run())
    assert all(b > a for a, b in zip(seqs, seqs[1:], strict=False))


async def test_tail_gives_back_each_held_frame_as_appended_from_any_seq() -> None:
    log = MemoryLog()
    appended = [
        await log.append("s", AssistantDelta(message_id="m1", delta="a")),
        await log.append("s", AssistantDelta(message_id="m1", delta="b")),
        await log.append("s", UserMessageEcho(message_id="m2", content="next", queued=True)),
        await log.append("s", AssistantDelta(message_id="m1", delta="c")),
        await log.append("s", AssistantDone(message_id="m1", content="abc", finish_reason="stop")),
        await log.append("s", AssistantDelta(message_id="m2", delta="d")),
    ]
    for after in range(len(appended) + 1):
        assert (await log.tail("s", after_seq=after)).frames == appended[after:]
    await log.trim("s", through_seq=1)  # inside a run of deltas
    tail = await log.tail("s", after_seq=0)
    assert tail.first_seq == 2 and tail.frames == appended[1:]
