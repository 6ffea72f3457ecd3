"""`chefbot serve` SIGKILLed in the middle of a stream (issue #12, item 5): the real command in
its own process, a tiny model, a streaming chat completion; the server dies after the first
chunk.  The client must get an error (not a hang, not a clean ``[DONE]``), and nothing on
disk may be left half-written (the server writes nothing while it streams)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def files_under(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chefbot serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"chefbot serve did not answer /health within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@pytest.mark.slow
def test_sigkill_mid_stream_gives_the_client_an_error_and_leaves_no_partial_files(babbler_dir, tmp_path):
    work = tmp_path / "work"  # the server's working folder; its output_dir lies inside it
    work.mkdir()
    model_before = files_under(babbler_dir)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "CHEFBOT_NO_PROGRESS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "chefbot.cli",
        "serve",
        str(REPO / "configs" / "quickstart.yaml"),
        f"output_dir={work / 'out'}",
        "serve.max_tokens_cap=4000",
        "--model-dir",
        str(babbler_dir),
        "--dtype",
        "fp32",
        "--engine",
        "hf",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_healthy(url, proc, log)
        events: list[str] = []
        t0 = time.perf_counter()
        with pytest.raises(httpx.TransportError) as err:  # RemoteProtocolError / ReadError: the body was cut
            with (
                httpx.Client(timeout=httpx.Timeout(30, connect=5)) as client,
                client.stream(
                    "POST",
                    url + "/v1/chat/completions",
                    json={
                        "messages": [{"role": "user", "content": "a long recipe please"}],
                        "max_tokens": 4000,
                        "stream": True,
                    },
                ) as r,
            ):
                assert r.status_code == 200
                for line in r.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    events.append(line[6:])
                    if len(events) == 1:
                        os.kill(proc.pid, signal.SIGKILL)  # the server, by its own pid
                        proc.wait(10)
        took = time.perf_counter() - t0
        assert proc.returncode == -signal.SIGKILL
        assert events and "[DONE]" not in events, events[-3:]  # never a clean end
        assert took < 20, f"the client waited {took:.1f} s for a dead server"
        print(f"client saw {len(events)} events, then {type(err.value).__name__}: {err.value}")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    leftovers = [p for p in work.rglob("*") if p.suffix in (".tmp", ".part", ".partial") or p.name.startswith(".tmp")]
    assert not leftovers, leftovers
    assert not [p for p in work.rglob("*") if p.is_file()], "the server wrote files while serving"
    assert files_under(babbler_dir) == model_before  # the model folder untouched
