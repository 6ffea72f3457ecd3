// Cook mode: one cook's live view of a saved plan, sized for a phone (a meal's plan, or one recipe's from
// "Cook this": POST /api/recipes/{id}/cook). The current and the next step, each with the ingredient lines it
// uses at the plan's servings (the planner's "amounts"), a countdown for the current one, "Done" (POST
// /api/plans/{id}/progress, answered with the re-planned schedule) and oven preheat reminders. A step whose
// "after" steps are not all done is locked ("waits for: step N"; the server refuses it too, 409 step_waits).
// While a countdown runs the screen is kept on (navigator.wakeLock, asked again whenever the page is shown
// again: the browser drops the lock when it is hidden); when it is up the phone vibrates and beeps (Web Audio:
// no sound file), the sound unlocked by the cook's first tap (browsers start audio only after one).
//
// Once loaded it does not need the connection: the plan is kept in localStorage, "Start"/"Done"
// update the page at once and wait in a queue (also in localStorage, with the time of the tap)
// that is sent, in order, whenever the server can be reached again. The server takes a repeated
// "done" as harmless, so a post whose answer was lost can safely be sent again.
"use strict";

const planId = param("plan");
const cookName = param("cook");
const PLAN_STORE = `chefbot.cook.plan.${planId}`;
const QUEUE_STORE = `chefbot.cook.queue.${planId}`;
let saved = null; // the saved plan as last answered by the server
let queue = [];   // progress posts not yet accepted: {cook, task_id, status, at}
let flushing = false;
let lastError = "";

function store(key, value) {
  try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* storage full or private mode */ }
}

function restore(key) {
  try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
}

