"""Show a plan: a timeline, a task list per cook, a Gantt chart (PNG/SVG) and an HTML page.

Everything here reads the JSON-ready dict from ``api.plan_to_dict`` so the CLI and the
server render the same thing.  The HTML page is self-contained (inline SVG and CSS).
"""

from __future__ import annotations

import html
import io
from pathlib import Path

from chefbot.io import atomic_write_json, atomic_write_text

COOK_COLOURS = ["#2f6fb0", "#d9822b", "#3a9a5b", "#9b59b6", "#c0392b", "#7f8c8d"]


def _what(t: dict) -> str:
    if t.get("kind") == "preheat":  # "Preheat the oven to 175 °C (ready at 18:10)": no dish, no equipment
        return t["text"]
    extra = []
    if t["oven_temp_c"]:
        extra.append(f"oven {t['oven'] + 1 if t['oven'] is not None else ''} {t['oven_temp_c']} °C".replace("  ", " "))
    if not t["attended"]:
        extra.append("hands-off")
    then = f"; then {t['waits']}" if t.get("waits") else ""
    return f"{t['dish_title']}: {t['text']}" + (f" ({', '.join(extra)})" if extra else "") + then


def timeline_text(result: dict) -> str:
    """Every task in clock order, counted back from serving; preheats included."""
    rows = []
    for t in result["tasks"]:  # preheats are tasks of their cook
        rows.append((t["start_min"], f"{t['start']}-{t['end']}  {t['cook']:<8} {_what(t)}"))
    rows.sort(key=lambda r: r[0])
    head = [
        f"{result['title']}: start {result['start']}, serve {result['serve_at'][-5:]} "
        f"({result['makespan_min']} min, {result['status'].lower()}"
        + (f", within {result['gap']:.1%} of the bound" if result["status"] != "OPTIMAL" else "")
        + ")",
    ]
    lines = head + [r[1] for r in rows] + [f"{result['serve_at'][-5:]}  serve. Ready:"]
    lines += [f"  {d['title']}: {d['ready']}, {_readiness(d)}" for d in result["dishes"]]
    lines += [f"note: {w}" for w in result.get("warnings", [])]
    return "\n".join(lines)


def _readiness(d: dict) -> str:
    if d["kind"] != "hot":
        return "cold, may wait"
    covered = ", kept covered" if d["hold_min"] else ""
    return f"hot, {d['hold_min']} min off the heat before serving{covered} (limit {d['hot_hold_max_min']})"


def cook_lists_text(result: dict) -> str:
    out = []
    for name, tasks in result["by_cook"].items():
        out.append(f"{name}:")
        for t in tasks:
            out.append(f"  {t['start']}  {_what(t)}")
        if not tasks:
            out.append("  (nothing to do)")
    return "\n".join(out)


