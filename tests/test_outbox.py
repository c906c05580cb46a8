"""The outbox without a socket: order, delta merging, the bound on a peer that stops reading."""

from __future__ import annotations

import asyncio

import pytest

from app.chat.events import AssistantDelta, ErrorFrame, Pong, ServerFrame, encode_frame
from app.chat.outbox import CLOSE_POLICY, LoopLateness, Outbox


class Peer:
    """A send callable that records what it is given; `gate` shut means the peer is not reading."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: list[tuple[int, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def send(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))


def _delta(text: str, seq: int, message_id: str = "m1") -> AssistantDelta:
    return AssistantDelta(message_id=message_id, delta=text, seq=seq)


async def test_frames_leave_in_the_order_they_were_put() -> None:
    peer = Peer()
    outbox = Outbox(peer.send, peer.close)
    frames: list[ServerFrame] = [Pong(), ErrorFrame(code="busy", message="b"), _delta("a", 1)]
    for frame in frames:
        outbox.put(frame)
    await outbox.flush()
    assert peer.sent == [encode_frame(f) for f in frames]


async def test_deltas_waiting_behind_a_slow_peer_merge_with_the_last_seq() -> None:
    peer = Peer()
    peer.gate.clear()
    outbox = Outbox(peer.send, peer.close)
    outbox.put(_delta("Hel", 1))
    await asyncio.sleep(0)  # the first send is now in flight, held at the gate
    for seq, piece in enumerate(["lo", ", ", "world"], start=2):
        outbox.put(_delta(piece, seq))
    outbox.put(_delta("other", 5, message_id="m2"))
    peer.gate.set()
    await outbox.flush()
    assert peer.sent == [
        encode_frame(_delta("Hel", 1)),
        encode_frame(_delta("lo, world", 4)),
        encode_frame(_delta("other", 5, message_id="m2")),
    ]


async def test_a_peer_that_stops_reading_is_closed_with_policy_and_nothing_grows() -> None:
    peer = Peer()
    peer.gate.clear()
    outbox = Outbox(peer.send, peer.close, limit=5)
    for _ in range(10_000):
        outbox.put(Pong())
    await outbox.wait_closed()
    assert outbox.overflowed and not outbox.open
    assert peer.closed == [(CLOSE_POLICY, "the client is not reading its frames")]
    assert peer.sent == []


async def test_close_sends_what_is_queued_then_the_close_code() -> None:
    peer = Peer()
    outbox = Outbox(peer.send, peer.close)
    outbox.put(Pong())
    outbox.close(4410, "taken over")
    outbox.put(Pong())  # after close: dropped
    await outbox.wait_closed()
    assert peer.sent == [encode_frame(Pong())] and peer.closed == [(4410, "taken over")]


async def test_abort_drops_what_is_queued() -> None:
    peer = Peer()
    peer.gate.clear()
    outbox = Outbox(peer.send, peer.close)
    outbox.put(Pong())
    outbox.put(Pong())
    outbox.abort()
    await outbox.wait_closed()
    peer.gate.set()
    assert peer.sent == [] and not outbox.open


async def test_a_failing_send_stops_the_outbox_quietly() -> None:
    async def broken(text: str) -> None:
        raise ConnectionError("gone")

    peer = Peer()
    outbox = Outbox(broken, peer.close)
    outbox.put(Pong())
    await outbox.wait_closed()
    assert not outbox.open


async def test_within_the_flush_window_deltas_merge_and_the_first_leaves_at_once() -> None:
    peer = Peer()
    outbox = Outbox(peer.send, peer.close, flush_window=0.05)
    outbox.put(_delta("a", 1))
    await asyncio.sleep(0)
    assert peer.sent == [encode_frame(_delta("a", 1))]  # no wait for the first
    for seq, piece in enumerate("bcd", start=2):
        outbox.put(_delta(piece, seq))
        await asyncio.sleep(0)
    assert len(peer.sent) == 1  # held back inside the window
    await outbox.flush()
    assert peer.sent[1:] == [encode_frame(_delta("bcd", 4))]


async def test_a_frame_behind_a_held_delta_sends_both_at_once() -> None:
    peer = Peer()
    outbox = Outbox(peer.send, peer.close, flush_window=10.0)
    outbox.put(_delta("a", 1))
    await asyncio.sleep(0)
    outbox.put(_delta("b", 2))
    outbox.put(Pong())
    await outbox.flush()  # well inside the 10 s window: nothing waited for it
    assert peer.sent[1:] == [encode_frame(_delta("b", 2)), encode_frame(Pong())]


def _late_loop(seconds: float) -> LoopLateness:
    lateness = LoopLateness()
    for _ in range(200):
        lateness.observe(seconds)
    return lateness


def test_the_lateness_is_a_moving_average_of_the_timers() -> None:
    lateness = _late_loop(0.2)
    before = lateness.seconds
    assert 0.199 < before <= 0.2
    lateness.observe(-1.0)  # a timer that fired early counts as on time
    assert lateness.seconds == pytest.approx(before * 19 / 20)


async def test_while_the_loop_runs_late_the_window_widens_up_to_the_widest() -> None:
    peer = Peer()
    late = _late_loop(1.0)
    fixed = Outbox(peer.send, peer.close, flush_window=0.001, lateness=late)
    capped = Outbox(peer.send, peer.close, flush_window=0.001, widest_window=2.0, lateness=late)
    assert fixed.window == 0.001 and capped.window == 2.0
    outbox = Outbox(peer.send, peer.close, flush_window=0.001, widest_window=9.0, lateness=late)
    assert outbox.window == pytest.approx(0.001 + 4 * late.seconds)
    outbox.put(_delta("a", 1))
    await asyncio.sleep(0)
    outbox.put(_delta("b", 2))
    await asyncio.sleep(0.02)  # twenty times the configured window
    assert peer.sent == [encode_frame(_delta("a", 1))]
    outbox.put(_delta("c", 3))
    await outbox.flush()
    assert peer.sent[1:] == [encode_frame(_delta("bc", 3))]
    for idle in (fixed, capped):
        await idle.flush()


async def test_a_long_replay_fed_with_wait_for_room_never_overflows() -> None:
    peer = Peer()
    outbox = Outbox(peer.send, peer.close, limit=10)
    for seq in range(1, 101):
        await outbox.wait_for_room()
        outbox.put(ErrorFrame(code="x", message="m", message_id="m1", seq=seq))
    await outbox.flush()
    assert not outbox.overflowed and len(peer.sent) == 100
