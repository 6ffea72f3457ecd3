"""Admission, concurrency and batching in front of the one generation path.

Why hand-written: FastAPI/uvicorn have no request queue, and a model on a CPU or one
GPU can only do a little at a time.  The rules:

* **Bounded.**  At most ``max_concurrency + max_queue`` requests are admitted (running
  or waiting).  One more is rejected *at once* (429 with ``Retry-After``), never left
  hanging.
* **Concurrency limit.**  ``max_concurrency`` slots (an ``asyncio.Semaphore``); one
  generation call holds one slot.  Blocking model calls run in worker threads so the
  event loop keeps answering health checks, bad requests and other streams.
* **Batching.**  Non-streaming requests that arrive within ``batch_window_s`` of each
  other (or while every slot is busy) and share the same settings go to the model in
  ONE ``generate`` call (a ``TokenizedGenerator``: ``generate_from_ids``, with the ids the size check
  made, so no prompt is rendered twice), which pads on the left and batches on the GPU/CPU.
  Other model work (a ``/v1/completions`` request: ``run``) is one call of its own, under
  the same admission, slots and timeouts.
* **Timeouts.**  A request that has not finished ``timeout_s`` after it was admitted gets
  504 (or an error event when streaming), even if the model call never returns; a waiting
  one that times out is dropped before it runs.  Nothing a generator does can block the
  event loop: even ``generator.stream_from_ids(...)`` is called in the stream's own thread.
* **Disconnects and timeouts stop the work.**  A stream whose reader goes away (or whose time
  is up) cancels its generation (``StreamHandle.cancel``).  A batch whose every caller has
  gone (timed out, or the server saw the client leave: ``ServerState`` watches for it) is
  stopped too: every ``generate`` takes ``cancel``, a ``threading.Event`` set then (the
  ``Generator`` protocol, ``chefbot.generate.completion``, says what the queue may call).
  ``run`` takes a ``cancel`` callable for the same purpose (the planner's ``PlanStop.set``, a plain
  completion's event).  In every case the slot is freed only when the model thread has actually
  stopped, so the limit counts real work, and ``/health``'s ``running`` shows when it did.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chefbot.generate.completion import ChatPrompt, Completion, Generator, Stream, TokenizedGenerator, require

T = TypeVar("T")


class Rejected(Exception):
    """The queue is full: answer 429 at once with ``Retry-After``."""

    def __init__(self, message: str, retry_after: int, status: int = 429) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class RequestTimeout(Exception):
    """The request did not finish within ``serve.request_timeout_s``."""


@dataclass
class _Job:
    prompt: ChatPrompt
    settings: dict
    future: asyncio.Future
    key: str = ""
    cancelled: bool = False
    batch: _Batch | None = None  # set once the job is handed to the model

    def __post_init__(self) -> None:
        self.key = json.dumps(self.settings, sort_keys=True)


class _Batch:
    """The jobs of one model call, and how to stop it once none of them is wanted any more."""

    def __init__(self, jobs: list[_Job]) -> None:
        self.jobs = jobs
        self.stop = threading.Event()  # the generate() call's ``cancel``

    def job_left(self) -> None:
        """One caller gave up; when all of them have, stop the model call."""
        if all(j.cancelled for j in self.jobs):
            self.stop.set()


@dataclass
class Counters:
    admitted: int = 0  # in the system now (waiting or running)
    running: int = 0  # slots in use now
    answered: int = 0
    rejected: int = 0
    timed_out: int = 0
    cancelled: int = 0
    failed: int = 0
    batches: int = 0
    batched_requests: int = 0
    max_batch_seen: int = 0
    job_seconds: list[float] = field(default_factory=list)  # recent generation call durations


def generate_batch(
    generator: Generator, prompts: list[ChatPrompt], settings: dict, cancel: threading.Event
) -> list[Completion]:
    """The answers to ``prompts`` in one model call: a ``TokenizedGenerator`` from the ids each prompt was
    rendered to once (by the size check), any other generator from the messages."""
    if isinstance(generator, TokenizedGenerator):
        return generator.generate_from_ids([p.ids_for(generator) for p in prompts], settings, cancel=cancel)
    return generator.generate([p.messages for p in prompts], settings, cancel=cancel)


def start_stream(generator: Generator, prompt: ChatPrompt, settings: dict) -> Stream:
    """``prompt`` answered as a stream (as ``generate_batch`` chooses)."""
    if isinstance(generator, TokenizedGenerator):
        return generator.stream_from_ids(prompt.ids_for(generator), settings)
    return generator.stream(prompt.messages, settings)


class Scheduler:
    def __init__(
        self,
        generator: Generator,
        *,
        max_concurrency: int,
        max_queue: int,
        timeout_s: float,
        batch_window_s: float = 0.02,
        max_batch: int | None = None,
    ) -> None:
        require(generator, Generator)
        self.generator = generator
        self.max_concurrency = max_concurrency
        self.capacity = max_concurrency + max_queue
        self.timeout_s = timeout_s
        self.batch_window_s = batch_window_s
        self.max_batch = max_batch or generator.gen_cfg.batch_size
        self.stats = Counters()
        self._slots: asyncio.Semaphore | None = None
        self._waiting: list[_Job] = []
        self._batcher: asyncio.Task | None = None
        self._pool: ThreadPoolExecutor | None = None  # made on first use, again after close()

    # -- admission ------------------------------------------------------------------------
    def _sem(self) -> asyncio.Semaphore:
        if self._slots is None:  # created on first use, inside the server's event loop
            self._slots = asyncio.Semaphore(self.max_concurrency)
        return self._slots

    def retry_after(self) -> int:
        recent = self.stats.job_seconds[-20:]
        per_job = sum(recent) / len(recent) if recent else 1.0
        return max(1, math.ceil(per_job * max(1, self.stats.admitted) / self.max_concurrency))

    def _admit(self) -> None:
        if self.stats.admitted >= self.capacity:
            self.stats.rejected += 1
            raise Rejected(
                f"server busy: {self.stats.admitted} requests running or queued (limit {self.capacity}); retry later",
                self.retry_after(),
            )
        self.stats.admitted += 1

    def _leave(self, n: int = 1) -> None:
        self.stats.admitted -= n

    def _take_slot_now(self) -> None:
        self.stats.running += 1

    def _free_slot(self) -> None:
        self.stats.running -= 1
        self._sem().release()

    def snapshot(self) -> dict:
        s = self.stats
        return {
            "running": s.running,
            "admitted": s.admitted,
            "waiting": len(self._waiting),
            "capacity": self.capacity,
            "max_concurrency": self.max_concurrency,
            "answered": s.answered,
            "rejected": s.rejected,
            "timed_out": s.timed_out,
            "cancelled": s.cancelled,
            "failed": s.failed,
            "batches": s.batches,
            "batched_requests": s.batched_requests,
            "max_batch_seen": s.max_batch_seen,
        }

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:  # an app may be started again after a shutdown (test clients do): a new pool then
            pool.shutdown(wait=False, cancel_futures=True)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="chefbot-gen")
        return self._pool

    # -- non-streaming, batched ----------------------------------------------------------------
    async def complete(self, prompt: ChatPrompt, settings: dict) -> Completion:
        self._admit()
        job = _Job(prompt, settings, asyncio.get_running_loop().create_future())
        self._waiting.append(job)
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.create_task(self._batch_loop())
        try:
            # shield: a timed-out caller must not cancel a batch other callers share.
            return await asyncio.wait_for(asyncio.shield(job.future), self.timeout_s)
        except TimeoutError:
            self._give_up(job)
            self.stats.timed_out += 1
            raise RequestTimeout(f"no answer within {self.timeout_s:g} s (serve.request_timeout_s)") from None
        except asyncio.CancelledError:  # the caller is gone (ServerState saw the client leave)
            self._give_up(job)
            self.stats.cancelled += 1
            raise

    def _give_up(self, job: _Job) -> None:
        job.cancelled = True
        if job.batch is not None:  # running: stop the model call once no caller of the batch is left
            job.batch.job_left()

    async def _batch_loop(self) -> None:
        while self._waiting:
            await asyncio.sleep(self.batch_window_s)  # let concurrent requests join the batch
            await self._sem().acquire()  # while we wait here, more requests queue up and join
            live = [j for j in self._waiting if not j.cancelled]
            dropped = len(self._waiting) - len(live)
            if dropped:
                self._leave(dropped)  # timed out or disconnected before they ran
            if not live:
                self._waiting = []
                self._sem().release()
                continue
            key = live[0].key
            batch = [j for j in live if j.key == key][: self.max_batch]
            self._waiting = [j for j in live if j not in batch]
            self._take_slot_now()
            asyncio.create_task(self._run_batch(batch))

    async def _run_batch(self, batch: list[_Job]) -> None:
        loop = asyncio.get_running_loop()
        t0 = time.perf_counter()
        s = self.stats
        s.batches += 1
        s.batched_requests += len(batch)
        s.max_batch_seen = max(s.max_batch_seen, len(batch))
        run = _Batch(batch)
        for j in batch:
            j.batch = run
        try:
            results = await loop.run_in_executor(self._executor(), self._generate, run)
            for j, c in zip(batch, results):
                if not j.future.done():
                    j.future.set_result(c)
            s.answered += sum(not j.cancelled for j in batch)
        except Exception as e:  # every caller in the batch hears about it; none is left hanging
            s.failed += len(batch)
            for j in batch:
                if not j.future.done():
                    j.future.set_exception(e)
        finally:
            s.job_seconds = (s.job_seconds + [time.perf_counter() - t0])[-50:]
            self._leave(len(batch))
            self._free_slot()

    def _generate(self, run: _Batch) -> list[Completion]:
        """One model call for a batch (in a model thread), stopped once every caller has gone."""
        return generate_batch(self.generator, [j.prompt for j in run.jobs], run.jobs[0].settings, run.stop)

    # -- one model call of its own (not batched) ----------------------------------------------
    async def run(self, fn: Callable[[], T], cancel: Callable[[], Any] | None = None) -> T:
        """Admit, wait for a slot, and run ``fn`` in a model thread; the answer must come within
        ``timeout_s`` of admission (waiting included), else ``RequestTimeout``.  As with a batch, the
        slot is freed only when ``fn`` has actually returned, so the limit counts real work; ``cancel``
        (called from the event loop when the request times out or its caller is cancelled) should make
        ``fn`` return soon."""
        self._admit()
        loop = asyncio.get_running_loop()
        deadline = time.perf_counter() + self.timeout_s
        try:
            await asyncio.wait_for(self._sem().acquire(), self.timeout_s)
        except TimeoutError:
            self._leave()
            self.stats.timed_out += 1
            raise RequestTimeout(f"waited {self.timeout_s:g} s for a free slot (serve.request_timeout_s)") from None
        except BaseException:
            self._leave()
            raise
        self._take_slot_now()
        t0 = time.perf_counter()
        s = self.stats
        future = loop.run_in_executor(self._executor(), fn)

        def finished(f: asyncio.Future) -> None:
            s.job_seconds = (s.job_seconds + [time.perf_counter() - t0])[-50:]
            if f.cancelled() or f.exception() is not None:
                s.failed += 1
            else:
                s.answered += 1
            self._leave()
            self._free_slot()

        future.add_done_callback(finished)
        try:
            return await asyncio.wait_for(asyncio.shield(future), max(0.0, deadline - time.perf_counter()))
        except TimeoutError:
            s.timed_out += 1
            if cancel is not None:
                cancel()
            raise RequestTimeout(f"no answer within {self.timeout_s:g} s (serve.request_timeout_s)") from None
        except asyncio.CancelledError:  # the caller is gone (ServerState saw the client leave)
            s.cancelled += 1
            if cancel is not None:
                cancel()
            raise

    # -- streaming ----------------------------------------------------------------------------
    async def open_stream(
        self, prompt: ChatPrompt | None, settings: dict, start: Callable[[], Stream] | None = None
    ) -> ActiveStream:
        """Admit and wait for a slot (so 429/503 can still be an HTTP status), then start generating.

        The stream's deadline counts from admission: waiting for the slot uses up part of it.
        ``start``, when given, makes the stream's handle instead of ``start_stream(generator, prompt, settings)``
        (called in the stream's thread, like that); ``prompt`` is then None."""
        if (prompt is None) == (start is None):
            raise ValueError("open_stream takes exactly one of prompt and start")
        self._admit()
        deadline = time.perf_counter() + self.timeout_s
        try:
            await asyncio.wait_for(self._sem().acquire(), self.timeout_s)
        except TimeoutError:
            self._leave()
            self.stats.timed_out += 1
            raise Rejected(
                f"waited {self.timeout_s:g} s for a free slot (serve.request_timeout_s)", self.retry_after(), status=503
            ) from None
        except BaseException:
            self._leave()
            raise
        self._take_slot_now()
        return ActiveStream(self, prompt, settings, deadline, start)

    def _stream_finished(self, stream: ActiveStream) -> None:
        s = self.stats
        s.job_seconds = (s.job_seconds + [time.perf_counter() - stream.started])[-50:]
        if stream.error is not None:
            s.failed += 1
        elif stream.cancelled:
            s.cancelled += 1
        else:
            s.answered += 1
        self._leave()
        self._free_slot()


_END = object()


class ActiveStream:
    """One running streamed generation: iterate ``deltas()``; ``completion`` is set at the end."""

    def __init__(
        self,
        scheduler: Scheduler,
        prompt: ChatPrompt | None,
        settings: dict,
        deadline: float | None = None,
        start: Callable[[], Stream] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.started = time.perf_counter()
        self.deadline = deadline if deadline is not None else self.started + scheduler.timeout_s
        self.completion: Completion | None = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.timed_out = False
        self._ended = False  # the reader saw the end of the stream
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue = asyncio.Queue()
        self._handle: Stream | None = None
        self._opened = asyncio.Event()  # set once the handle is made, or making it failed
        self._lock = threading.Lock()  # between cancel() and the thread that creates the handle
        self._start = start if start is not None else lambda: start_stream(scheduler.generator, prompt, settings)
        self._thread = threading.Thread(target=self._pump, daemon=True, name="chefbot-pump")
        self._thread.start()

    def _put(self, item: Any) -> None:
        self._call(self._queue.put_nowait, item)

    def _call(self, fn: Any, *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the server's loop is gone (a model call that outlived the server): no one to tell
            pass

    def _pump(self) -> None:
        """Move deltas from the model thread to the event loop; free the slot once the model stopped."""
        try:
            handle = self._start()  # here, not in the event loop: it may tokenize, or hang
            with self._lock:
                self._handle = handle
                cancelled = self.cancelled
            self._call(self._opened.set)
            if cancelled:  # the reader left (or timed out) while the handle was being made
                handle.cancel()
            for delta in handle:
                self._put(delta)
            self.completion = handle.completion
        except BaseException as e:
            self.error = e
        finally:
            # One callback settles the counters and then ends the stream, so a reader that sees
            # the end can never run ahead of the bookkeeping (two callbacks left a window in which
            # the reader returned, and the loop closed, before the slot was freed).
            self._call(self._opened.set)
            self._call(self._finish)

    def _finish(self) -> None:
        try:
            self.scheduler._stream_finished(self)
        finally:
            self._queue.put_nowait(_END)

    async def opened(self) -> None:
        """Return once the engine took the request (its stream handle is made: an upstream has answered with its
        status), so that a refusal can still be an HTTP status; raise what making the handle raised.  Within
        the stream's deadline (else ``RequestTimeout``, and the stream is cancelled)."""
        try:
            await asyncio.wait_for(self._opened.wait(), max(0.0, self.deadline - time.perf_counter()))
        except TimeoutError:
            self.timed_out = True
            self.scheduler.stats.timed_out += 1
            self.cancel()
            raise RequestTimeout(
                f"the stream did not start within {self.scheduler.timeout_s:g} s (serve.request_timeout_s)"
            ) from None
        if self._handle is None and self.error is not None:
            raise self.error

    def cancel(self) -> None:
        if not self._ended and not self.cancelled:
            with self._lock:
                self.cancelled = True
                handle = self._handle
            if handle is not None:
                handle.cancel()

    async def deltas(self) -> AsyncIterator[str]:
        deadline = self.deadline
        try:
            while True:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    raise TimeoutError
                item = await asyncio.wait_for(self._queue.get(), remaining)
                if item is _END:
                    self._ended = True
                    break
                if item:
                    yield item
        except TimeoutError:
            self.timed_out = True
            self.scheduler.stats.timed_out += 1
            self.cancel()
            raise RequestTimeout(f"stream cut after {self.scheduler.timeout_s:g} s (serve.request_timeout_s)") from None
        finally:
            # Reader gone (client disconnected, or we stopped early): stop the model too.
            self.cancel()
        if self.error is not None:
            raise self.error
