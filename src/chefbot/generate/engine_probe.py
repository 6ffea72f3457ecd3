"""Is the llama.cpp engine safe on this machine?  One probe in a child process, its verdict cached.

A native llama.cpp build can crash the whole process at its first forward pass: on Intel Xeons with
AMX (Sapphire/Granite Rapids) llama.cpp 0.3.36's AMX path segfaults in ``libggml-cpu.so``
(ggml-org/llama.cpp#20824; chefbot's Makefile now builds without it: docs/SERVING.md).  A crash
cannot be caught in-process, so before the server or the terminal chat loads the engine,
``probe_llamacpp`` runs it in a child: load the GGUF with the engine's model and context settings,
decode a short prompt and a few tokens one at a time.  The verdict (passed, or the reason: the signal
such as SIGSEGV and the child's last line of output) is cached in ``<GGUF folder>/engine-probe/KEY.json``
(written atomically), KEY a digest of everything that decides it:

* the library build: the llama-cpp-python version and the size and mtime of each of its shared
  libraries (a rebuild, e.g. ``make setup-llamacpp`` with other flags, is probed afresh);
* the CPU: its model and the SIMD flags llama.cpp dispatches on (``cpu_info``);
* the GGUF file: its name (a fingerprint of base + adapter + quantization), size and mtime.

``cpu_info`` is also what ``/health`` and every benchmark JSON report as the machine's CPU.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from chefbot.io import atomic_write_json

CPUINFO = Path("/proc/cpuinfo")
PROBE_VERSION = 1  # bump when what the probe does changes: old verdicts are then not reused
PROBE_TIMEOUT_S = 300.0
PROBE_TOKENS = 4  # tokens decoded one at a time after the prompt
# The CPU flags that decide which llama.cpp (and torch) kernels run: SIMD width, dot-product and matrix units.
RELEVANT_FLAG = re.compile(r"^(sse4_2|fma|f16c|avx\w*|amx\w*|\w*vnni\w*|\w*bf16\w*|\w*fp16\w*)$")

# What the child runs: only llama_cpp (and ctypes), never chefbot or torch, so it starts in a second.
# The engine's settings: CPU only, the default model parameters (extra buffer types such as AMX or the
# repacked q4_0/q8_0 layouts on, as the engine loads them), one context of 512 tokens, a prompt decoded
# as one batch, then single tokens, greedy.
PROBE_SCRIPT = r"""
import sys
import llama_cpp as L

path, threads, n_new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
L.llama_backend_init()
mp = L.llama_model_default_params()
mp.n_gpu_layers = 0
model = L.llama_model_load_from_file(path.encode(), mp)
if not model:
    sys.exit("llama.cpp could not load " + path)
cp = L.llama_context_default_params()
cp.n_ctx, cp.n_batch, cp.n_ubatch, cp.n_seq_max = 512, 512, 512, 1
cp.n_threads = cp.n_threads_batch = threads
cp.no_perf = True
ctx = L.llama_init_from_model(model, cp)
if not ctx:
    sys.exit("llama.cpp could not create a context")
n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
ids = [(7 * i + 1) % n_vocab for i in range(8)]
for step in range(n_new + 1):
    arr = (L.llama_token * len(ids))(*ids)
    rc = L.llama_decode(ctx, L.llama_batch_get_one(arr, len(ids)))
    if rc != 0:
        sys.exit("llama_decode returned %d" % rc)
    logits = L.llama_get_logits_ith(ctx, -1)
    best = max(range(n_vocab), key=lambda t: logits[t])
    if logits[best] != logits[best]:
        sys.exit("llama.cpp returned NaN logits")
    ids = [best]
