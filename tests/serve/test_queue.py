"""The scheduler alone, with a scripted generator (no model): admission, batching, timeouts, cancel."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from serve_support import ContractDouble

from chefbot.generate.completion import ChatPrompt, Completion, WholeAnswerStream
from chefbot.serve.queue import Rejected, RequestTimeout, Scheduler


class ScriptedGenerator(ContractDouble):
    """Stands in for LocalGenerator: fixed delay per ``generate`` call (cut short when its ``cancel`` is set),
    records every model call it was given (``batches``: requests per call; ``generate_events``: how each
    call ended; ``stream_events``: how each stream ended)."""

    def __init__(self, delay: float = 0.2, tokens: int = 50, token_s: float = 0.01) -> None:
        self.delay, self.tokens, self.token_s = delay, tokens, token_s
        self.batches: list[int] = []
        self.generate_events: list[str] = []
        self.stream_events: list[str] = []

    def generate(self, batch, settings_override=None, on_result=None, cancel=None):
        self.batches.append(len(batch))
        stopped = (cancel if cancel is not None else threading.Event()).wait(self.delay)
        self.generate_events.append("cancelled" if stopped else "stop")
        if stopped:
            return [Completion("", "cancelled", 3, 0) for _ in batch]
        return [Completion(f"answer to {m[-1]['content']}", "stop", 3, 4) for m in batch]

    def stream(self, messages, settings_override=None):
        gen = self
        text = f"answer to {messages[-1]['content']}" if messages else "..."

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
                self.completion = Completion(text, reason, 3, n + 1)
                gen.stream_events.append(reason)

            def cancel(self):
                self._stop.set()

        return Handle()


def msgs(text: str) -> ChatPrompt:
    return ChatPrompt([{"role": "user", "content": text}])


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
        # "a": model work that cannot be stopped, so the slot stays busy past b's deadline
        a = asyncio.create_task(sched.run(lambda: time.sleep(0.4)))
        await asyncio.sleep(0.01)
        with pytest.raises(RequestTimeout):
            await sched.complete(msgs("b"), {})  # waits behind "a", times out, never runs
        with pytest.raises(RequestTimeout):
            await a  # "a" itself takes longer than the limit
        await asyncio.sleep(0.5)

    asyncio.run(main())
    assert gen.batches == [] and gen.generate_events == []  # "b" never reached the model
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


async def _until(pred, timeout: float = 1.0) -> float | None:
    """Seconds until ``pred()`` held (polled every 10 ms), or None if it did not within ``timeout``."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if pred():
            return time.perf_counter() - t0
        await asyncio.sleep(0.01)
    return None


def test_a_timed_out_request_stops_its_model_call_at_once():
    """A 504 used to leave the model generating to the end (here 10 s); now the scheduler sets the call's
    ``cancel``, and the slot is free within moments."""
    gen = ScriptedGenerator(delay=10)
    sched = Scheduler(gen, max_concurrency=1, max_queue=0, timeout_s=0.3, batch_window_s=0.0)

    async def main():
        with pytest.raises(RequestTimeout):
            await sched.complete(msgs("a"), {})
        return await _until(lambda: sched.stats.running == 0)

    freed = asyncio.run(main())
    assert freed is not None and freed < 1.0, freed
    assert gen.generate_events == ["cancelled"] and sched.stats.admitted == 0


def test_a_lone_request_answers_as_generate_would():
    gen = ScriptedGenerator(delay=0.0)
    sched = Scheduler(gen, max_concurrency=1, max_queue=0, timeout_s=30, batch_window_s=0.0)
    c = asyncio.run(sched.complete(msgs("q"), {}))
    assert c.text == "answer to q" and sched.stats.answered == 1 and sched.stats.running == 0


