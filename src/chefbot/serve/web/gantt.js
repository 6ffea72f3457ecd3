// A Gantt chart of a plan (the dict of chefbot.plan.api.plan_to_dict) in plain HTML: one row per
// dish and per oven, bars coloured by cook (pale = hands-off), preheats on the oven rows with a mark in the
// colour of the cook who turns the oven on.
// Positions are percentages, so the chart fits a phone's width. Used by plan.js and cook.js.
"use strict";

const COOK_COLOURS = ["#2f6fb0", "#d9822b", "#3a9a5b", "#9b59b6", "#c0392b", "#7f8c8d"];

function cookColours(plan) {
  const names = (plan.cooks || []).map((c) => c.name);
  for (const t of plan.tasks || []) if (!names.includes(t.cook)) names.push(t.cook);
  return Object.fromEntries(names.map((n, i) => [n, COOK_COLOURS[i % COOK_COLOURS.length]]));
}

// minute on the plan's axis -> "HH:MM" (the axis ends at serve_at)
function clockAt(plan, minute) {
  const serve = plan.serve_at.slice(-5).split(":").map(Number);
  let m = serve[0] * 60 + serve[1] - (plan.horizon_min - minute);
  m = ((m % 1440) + 1440) % 1440;
  return String(Math.floor(m / 60)).padStart(2, "0") + ":" + String(m % 60).padStart(2, "0");
}

function renderGantt(box, plan, legendBox, opts) {
  const o = opts || {};
  const tasks = plan.tasks || [];
  const segs = plan.oven_segments || [];
  const starts = tasks.map((t) => t.start_min).concat(segs.map((s) => s.start));
  const first = starts.length ? Math.min(...starts) : plan.horizon_min - plan.makespan_min;
  const end = Math.max(plan.horizon_min, ...tasks.map((t) => t.end_min));
  const span = Math.max(end - first, 1);
  const pct = (m) => (100 * (m - first) / span).toFixed(3) + "%";
  const width = (a, b) => (100 * Math.max(b - a, 0.5) / span).toFixed(3) + "%";
  const colour = cookColours(plan);
  const done = new Set(o.done || []);
  const rows = [];
  for (const d of plan.dishes || []) {
    const bars = tasks.filter((t) => t.dish === d.key).map((t) => h("div", {
      class: "bar" + (t.attended ? "" : " off") + (t.status === "done" || done.has(t.id) ? " done" : ""),
      style: `left:${pct(t.start_min)};width:${width(t.start_min, t.end_min)};background:${colour[t.cook]}`,
      title: `${t.start}-${t.end} ${t.cook}: ${t.text}`, "data-task": t.id,
    }, t.end_min - t.start_min >= span / 12 ? t.verb : ""));
    rows.push(h("div", { class: "g-row" }, h("div", { class: "g-label" }, d.title), h("div", { class: "g-track" }, bars)));
  }
  const ovens = [...new Set(segs.map((s) => s.oven))].sort();
  for (const ov of ovens) {
    const bars = [];
    // who turns this oven on: the preheat tasks (plan.tasks, kind "preheat"), a cook-coloured mark
    for (const t of tasks.filter((x) => x.kind === "preheat" && x.preheat_oven === ov)) {
      bars.push(h("div", { class: "bar preheat-task" + (t.status === "done" || done.has(t.id) ? " done" : ""),
                           style: `left:${pct(t.start_min)};width:${width(t.start_min, t.end_min)};background:${colour[t.cook]}`,
                           title: `${t.start} ${t.cook}: ${t.text}`, "data-task": t.id }));
    }
    for (const s of segs.filter((x) => x.oven === ov)) {
      if (s.preheat_end > s.start) bars.push(h("div", { class: "bar preheat", style: `left:${pct(s.start)};width:${width(s.start, s.preheat_end)}`,
                                                  title: `preheat to ${s.temp_c} °C from ${s.start_clock}` }));
      bars.push(h("div", { class: "bar hot", style: `left:${pct(s.preheat_end)};width:${width(s.preheat_end, s.end)}`,
                           title: `${s.temp_c} °C until ${s.end_clock}` }, `${s.temp_c}°C`));
    }
    rows.push(h("div", { class: "g-row" }, h("div", { class: "g-label" }, `Oven ${ov + 1}`), h("div", { class: "g-track" }, bars)));
  }
  const step = [5, 10, 15, 30, 60, 120, 240].find((s) => span / s <= 6) || 480;
  const ticks = [];
  for (let m = first - (first % step) + step; m < end; m += step) ticks.push(m);
  if (!ticks.includes(plan.horizon_min)) ticks.push(plan.horizon_min);
  if (end > plan.horizon_min) ticks.push(end);
  const axis = h("div", { class: "g-row g-axis" }, h("div", { class: "g-label" }, ""),
    h("div", { class: "g-track" }, ticks.map((m) => h("span", { class: "tick" + (m === plan.horizon_min ? " serve" : ""), style: `left:${pct(m)}` },
      m === plan.horizon_min ? "serve " + clockAt(plan, m) : clockAt(plan, m))),
      h("div", { class: "serve-line", style: `left:${pct(plan.horizon_min)}` })));
  const children = [...rows, axis];
  if (o.now !== undefined && o.now !== null && o.now >= first && o.now <= end) {
    children.push(h("div", { class: "g-now", style: `left:calc(var(--g-label) + (100% - var(--g-label)) * ${(o.now - first) / span})`, title: "now" }));
  }
  box.replaceChildren(...children);
  if (legendBox) {
    legendBox.replaceChildren(...Object.entries(colour).map(([name, c]) => h("span", { class: "key" }, h("i", { style: `background:${c}` }), name)),
      h("span", { class: "key" }, h("i", { class: "off" }), "hands-off"), h("span", { class: "key" }, h("i", { class: "preheat" }), "preheat"));
  }
}

// The planner's dict with the live schedule of a saved plan (GET /api/plans/{id}) laid over it:
// tasks at their re-planned times (start_min/end_min on the planner's axis), with their status,
// per-cook lists in the new order, and oven blocks from the live preheat list.
function livePlan(saved) {
  const plan = saved.plan;
  if (!saved.tasks) return plan;
  const serve = new Date(plan.serve_at).getTime();
  const minute = (iso) => Math.round(plan.horizon_min - (serve - new Date(iso).getTime()) / 60000);
  const base = Object.fromEntries((plan.tasks || []).map((t) => [t.id, t]));
  const tasks = saved.tasks.map((t) => ({ ...(base[t.id] || {}), ...t, start_min: minute(t.start_iso), end_min: minute(t.end_iso) }))
    .sort((a, b) => a.start_min - b.start_min);
  const byCook = Object.fromEntries((plan.cooks || []).map((c) => [c.name, []]));
  for (const t of tasks) (byCook[t.cook] = byCook[t.cook] || []).push(t);
  const ends = Object.fromEntries(tasks.map((t) => [t.id, t.end_min]));
  const segs = saved.preheat ? saved.preheat.map((p) => {
    const start = minute(p.at_iso), ready = minute(p.ready_iso);
    return { oven: p.oven, temp_c: p.temp_c, start, preheat_end: ready, start_clock: p.at,
             end: Math.max(ready, ...p.tasks.map((id) => ends[id] || ready)), tasks: p.tasks };
  }) : plan.oven_segments;
  return { ...plan, tasks, by_cook: byCook, oven_segments: segs, delay_min: saved.delay_min || 0, live: true };
}