// The server reads a datetime without offset as its local time; the phone and the kitchen's
// server share a clock and a time zone.
function localIso(d) {
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function minutesText(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
  return (hh ? `${hh}:${String(mm).padStart(2, "0")}` : `${mm}`) + ":" + String(ss).padStart(2, "0");
}

// The live tasks with what is still queued applied on top (so the page moves on while offline).
function tasksNow() {
  const tasks = (saved.tasks || []).map((t) => ({ ...t }));
  const byId = Object.fromEntries(tasks.map((t) => [t.id, t]));
  for (const q of queue) {
    const t = byId[q.task_id];
    if (!t) continue;
    if (q.status === "done" && t.status !== "done") { t.status = "done"; t.done_at = t.done_at || q.at; }
    if (q.status === "started" && !t.started_at) { t.started_at = q.at; if (t.status === "todo") t.status = "started"; }
  }
  return tasks;
}

// In the plan's order (as the server picks each cook's current step): planned start, then id.
function planOrder(a, b) {
  const pa = a.planned_start_min ?? a.start_min, pb = b.planned_start_min ?? b.start_min;
  return pa - pb || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function myTasks() {
  return tasksNow().filter((t) => t.cook === cookName).sort(planOrder);
}

function current() {
  const mine = myTasks().filter((t) => t.status !== "done");
  return { now: mine[0] || null, next: mine[1] || null };
}

function stepWhen(t) {
  const moved = t.planned_start && t.planned_start !== t.start ? ` (planned ${t.planned_start})` : "";
  return `${t.start}–${t.end}${moved} · ${t.duration_min} min${t.attended === false ? ", hands-off" : ""}`
    + (t.equipment && t.equipment.length ? " · " + t.equipment.join(", ") : "") + (t.oven_temp_c ? ` ${t.oven_temp_c} °C` : "");
}

// The steps `t` waits for (the planner's "after") that are not done yet, as they stand with the queue applied.
function waitsFor(t) {
  const byId = Object.fromEntries(tasksNow().map((x) => [x.id, x]));
  return (t.after || []).map((id) => byId[id]).filter((a) => a && a.status !== "done");
}

function waitsText(t, waits) {
  return "waits for: " + waits.map((a) => `step ${a.step}` + (a.dish_title !== t.dish_title ? ` of ${a.dish_title}` : "")
    + (a.cook !== cookName ? ` (${a.cook})` : "")).join(", ");
}

// One card (now or next): the dish, the step, its amounts, what it waits for. True when it waits.
function renderCard(which, t) {
  $(`${which}-dish`).textContent = t.dish_title;
  $(`${which}-text`).textContent = t.text;
  $(`${which}-amounts`).replaceChildren(...(t.amounts || []).map((line) => h("li", {}, line)));
  $(`${which}-when`).textContent = stepWhen(t);
  $(`${which}-card`).dataset.task = t.id;
  const waits = waitsFor(t);
  $(`${which}-waits`).hidden = !waits.length;
  $(`${which}-waits`).textContent = waits.length ? waitsText(t, waits) : "";
  return waits.length > 0;
}

function render() {
  const { now, next } = current();
  const mine = myTasks();
  $("c-who").textContent = `${cookName} · ${saved.title}`;
  $("now-card").hidden = !now;
  $("finished").hidden = !!now;
  if (now) {
    const locked = renderCard("now", now);
    $("now-card").classList.toggle("locked", locked);
    $("start").hidden = !!now.started_at;
    $("start").disabled = locked;
    $("done").disabled = locked;
  }
  $("next-card").hidden = !next;
  if (next) renderCard("next", next);
  const doneCount = mine.filter((t) => t.status === "done").length;
  $("c-progress").textContent = `${doneCount} of ${mine.length} steps done · serve at ${saved.serve_at.slice(-5)}`;
  const late = saved.delay_min || 0;
  $("c-late").hidden = !late;
  $("c-late").textContent = late ? `Re-planned: the meal now runs ${late} min late; the times below have moved.` : "";
  $("schedule").replaceChildren(...mine.map((t) => h("li", { class: t.status === "done" ? "done" : t === now || (now && t.id === now.id) ? "current" : "", "data-task": t.id },
    h("b", {}, t.start), " ", `${t.dish_title}: ${t.text}`, t.status === "done" ? h("span", { class: "muted" }, " ✓") : "")));
  renderGantt($("gantt"), livePlan({ ...saved, tasks: tasksNow() }), $("gantt-legend"));
  renderPreheat();
  tick();
  renderNet();
}

function renderPreheat() {
  const nowMs = Date.now();
  const mineIds = new Set(myTasks().map((t) => t.id));
  const doneIds = new Set(tasksNow().filter((t) => t.status === "done").map((t) => t.id));
  const upcoming = (saved.preheat || []).filter((p) => !p.tasks.every((id) => doneIds.has(id)) && new Date(p.ready_iso).getTime() > nowMs - 60000)
    .sort((a, b) => (a.at_iso < b.at_iso ? -1 : 1)).slice(0, 2);
  $("preheat").hidden = upcoming.length === 0;
  $("preheat").replaceChildren(...upcoming.map((p) => {
    const due = new Date(p.at_iso).getTime() - nowMs;
    const forMe = p.tasks.some((id) => mineIds.has(id));
    const when = due <= 0 ? "now" : due < 3600e3 ? `in ${Math.ceil(due / 60000)} min` : `at ${p.at}`;
    return h("p", { class: "preheat-line" + (due <= 5 * 60000 ? " due" : "") },
      h("b", {}, `Preheat oven ${p.oven + 1} to ${p.temp_c} °C ${when}`), ` (switch on at ${p.at}, hot at ${p.ready_iso.slice(11, 16)})`,
      forMe ? " for your next bake" : "");
  }));
}

// The countdown of the current step: from when it was started (or from its planned start once
// that has passed) for its duration; before then, the time until it should start.
function tick() {
  const { now } = current();
  const box = $("countdown");
  if (!now) { box.hidden = true; return; }
  const start = new Date(now.started_at || now.start_iso).getTime();
  const nowMs = Date.now();
  box.hidden = false;
  if (waitsFor(now).length || (!now.started_at && nowMs < start)) {
    box.className = "countdown waiting";
    box.textContent = nowMs < start ? `starts in ${minutesText(start - nowMs)}` : "waiting";
    holdScreen(false);
    return;
  }
  const left = start + now.duration_min * 60000 - nowMs;
  box.className = "countdown" + (left <= 0 ? " over" : "");
  box.textContent = left > 0 ? `${minutesText(left)} left` : `time is up (${minutesText(-left)} over)`;
  holdScreen(true);
  if (left <= 0 && box.dataset.buzzed !== now.id) {
    box.dataset.buzzed = now.id;
    if (navigator.vibrate) navigator.vibrate([300, 150, 300]);
    beep();
  }
}

// -- the alert and the screen ------------------------------------------------------------------
let audio = null;

// The page's one AudioContext, resumed (a browser lets it play only after a tap on the page: every button calls this).
function audioContext() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return null;
  if (!audio) audio = new Context();
  if (audio.state === "suspended") audio.resume().catch(() => {});
  return audio;
}

// Three short 880 Hz beeps, each faded in and out (no click), built by Web Audio: no sound file to cache.
function beep() {
  const ctx = audioContext();
  if (!ctx) return;
  for (let i = 0; i < 3; i++) {
    const t0 = ctx.currentTime + 0.05 + i * 0.4;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.5, t0 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0);
    osc.stop(t0 + 0.32);
  }
  document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
}

let wakeLock = null;     // the screen wake lock while held
let wantScreen = false;  // a countdown runs: hold it (again after the page was hidden)
let asking = false;
let refused = false;     // the browser said no: not asked again until the page is shown again

async function holdScreen(want) {
  wantScreen = want;
  if (!("wakeLock" in navigator)) return;
  if (!want) {
    if (wakeLock) { const held = wakeLock; wakeLock = null; held.release().catch(() => {}); }
    return;
  }
  if (wakeLock || asking || refused || document.visibilityState !== "visible") return;
  asking = true;
  try {
    const lock = await navigator.wakeLock.request("screen");
    lock.addEventListener("release", () => { if (wakeLock === lock) wakeLock = null; document.body.dataset.wakeLock = "released"; });
    if (wantScreen) { wakeLock = lock; document.body.dataset.wakeLock = "held"; } else lock.release().catch(() => {});
  } catch (e) {
    refused = true;
    document.body.dataset.wakeLock = `refused: ${e.name || e}`; // battery saver, or a browser without it
  } finally {
    asking = false;
  }
}