def test_a_caller_that_leaves_cancels_its_model_call():
    """What the server does when the client disconnects: the awaiting task is cancelled."""
    gen = ScriptedGenerator(delay=10)
    sched = Scheduler(gen, max_concurrency=1, max_queue=0, timeout_s=30, batch_window_s=0.0)

    async def main():
        task = asyncio.create_task(sched.complete(msgs("a"), {}))
        assert await _until(lambda: sched.stats.running == 1, 5) is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await _until(lambda: sched.stats.running == 0)

    freed = asyncio.run(main())
    assert freed is not None and freed < 1.0, freed
    assert gen.generate_events == ["cancelled"] and sched.stats.cancelled == 1 and sched.stats.admitted == 0


class StoppableBatches(ScriptedGenerator):
    """A generator whose ``generate`` runs until its ``cancel`` (a threading.Event) is set."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped: list[bool] = []

    def generate(self, batch, settings_override=None, on_result=None, cancel=None):
        self.batches.append(len(batch))
        stopped = cancel.wait(10)
        self.stopped.append(stopped)
        return [Completion("x", "cancelled" if stopped else "stop", 3, 4) for _ in batch]


def test_a_batch_stops_only_when_every_caller_left():
    gen = StoppableBatches()
    sched = Scheduler(gen, max_concurrency=1, max_queue=4, timeout_s=30, batch_window_s=0.05)

    async def main():
        a = asyncio.create_task(sched.complete(msgs("a"), {}))
        b = asyncio.create_task(sched.complete(msgs("b"), {}))
        assert await _until(lambda: sched.stats.running == 1, 5) is not None
        a.cancel()
        await asyncio.sleep(0.3)
        still = sched.stats.running  # b still wants its answer: the batch goes on
        b.cancel()
        freed = await _until(lambda: sched.stats.running == 0)
        await asyncio.gather(a, b, return_exceptions=True)
        return still, freed

    still, freed = asyncio.run(main())
    assert gen.batches == [2] and still == 1
    assert freed is not None and freed < 1.0 and gen.stopped == [True]


@pytest.mark.parametrize("how", ["timeout", "leave"])
def test_run_calls_cancel_when_it_times_out_or_its_caller_leaves(how):
    stop = threading.Event()
    sched = Scheduler(ScriptedGenerator(), max_concurrency=1, max_queue=0, timeout_s=0.3 if how == "timeout" else 30)

    async def main():
        task = asyncio.create_task(sched.run(lambda: stop.wait(10), cancel=stop.set))
        if how == "leave":
            assert await _until(lambda: sched.stats.running == 1, 5) is not None
            task.cancel()
        with pytest.raises(RequestTimeout if how == "timeout" else asyncio.CancelledError):
            await task
        return await _until(lambda: sched.stats.running == 0)

    freed = asyncio.run(main())
    assert stop.is_set() and freed is not None and freed < 1.0, (how, freed)
    assert sched.stats.admitted == 0


def test_a_stream_of_a_backend_without_streams_stops_its_generate_call():
    """vLLM's engine cannot stream: its stream is a ``WholeAnswerStream``, its ``generate`` of one request, whose
    ``cancel`` is set when the reader leaves (or its time is up)."""

    class NoStreams(ContractDouble):
        def __init__(self) -> None:
            self.gen = StoppableBatches()

        def generate(self, batch, settings_override=None, on_result=None, cancel=None):
            return self.gen.generate(batch, settings_override, on_result, cancel=cancel)

        def stream(self, messages, settings_override=None):
            return WholeAnswerStream(lambda cancel: self.generate([messages], settings_override, cancel=cancel)[0])

    backend = NoStreams()
    sched = Scheduler(backend, max_concurrency=1, max_queue=0, timeout_s=0.3)

    async def main():
        stream = await sched.open_stream(msgs("a"), {})
        with pytest.raises(RequestTimeout):
            async for _ in stream.deltas():
                pass
        return await _until(lambda: sched.stats.running == 0)

    freed = asyncio.run(main())
    assert freed is not None and freed < 1.0 and backend.gen.stopped == [True]
