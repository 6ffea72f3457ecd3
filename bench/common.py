"""Small helpers every bench script shares: the machine, medians, JSON, doc sections.

Kept tiny on purpose; each bench script does its own measuring.

A run that rewrites a section of docs/BENCHMARKS.md also leaves a committed record:
``replace_section(..., results=...)`` copies the run's JSON to docs/results/<name>.json
(bench/out/ is git-ignored) and ends the section with a line naming that file, so every
figure in the section can be checked against a file in the repository.  ``--quick`` runs
never get there (they never rewrite the docs), and ``publish_results`` refuses them.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"
BENCHMARKS_MD = ROOT / "docs" / "BENCHMARKS.md"
RESULTS_DIR = ROOT / "docs" / "results"  # committed copies of the runs the docs quote

sys.path.insert(0, str(ROOT / "src"))  # run from a checkout without `pip install -e`
from chefbot.generate.engine_probe import cpu_info, library_identity  # noqa: E402
from chefbot.io import atomic_write_json, atomic_write_text  # noqa: E402


def machine() -> dict[str, Any]:
    """What the numbers were measured on (CPU model and SIMD flags, cores, RAM, GPU, library versions).

    ``cpu_info`` is ``chefbot.generate.engine_probe.cpu_info``: the CPU's model and the flags that decide the
    kernels (avx2, avx512*, amx*, vnni, bf16, fp16), the record ``/health`` reports too; ``llama_cpp`` is the
    installed llama-cpp-python (version, and the Makefile's build key: flags, compiler and CPU it was built for).
    """
    cpu = cpu_info()
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu["model"],
        "cpu_info": cpu,
        "cpu_cores": os.cpu_count(),
    }
    lib = library_identity()
    if lib is not None:
        stamp = Path(sys.prefix) / ".llamacpp"  # written by `make setup-llamacpp`: the build's key
        info["llama_cpp"] = {
            "llama_cpp_python": lib["llama_cpp_python"],
            "build": stamp.read_text().strip() if stamp.is_file() else None,
        }
    try:
        import psutil

        info["ram_gb"] = round(psutil.virtual_memory().total / 2**30, 1)
        info["cpu_cores_usable"] = len(psutil.Process().cpu_affinity() or []) or os.cpu_count()
    except Exception:  # psutil missing or affinity unsupported (macOS)
        pass
    try:
        import torch

        from chefbot.model import cpu_has_fast_bf16

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["native_bf16"] = cpu_has_fast_bf16()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["gpu_count"] = torch.cuda.device_count()
            info["cuda"] = torch.version.cuda
    except ImportError:
        pass
    for lib in ("transformers", "peft", "trl", "bitsandbytes", "datasets"):
        try:  # metadata only: importing trl alone takes seconds
            info[lib] = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            pass
    return info


def _cpu_model() -> str:
    return cpu_info()["model"]


def cpu_features(info: dict[str, Any] | None = None) -> str:
    """The CPU's kernel-deciding features in a few words, e.g. "AVX2, AVX-512, AVX512-VNNI, AMX" (for captions)."""
    flags = set((info or cpu_info()).get("flags") or [])
    names = [
        ("avx2", "AVX2"),
        ("avx512f", "AVX-512"),
        ("avx512_vnni", "AVX512-VNNI"),
        ("avx_vnni", "AVX-VNNI"),
        ("avx512_bf16", "AVX512-BF16"),
        ("avx512_fp16", "AVX512-FP16"),
        ("amx_tile", "AMX"),
    ]
    return ", ".join(label for flag, label in names if flag in flags) or "no AVX2"


def machine_line(info: dict[str, Any] | None = None) -> str:
    """One line for a doc table caption."""
    m = info or machine()
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU"
    ram = f", {m['ram_gb']} GB RAM" if "ram_gb" in m else ""
    cores = m.get("cpu_cores_usable", m.get("cpu_cores"))
    isa = f", {cpu_features(m['cpu_info'])}" if m.get("cpu_info") else ""
    return f"{m['cpu']} ({cores} cores{isa}{ram}{gpu}); torch {m.get('torch', '?')}, python {m['python']}"


def median(xs: Iterable[float]) -> float:
    xs = [float(x) for x in xs]
    return statistics.median(xs) if xs else float("nan")


def spread(xs: Iterable[float]) -> tuple[float, float]:
    """(min, max) of the repeats: shown beside medians as the observed range."""
    xs = [float(x) for x in xs]
    return (min(xs), max(xs)) if xs else (float("nan"), float("nan"))


def run_name(name: str, quick: bool) -> str:
    """The JSON name a run writes: ``NAME_quick`` for a ``--quick`` (CI-size) run.

    The convention of every bench script: a quick run writes bench/out/NAME_quick.json and
    never rewrites docs/BENCHMARKS.md, so it cannot replace the real numbers (the docs and
    the NAME.json they were built from).  Only a run at real settings updates the docs.
    """
    return f"{name}_quick" if quick else name


def write_json(name: str, payload: dict[str, Any], out_dir: Path | None = None) -> Path:
    """bench/out/<name>.json with the machine and a timestamp added."""
    out = (out_dir or OUT_DIR) / f"{name}.json"
    payload = {"machine": machine(), "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **payload}
    atomic_write_json(out, payload)
    return out


def read_json(name: str, out_dir: Path | None = None) -> dict[str, Any] | None:
    p = (out_dir or OUT_DIR) / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else None


def publish_results(name: str, results: Path | dict[str, Any], results_dir: Path | None = None) -> Path:
    """Copy a run's JSON (a file, or the payload itself) to ``docs/results/<name>.json``.

    The committed record of a run the docs quote (bench/out/ is git-ignored).  Written
    atomically; a ``--quick`` run (``"quick": true`` or a ``*_quick`` name) is refused, so a
    CI-size run can never replace the numbers behind the docs.
    """
    text = Path(results).read_text(encoding="utf-8") if isinstance(results, (str, Path)) else None
    payload = json.loads(text) if text is not None else results
    if name.endswith("_quick") or (isinstance(payload, dict) and payload.get("quick")):
        raise ValueError(f"{name}: a --quick run is never published to docs/results")
    dest = (results_dir or RESULTS_DIR) / f"{name}.json"
    if text is not None:
        atomic_write_text(dest, text if text.endswith("\n") else text + "\n")
    else:
        atomic_write_json(dest, payload)
    return dest


def results_line(dest: Path, doc: Path) -> str:
    """``Results: [`docs/results/x.json`](results/x.json)``: the file, as a link relative to the doc."""
    rel = os.path.relpath(dest, doc.parent).replace(os.sep, "/")
    shown = f"{doc.parent.name}/{rel}" if not rel.startswith("..") else rel
    return f"Results: [`{shown}`]({rel}) (the JSON this section was rendered from)."


def replace_section(
    name: str,
    body: str,
    path: Path | None = None,
    *,
    results: Path | dict[str, Any] | None = None,
    results_name: str | None = None,
) -> Path | None:
    """Rewrite the text between ``<!-- section:NAME -->`` and ``<!-- end:NAME -->``.

    Only that block changes; a missing marker pair is an error (never append silently,
    so two scripts cannot fight over a section they both think they own).

    With ``results`` (the run's JSON file or payload) the JSON is first copied to
    ``results/<results_name>.json`` beside the doc (docs/results/ for docs/BENCHMARKS.md;
    ``results_name`` defaults to the section name) and the section ends with a line naming
    it.  Returns the copy's path (None without ``results``).
    """
    path = path or BENCHMARKS_MD
    text = path.read_text(encoding="utf-8")
    start, end = f"<!-- section:{name} -->", f"<!-- end:{name} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    hits = pattern.findall(text)
    if len(hits) != 1:
        raise ValueError(f"{path}: expected exactly one {start} ... {end} block, found {len(hits)}")
    dest = None
    body = body.strip()
    if results is not None:  # the file first: the doc never names a file that is not there
        dest = publish_results(results_name or name, results, path.parent / "results")
        body += "\n\n" + results_line(dest, path)
    new = pattern.sub(lambda _m: f"{start}\n{body}\n{end}", text)
    atomic_write_text(path, new)
    return dest


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
