"""`chefbot chat`: streaming, history, /reset, /quit; local model and a running server."""

from __future__ import annotations

import io

from serve_support import live_app, serve_cfg

from chefbot.serve.terminal_chat import chat_loop, local_stream_fn, remote_stream_fn


def scripted(lines):
    it = iter(lines)

    def read(_prompt):
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    return read


class Recorder:
    """Wraps a stream function and records the history each turn sent."""

    def __init__(self, fn):
        self.fn, self.sent = fn, []

    def __call__(self, messages):
        self.sent.append([dict(m) for m in messages])
        return self.fn(messages)


def test_history_reset_and_quit_with_a_local_model(babbler_generator):
    rec = Recorder(local_stream_fn(babbler_generator, {"max_new_tokens": 5}))
    out = io.StringIO()
    history = chat_loop(
        rec, scripted(["rice?", "and lemon?", "/reset", "eggs?", "/quit", "never read"]), out, system="Be brief."
    )
    assert [len(s) for s in rec.sent] == [2, 4, 2]  # system+user; +answer+user; after /reset again from scratch
    assert rec.sent[1][2]["role"] == "assistant" and rec.sent[1][2]["content"].strip()  # the answer is remembered
    assert rec.sent[2][-1]["content"] == "eggs?" and rec.sent[2][0]["role"] == "system"
    assert "(conversation forgotten)" in out.getvalue()
    assert history[-2]["content"] == "eggs?" and history[-1]["role"] == "assistant"
    assert out.getvalue().count("chefbot> ") == 3


def test_chat_against_a_running_server(babbler_dir, babbler_generator):
    with live_app(serve_cfg(babbler_dir), babbler_generator) as srv:
        out = io.StringIO()
        history = chat_loop(remote_stream_fn(srv.url, "chefbot", max_tokens=6), scripted(["hello", "/history"]), out)
        answer = history[-1]["content"]
        assert history[-1]["role"] == "assistant" and answer.strip()
        assert f"chefbot> {answer}" in out.getvalue()  # printed as it streamed in
        assert "[user] hello" in out.getvalue()