def gantt_figure(result: dict):
    """Rows per dish (bars coloured by cook; hatched = hands-off), per oven, and per cook's hands."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    cooks = [c["name"] for c in result["cooks"]]
    colour = {c: COOK_COLOURS[i % len(COOK_COLOURS)] for i, c in enumerate(cooks)}
    ovens = sorted({s["oven"] for s in result["oven_segments"]})
    rows = [d["title"] for d in result["dishes"]] + [f"Oven {o + 1}" for o in ovens] + [f"{c}'s hands" for c in cooks]
    y = {name: len(rows) - 1 - i for i, name in enumerate(rows)}
    fig = Figure(figsize=(12, 0.55 * len(rows) + 1.6), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    for t in result["tasks"]:
        if t.get("kind") == "preheat":  # drawn on its oven's row below, and on its cook's hands
            row = y[f"Oven {t['preheat_oven'] + 1}"]
            ax.barh(row, t["duration_min"], left=t["start_min"], height=0.8, color=colour[t["cook"]], zorder=3)
            ax.barh(
                y[f"{t['cook']}'s hands"], t["duration_min"], left=t["start_min"], height=0.5, color=colour[t["cook"]]
            )
            continue
        row = y[t["dish_title"]]
        ax.barh(
            row,
            t["duration_min"],
            left=t["start_min"],
            height=0.6,
            color=colour[t["cook"]],
            alpha=1.0 if t["attended"] else 0.35,
            hatch=None if t["attended"] else "//",
            edgecolor="white",
            linewidth=0.6,
        )
        if t["duration_min"] >= 12:
            ax.text(
                t["start_min"] + 1,
                row,
                t["verb"],
                va="center",
                ha="left",
                fontsize=7,
                clip_on=True,
                color="white" if t["attended"] else "black",
            )
        for a, b in t["hands"]:
            ax.barh(
                y[f"{t['cook']}'s hands"],
                b - a,
                left=a,
                height=0.5,
                color=colour[t["cook"]],
                edgecolor="white",
                linewidth=0.4,
            )
    # when each dish is ready: hot ones must be close to serving, cold ones may wait
    for d in result["dishes"]:
        done = max(t["end_min"] for t in result["tasks"] if t["dish"] == d["key"])  # preheats have no dish
        hot = d["kind"] == "hot"
        ax.plot(
            [done],
            [y[d["title"]] + 0.42],
            marker="v",
            markersize=6,
            color="#c0392b" if hot else "#2f6fb0",
            clip_on=False,
        )
    for s in result["oven_segments"]:
        row = y[f"Oven {s['oven'] + 1}"]
        if s["start"] < s["preheat_end"]:
            ax.barh(row, s["preheat_end"] - s["start"], left=s["start"], height=0.6, color="#f5c6a5", edgecolor="white")
        ax.barh(row, s["end"] - s["preheat_end"], left=s["preheat_end"], height=0.6, color="#e0603a", edgecolor="white")
        ax.text(s["preheat_end"] + 1, row, f"{s['temp_c']}°C", va="center", fontsize=7, color="white", clip_on=True)
    start = result["horizon_min"] - result["makespan_min"]
    end = result["horizon_min"]
    span = max(end - start, 1)
    step = next(s for s in (5, 10, 15, 30, 60, 120, 240, 480, 1440) if span / s <= 14)
    first_tick = start - start % step
    ticks = list(range(first_tick, end + 1, step))
    if end not in ticks:
        ticks.append(end)
    labels = [_clock_label(result, m) for m in ticks]
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlim(start - 2, end + 2)
    ax.axvline(end, color="black", linewidth=1.2)
    ax.text(end, -0.65, " serve", fontsize=8, va="bottom")
    ax.set_yticks(range(len(rows)))
    label = {
        d["title"]: f"{d['title']} ({d['kind']}"
        + (f", ≤{d['hot_hold_max_min']} min off heat)" if d["kind"] == "hot" else ")")
        for d in result["dishes"]
    }
    ax.set_yticklabels([label.get(r, r) for r in reversed(rows)], fontsize=8)
    ax.set_ylim(-0.7, len(rows) - 0.1)
    ax.grid(axis="x", color="#dddddd", linewidth=0.5)
    ax.set_axisbelow(True)
    handles = [Patch(color=colour[c], label=c) for c in cooks]
    handles += [
        Patch(facecolor="#999999", alpha=0.35, hatch="//", label="hands-off"),
        Patch(color="#f5c6a5", label="preheat"),
        Patch(color="#e0603a", label="oven hot"),
    ]
    from matplotlib.lines import Line2D

    handles += [
        Line2D([], [], marker="v", linestyle="", color="#c0392b", label="hot dish ready"),
        Line2D([], [], marker="v", linestyle="", color="#2f6fb0", label="cold dish ready"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(
        f"{result['title']}: serve at {result['serve_at'][-5:]}, start {result['start']} "
        f"({result['makespan_min']} min, {result['status'].lower()})",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def _clock_label(result: dict, minute: int) -> str:
    import datetime as dt

    serve = dt.datetime.fromisoformat(result["serve_at"])
    return (serve - dt.timedelta(minutes=result["horizon_min"] - minute)).strftime("%H:%M")


def write_png(result: dict, path: str | Path) -> Path:
    fig = gantt_figure(result)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)  # atomic: a half-written chart never looks complete
    return path


def svg_text(result: dict) -> str:
    buf = io.StringIO()
    gantt_figure(result).savefig(buf, format="svg", metadata={"Date": None})  # no timestamp: same plan, same page
    svg = buf.getvalue()
    return svg[svg.find("<svg") :]  # drop the XML prolog and doctype so it can sit inside HTML


def html_page(result: dict) -> str:
    """A single HTML file: the chart as inline SVG, the timeline and the per-cook lists."""
    e = html.escape
    rows = "".join(
        f"<tr><td>{t['start']}</td><td>{t['end']}</td><td>{e(t['cook'])}</td><td>{e(t['dish_title'])}</td>"
        f"<td>{e(t['text'])}</td><td>{'' if t['attended'] else 'hands-off'}</td>"
        f"<td>{e(', '.join(t['equipment']))}{' ' + str(t['oven_temp_c']) + ' °C' if t['oven_temp_c'] else ''}</td></tr>"
        for t in result["tasks"]
    )
    cooks = "".join(
        f"<section><h3>{e(name)}</h3><ol>"
        + "".join(f"<li><b>{t['start']}</b> {e(_what(t))}</li>" for t in tasks)
        + "</ol></section>"
        for name, tasks in result["by_cook"].items()
    )
    warnings = "".join(f"<p class=warn>{e(w)}</p>" for w in result.get("warnings", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(result["title"])}: meal plan</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}} table{{border-collapse:collapse;font-size:.9rem}}
td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}} .cooks{{display:flex;gap:2rem;flex-wrap:wrap}}
.warn{{color:#a55}} svg{{max-width:100%;height:auto}}
</style></head><body>
<h1>{e(result["title"])}</h1>
<p>Start at <b>{result["start"]}</b>, serve at <b>{result["serve_at"][-5:]}</b>: {result["makespan_min"]} minutes
({result["status"].lower()}, solved in {result["solve_s"]} s).</p>
{warnings}
{svg_text(result)}
<h2>Who does what</h2><div class=cooks>{cooks}</div>
<h2>Timeline</h2>
<table><tr><th>start</th><th>end</th><th>cook</th><th>dish</th><th>task</th><th></th><th>equipment</th></tr>{rows}</table>
</body></html>
"""


def write_outputs(result: dict, out_dir: str | Path) -> dict[str, Path]:
    """plan.json, plan.png, plan.html and timeline.txt in ``out_dir``."""
    out = Path(out_dir)
    data = {k: v for k, v in result.items() if k != "html"}
    return {
        "json": atomic_write_json(out / "plan.json", data),
        "png": write_png(result, out / "plan.png"),
        "html": atomic_write_text(out / "plan.html", result.get("html") or html_page(result)),
        "timeline": atomic_write_text(
            out / "timeline.txt", timeline_text(result) + "\n\n" + cook_lists_text(result) + "\n"
        ),
    }