L.llama_free(ctx)
L.llama_model_free(model)
print("probe ok")
"""


# ---------------------------------------------------------------------------------------------
# what the verdict depends on
# ---------------------------------------------------------------------------------------------


def cpu_info() -> dict[str, Any]:
    """The CPU: ``model``, ``arch``, the ``flags`` that decide the kernels (avx2, avx512*, amx*, *vnni*, *bf16*,
    *fp16*, fma, f16c, sse4_2; Linux's names, from /proc/cpuinfo) and ``amx`` (any amx flag).  Where
    /proc/cpuinfo is missing (macOS, Windows) the model is ``platform.processor()`` and the flags are empty.
    Read once per process; each call returns a fresh copy."""
    info = _read_cpu_info()
    return {**info, "flags": list(info["flags"])}


@lru_cache(maxsize=1)
def _read_cpu_info() -> dict[str, Any]:
    model, flags = "", set()
    try:
        for line in CPUINFO.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not model:
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
            if model and flags:
                break
    except OSError:
        pass
    relevant = sorted(f for f in flags if RELEVANT_FLAG.match(f))
    return {
        "model": model or platform.processor() or "unknown",
        "arch": platform.machine(),
        "flags": relevant,
        "amx": any(f.startswith("amx") for f in relevant),
    }


def library_identity() -> dict[str, Any] | None:
    """The installed llama-cpp-python build, without importing it: its version and the size and mtime of each
    shared library it ships (llama.cpp and ggml); None when it is not installed."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.origin:
        return None
    folder = Path(spec.origin).parent
    try:
        version = importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        version = None
    libs = sorted({p for pat in ("*.so", "*.so.*", "*.dylib", "*.dll") for p in folder.rglob(pat) if p.is_file()})
    return {
        "llama_cpp_python": version,
        "libs": [
            {"name": str(p.relative_to(folder)), "size": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns}
            for p in libs
        ],
    }


def file_identity(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"name": path.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def probe_key(gguf: Path, library: dict[str, Any] | None = None, cpu: dict[str, Any] | None = None) -> str:
    """The cache key of a verdict: probe version, library build, CPU (model and flags), GGUF file."""
    what = {
        "probe": PROBE_VERSION,
        "library": library if library is not None else library_identity(),
        "cpu": {k: v for k, v in (cpu or cpu_info()).items() if k in ("model", "arch", "flags")},
        "gguf": file_identity(Path(gguf)),
    }
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# the probe
# ---------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    ok: bool
    reason: str  # "" when ok; else one line: what happened, the signal or status, the child's last line of output
    key: str
    gguf: str
    seconds: float = 0.0
    returncode: int | None = None
    last_output: str = ""
    cpu: dict = field(default_factory=dict)
    library: dict | None = None
    cached: bool = False  # read back from the cache (not probed in this process)
    cache_file: str | None = None

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("cached")
        return d


def probe_command(gguf: Path, threads: int, tokens: int) -> list[str]:
    """The child's command line (tests replace it with one that crashes)."""
    return [sys.executable, "-c", PROBE_SCRIPT, str(gguf), str(threads), str(tokens)]


def _last_line(*texts: str) -> str:
    for text in texts:
        lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
        if lines:
            return lines[-1][:300]
    return ""


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_probe(
    gguf: Path, threads: int, timeout_s: float = PROBE_TIMEOUT_S, tokens: int = PROBE_TOKENS
) -> tuple[bool, str, int | None, str, bool]:
    """Run the probe child once: (ok, reason, returncode, last line of output, worth caching)."""
    env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    what = f"the llamacpp engine's probe (a child process loading {gguf.name} and decoding {tokens + 1} steps)"
    try:
        r = subprocess.run(
            probe_command(gguf, threads, tokens),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout_s,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        last = _last_line(out)
        shown = f"; its last output: {last.replace('[', '(').replace(']', ')')!r}" if last else ""
        return False, f"{what} did not finish in {timeout_s:.0f} s{shown}", None, last, False  # not a verdict
    last = _last_line(r.stderr, r.stdout)
    if r.returncode == 0 and "probe ok" in r.stdout:
        return True, "", 0, last, True
    if r.returncode < 0:
        name = _signal_name(r.returncode)
        reason = f"llama.cpp crashed with {name} in {what}"
        cacheable = name != "SIGKILL"  # SIGKILL: most likely the OOM killer or a user, not the library
    else:
        reason = f"{what} exited with status {r.returncode}"
        cacheable = True
    if last:  # brackets as parentheses: the CLI prints messages as rich markup, where [x] is a tag
        reason += f"; its last output: {last.replace('[', '(').replace(']', ')')!r}"
    if "AMX" in (r.stderr or ""):
        reason += (
            "; this llama.cpp build uses Intel AMX, which crashes on this CPU: rebuild it without AMX "
            "(`make setup-llamacpp`, docs/SERVING.md)"
        )
    return False, reason, r.returncode, last, cacheable


def probe_llamacpp(
    gguf: str | Path, threads: int, *, cache_dir: str | Path | None = None, timeout_s: float = PROBE_TIMEOUT_S
) -> Verdict:
    """The verdict for this GGUF with the installed llama-cpp-python on this CPU: cached, else probed now in a
    child process (and cached, unless the child timed out or was killed with SIGKILL)."""
    gguf = Path(gguf)
    library, cpu = library_identity(), cpu_info()
    key = probe_key(gguf, library, cpu)
    folder = Path(cache_dir) if cache_dir is not None else gguf.parent / "engine-probe"
    cache_file = folder / f"{key}.json"
    try:
        saved = json.loads(cache_file.read_text(encoding="utf-8"))
        if saved.get("key") == key and isinstance(saved.get("ok"), bool):
            fields = {k: saved[k] for k in Verdict.__dataclass_fields__ if k in saved}
            return Verdict(**{**fields, "cached": True, "cache_file": str(cache_file)})
    except (OSError, ValueError, TypeError):
        pass
    t0 = time.perf_counter()
    ok, reason, returncode, last, cacheable = run_probe(gguf, threads, timeout_s)
    verdict = Verdict(
        ok=ok,
        reason=reason,
        key=key,
        gguf=gguf.name,
        seconds=round(time.perf_counter() - t0, 2),
        returncode=returncode,
        last_output=last,
        cpu=cpu,
        library=library,
        cache_file=str(cache_file),
    )
    if cacheable:
        try:
            atomic_write_json(cache_file, {**verdict.to_json(), "probed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        except OSError:  # a read-only GGUF folder: probe again next time, still correct
            verdict.cache_file = None
    else:
        verdict.cache_file = None
    return verdict


__all__ = [
    "PROBE_SCRIPT",
    "PROBE_VERSION",
    "Verdict",
    "cpu_info",
    "file_identity",
    "library_identity",
    "probe_command",
    "probe_key",
    "probe_llamacpp",
    "run_probe",
]
