"""The scheduler alone, with a scripted generator (no model): admission, batching, timeouts, cancel."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from chefbot.generate import Completion
from chefbot.serve.queue import Rejected, RequestTimeout, Scheduler


class ScriptedGenerator:
    """Stands in for LocalGenerator: fixed delay per call, records every batch it was given."""

    def __init__(self, delay: float = 0.2, tokens: int = 50, token_s: float = 0.01) -> None:
        self.delay, self.tokens, self.token_s = delay, tokens, token_s
        self.batches: list[int] = []
        self.stream_events: list[str] = []

    def generate(self, batch, settings_override=None, on_result=None):
        self.batches.append(len(batch))
        time.sleep(self.delay)
        return [Completion(f"answer to {m[-1]['content']}", "stop", 3, 4) for m in batch]

    def stream(self, messages, settings_override=None):
        gen = self

        class Handle:
            completion = None
            _stop = threading.Event()

            def __iter__(self):
                n = 0
                for n in range(gen.tokens):
                    if self._stop.is_set():
                        break
                    time.sleep(gen.token_s)
                    yield f"t{n} "
                reason = "cancelled" if self._stop.is_set() else "length"
                self.completion = Completion("...", reason, 3, n + 1)
                gen.stream_events.append(reason)

            def cancel(self):
                self._stop.set()

        return Handle()


def msgs(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_concurrent_requests_with_same_settings_share_one_batch():
    gen = ScriptedGenerator(delay=0.3)
    sched = Scheduler(gen, max_concurrency=1, max_queue=16, timeout_s=30, batch_window_s=0.05)

    async def main():
        return await asyncio.gather(*[sched.complete(msgs(f"q{i}"), {"max_new_tokens": 8}) for i in range(6)])

    results = asyncio.run(main())
    assert [r.text for r in results] == [f"answer to q{i}" for i in range(6)]  # each caller gets its own answer
    assert sum(gen.batches) == 6 and len(gen.batches) < 6 and max(gen.batches) >= 3
    assert sched.stats.admitted == 0 and sched.stats.answered == 6


def test_different_settings_are_not_mixed_in_a_batch():
    gen = ScriptedGenerator(delay=0.05)
    sched = Scheduler(gen, max_concurrency=1, max_queue=16, timeout_s=30, batch_window_s=0.05)

    async def main():
        return await asyncio.gather(*[sched.complete(msgs("x"), {"max_new_tokens": 8 + i % 2}) for i in range(4)])

    asyncio.run(main())
    assert sorted(gen.batches) == [2, 2]


def test_full_queue_rejects_at_once_with_retry_after():
    gen = ScriptedGenerator(delay=0.5)
    sched = Scheduler(gen, max_concurrency=1, max_queue=1, timeout_s=30, batch_window_s=0.0, max_batch=1)

    async def main():
        first = asyncio.create_task(sched.complete(msgs("a"), {}))
        second = asyncio.create_task(sched.complete(msgs("b"), {}))
        await asyncio.sleep(0.05)
        t0 = time.perf_counter()
        with pytest.raises(Rejected) as err:
            await sched.complete(msgs("c"), {})
        waited = time.perf_counter() - t0
        await asyncio.gather(first, second)
        return err.value, waited

    err, waited = asyncio.run(main())
    assert waited < 0.1 and err.status == 429 and err.retry_after >= 1
    assert sched.stats.rejected == 1 and sched.stats.answered == 2 and sched.stats.admitted == 0


def test_timed_out_request_is_dropped_before_it_runs():
    gen = ScriptedGenerator(delay=0.4)
    sched = Scheduler(gen, max_concurrency=1, max_queue=4, timeout_s=0.25, batch_window_s=0.0, max_batch=1)

    async def main():
        a = asyncio.create_task(sched.complete(msgs("a"), {}))
        await asyncio.sleep(0.01)
        with pytest.raises(RequestTimeout):
            await sched.complete(msgs("b"), {})  # waits behind "a", times out, never runs
        with pytest.raises(RequestTimeout):
            await a  # "a" itself takes longer than the limit
        await asyncio.sleep(0.5)

    asyncio.run(main())
    assert gen.batches == [1]  # only "a" ever reached the model
    assert sched.stats.admitted == 0 and sched.stats.running == 0


def test_stream_reader_leaving_cancels_generation_and_frees_the_slot():
    gen = ScriptedGenerator(tokens=200, token_s=0.005)
    sched = Scheduler(gen, max_concurrency=1, max_queue=0, timeout_s=30)

    async def main():
        stream = await sched.open_stream(msgs("a"), {})
        with pytest.raises(Rejected):  # the one slot is busy and there is no queue
            await sched.open_stream(msgs("b"), {})
        got = []
        agen = stream.deltas()
        async for d in agen:
            got.append(d)
            if len(got) == 3:
                break
        await agen.aclose()  # what Starlette does when the client disconnects
        for _ in range(200):
            if sched.stats.running == 0:
                break
            await asyncio.sleep(0.01)
        again = await sched.open_stream(msgs("c"), {})  # the slot is free again
        async for _ in again.deltas():
            pass
        return stream, again

    stream, again = asyncio.run(main())
    assert stream.completion.finish_reason == "cancelled" and stream.completion.completion_tokens < 200
    assert again.completion.finish_reason == "length"
    assert sched.stats.cancelled == 1 and sched.stats.answered == 1 and sched.stats.admitted == 0


def test_a_reader_that_saw_the_end_finds_the_counters_settled(monkeypatch):
    """The end of a stream is delivered in the same loop callback that frees the slot, so the
    reader can never see the end (and return, closing the loop) before the bookkeeping ran.
    The pump thread is made slow after each item it hands over, as a preempted thread would be:
    with the end and the bookkeeping in two callbacks, the reader ran ahead every time."""
    from chefbot.serve import queue as q

    put = q.ActiveStream._put

    def slow_put(self, item):
        put(self, item)
        time.sleep(0.02)

    monkeypatch.setattr(q.ActiveStream, "_put", slow_put)
    gen = ScriptedGenerator(tokens=3, token_s=0.0)
    sched = Scheduler(gen, max_concurrency=1, max_queue=0, timeout_s=30)

    async def main():
        seen = []
        for k in range(5):
            stream = await sched.open_stream(msgs(str(k)), {})
            async for _ in stream.deltas():
                pass
            seen.append((sched.stats.running, sched.stats.admitted, sched.stats.answered))
        return seen

    seen = asyncio.run(main())
    assert seen == [(0, 0, k + 1) for k in range(5)]
