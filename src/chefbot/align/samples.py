"""Answers sampled from the SFT model, saved as they come: OUTPUT_DIR/align/samples.jsonl.

One line per request (every answer of it, each with its reward parts), appended and flushed as soon as
the request's answers are in, so a run killed while sampling resumes with the requests not yet done:
on start the file is read back, a line cut short by the kill is dropped (the file is rewritten
atomically with the whole lines first), and those requests are skipped.  ``samples_settings.json``
beside it records what decides the answers (adapter, engine settings, requests); a resume with other
settings is refused, naming the key, rather than mixing answers of two models.

Sample k of every request is drawn with seed ``cfg.seed + k`` (engines seed each call; llama.cpp seeds
each sequence, so the same request twice in one batch would get the same answer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from chefbot.align.reward import reward_components
from chefbot.errors import ChefbotError
from chefbot.generate import Generator
from chefbot.io import atomic_write_json, atomic_write_text
from chefbot.progress import make_progress


def read_done(path: Path) -> list[dict]:
    """The complete lines of ``path`` (a last line cut short by a kill is dropped and the file rewritten)."""
    if not path.exists():
        return []
    rows, good, cut = [], [], False
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            cut = True
            continue
        if not line.endswith("\n"):
            cut = True
            continue
        rows.append(row)
        good.append(line)
    if cut:
        atomic_write_text(path, "".join(good))
    return rows


def check_settings(
    path: Path, settings: dict, what: str = "the samples beside it were drawn", redo: str = "sample again"
) -> None:
    """Write ``settings`` to ``path``, or refuse a resume whose settings differ from those recorded there,
    naming the keys that differ (``what`` and ``redo`` say whose settings they are and how to start over)."""
    if path.exists():
        old = json.loads(path.read_text(encoding="utf-8"))
        diff = [k for k in sorted(set(old) | set(settings)) if old.get(k) != settings.get(k)]
        if diff:
            raise ChefbotError(
                f"{path}: {what} with other settings ({', '.join(diff)}); "
                f"delete {path.parent} to {redo}, or use the settings recorded there"
            )
        return
    atomic_write_json(path, settings)


def sample_answers(
    make_generator: Callable[[], Generator], requests: list[dict], out: Path, *, k: int, seed: int, batch: int = 8
) -> tuple[list[dict], dict | None]:
    """Sample ``k`` answers per request, score each, and append one line per request to ``out``; requests
    already in ``out`` are not sampled again (the generator is made only when some are left).  Returns every
    row in request order, and the generator's ``describe()`` (None when nothing was sampled)."""
    done = {row["id"]: row for row in read_done(out)}
    todo = [r for r in requests if r["id"] not in done]
    if not todo:
        return [done[r["id"]] for r in requests], None
    generator = make_generator()
    with make_progress() as bar:
        task = bar.add_task("align: sampling", total=len(requests), completed=len(requests) - len(todo), info="")
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            answers: list[list[dict]] = [[] for _ in chunk]
            for j in range(k):
                outs = generator.generate([r["messages"] for r in chunk], settings_override={"seed": seed + j})
                for i, c in enumerate(outs):
                    answers[i].append(
                        {
                            "text": c.text,
                            "finish_reason": c.finish_reason,
                            "completion_tokens": c.completion_tokens,
                            "seed": seed + j,
                        }
                    )
            with open(out, "a", encoding="utf-8") as f:
                for r, ans in zip(chunk, answers):
                    for a in ans:
                        a["score"] = reward_components(a["text"], r)
                    row = {**r, "answers": ans}
                    done[r["id"]] = row
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
            bar.update(task, advance=len(chunk))
    return [done[r["id"]] for r in requests], generator.describe()