// The browser releases the lock when the page is hidden; ask again when it is shown while a countdown runs.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  refused = false;
  if (wantScreen) holdScreen(true);
});

function renderNet() {
  const pending = queue.length;
  const online = navigator.onLine !== false;
  let text = online ? "Online" : "Offline: the plan is kept on this phone";
  if (pending) text += ` · ${pending} update${pending > 1 ? "s" : ""} waiting to be sent`;
  else if (online) text += " · all updates sent";
  if (lastError) text += ` · ${lastError}`;
  $("net").textContent = text;
  $("net").className = "net" + (pending ? " pending" : "") + (online ? "" : " offline");
  $("net").dataset.pending = String(pending);
}

function post(status) {
  const { now } = current();
  audioContext(); // a tap: the beep may play later
  if (!now || waitsFor(now).length) return; // locked: the buttons are disabled, the server would refuse it too
  queue.push({ cook: cookName, task_id: now.id, status, at: localIso(new Date()) });
  store(QUEUE_STORE, queue);
  render();
  flush();
}

// Send the queue in order. A network failure keeps it (retried when the browser is back online
// and every few seconds); a refusal by the server drops that one update and says why.
async function flush() {
  if (flushing || !queue.length) return;
  flushing = true;
  try {
    while (queue.length) {
      const item = queue[0];
      try {
        saved = await api("POST", `/api/plans/${encodeURIComponent(planId)}/progress`, item);
        lastError = "";
      } catch (e) {
        if (!(e instanceof ApiFailure) || e.status >= 500 || e.status === 429) { lastError = ""; break; } // unreachable: retry later
        lastError = `not accepted: ${e.message}`;
      }
      queue.shift();
      store(QUEUE_STORE, queue);
      store(PLAN_STORE, saved);
    }
  } finally {
    flushing = false;
    render();
  }
}

// Whether `plan` is at least as new as the copy shown: the server only ever adds progress rows, so a copy
// with fewer is older (the service worker's offline copy of an earlier GET, an answer overtaken by another).
function asNew(plan, than) {
  return !than || (plan.progress || []).length >= (than.progress || []).length;
}

async function refresh() {
  if (queue.length || flushing) return flush();
  try {
    const plan = await api("GET", `/api/plans/${encodeURIComponent(planId)}`);
    if (asNew(plan, saved)) saved = plan;
    store(PLAN_STORE, saved);
    render();
  } catch (e) {
    renderNet();
  }
}

async function pickPage() {
  $("pick").hidden = false;
  try {
    if (planId) {
      const p = await api("GET", `/api/plans/${encodeURIComponent(planId)}`);
      $("pick-h").textContent = `Cook mode · ${p.title}: who are you?`;
      $("pick-list").replaceChildren(...Object.keys(p.cooks || {}).map((name) =>
        h("li", {}, h("a", { class: "button", href: `/cook?plan=${encodeURIComponent(planId)}&cook=${encodeURIComponent(name)}` }, name))));
    } else {
      const plans = (await api("GET", "/api/plans")).data || [];
      $("pick-list").replaceChildren(...plans.flatMap((p) => (p.cooks || []).map((name) =>
        h("li", {}, h("a", { class: "button", href: `/cook?plan=${p.id}&cook=${encodeURIComponent(name)}` }, `${p.title} (${String(p.serve_at).slice(-5)}): ${name}`)))));
      if (!plans.length) $("pick-list").replaceChildren(h("li", { class: "muted" }, "No saved plan yet: make one on the Plan page."));
    }
  } catch (e) {
    say("c-status", e.message, true);
  }
  document.body.dataset.ready = "1";
}

async function init() {
  if (!planId || !cookName) return pickPage();
  queue = restore(QUEUE_STORE) || [];
  try {
    const plan = await api("GET", `/api/plans/${encodeURIComponent(planId)}`);
    const kept = restore(PLAN_STORE);
    saved = asNew(plan, kept) ? plan : kept;
    store(PLAN_STORE, saved);
  } catch (e) {
    saved = restore(PLAN_STORE);
    if (!saved || (e instanceof ApiFailure && e.status === 404)) {
      say("c-status", e.message, true);
      document.body.dataset.ready = "1";
      return;
    }
    lastError = "showing the copy kept on this phone";
  }
  if (!(saved.plan.cooks || []).some((c) => c.name === cookName)) {
    say("c-status", `${cookName} is not a cook of this plan.`, true);
    return pickPage();
  }
  $("cook-view").hidden = false;
  $("done").addEventListener("click", () => post("done"));
  $("start").addEventListener("click", () => post("started"));
  window.addEventListener("online", () => { renderNet(); flush(); });
  window.addEventListener("offline", renderNet);
  setInterval(tick, 1000);
  setInterval(() => (queue.length ? flush() : null), 5000);
  setInterval(() => { renderPreheat(); refresh(); }, 30000);
  render();
  await flush();
  document.body.dataset.ready = "1";
}

init();
