// The one planner page. Meal plans by form: pick library recipes, the serving time, the cooks and the
// kitchen; the planner runs on the server (POST /api/plans, which saves the plan), and the page shows the
// Gantt chart, each cook's list and a link to each cook's cook mode. The "advanced" view is the same
// request as JSON: it follows the form, fills the form, or is sent as is (the server's 400/422 names the
// field that is wrong).
"use strict";

const DEFAULT_COOKS = [{ name: "Alex", skill: 4 }];
let cooksAdded = 0; // numbers the cook rows (and their ids) in the order they were added

function addCook(cook) {
  const c = cook || {};
  const row = $("cook-row").content.firstElementChild.cloneNode(true);
  const n = ++cooksAdded;
  row.querySelector("legend").textContent = `Cook ${n}`;
  row.dataset.n = n;
  for (const [cls, label] of [["cook-name", "name"], ["cook-skill", "skill"], ["cook-from", "available from"], ["cook-to", "available until"]]) {
    const input = row.querySelector("." + cls);
    input.id = `${cls}-${n}`;
    input.setAttribute("aria-label", `Cook ${n} ${label}`);
  }
  row.querySelector(".cook-name").value = c.name || "";
  row.querySelector(".cook-skill").value = String(c.skill || 3);
  row.querySelector(".cook-from").value = c.from || "";
  row.querySelector(".cook-to").value = c.to || "";
  row.querySelector(".remove-cook").setAttribute("aria-label", `Remove cook ${n}`);
  row.querySelector(".remove-cook").addEventListener("click", () => {
    if ($("cooks").children.length > 1) row.remove();
    showJson();
  });
  $("cooks").append(row);
  return row;
}

async function loadDishes() {
  try {
    const data = await api("GET", "/api/recipes");
    const recipes = data.data || [];
    $("dish-picks").replaceChildren(...recipes.map((r) => h("li", { "data-id": r.id },
      h("label", {}, h("input", { type: "checkbox", class: "dish-pick", value: r.id }), " ", h("span", { class: "dish-title" }, r.title)),
      h("label", { class: "servings-pick" }, "servings ",
        h("input", { type: "number", class: "dish-servings", min: 1, max: 100, value: r.servings || 4, "aria-label": `Servings of ${r.title}` })),
      h("label", { class: "kind-pick" }, "served ",
        h("select", { class: "dish-kind", "data-field": "recipes.kind", "aria-label": `${r.title} is served hot or cold` },
          h("option", { value: "auto" }, "as it ends"), h("option", { value: "hot" }, "hot"), h("option", { value: "cold" }, "cold"))),
      h("label", { class: "hold-pick" }, "may wait ",
        h("input", { type: "number", class: "dish-hold", "data-field": "recipes.hot_hold_max_min", min: 0, max: 1440, placeholder: "meal's",
                     "aria-label": `Minutes ${r.title} may wait off the heat` }), " min"))));
    say("dish-status", recipes.length ? "" : "The library is empty: save recipes first (Library page).");
    showJson();
  } catch (e) {
    say("dish-status", e.message, true);
  }
}

function spec() {
  const cooks = [...$("cooks").children].map((row) => {
    const c = { name: row.querySelector(".cook-name").value.trim(), skill: parseInt(row.querySelector(".cook-skill").value, 10) };
    const from = row.querySelector(".cook-from").value, to = row.querySelector(".cook-to").value;
    if (from) c.available_from = from;
    if (to) c.available_to = to;
    return c;
  });
  const num = (id) => parseInt($(id).value, 10);
  const req = {
    title: $("meal-title").value.trim() || "Dinner",
    date: $("serve-date").value,
    serve_at: $("serve-at").value,
    recipes: [...document.querySelectorAll(".dish-pick:checked")].map((x) => {
      const li = x.closest("li");
      const r = { recipe_id: Number(x.value) };
      const servings = parseInt(li.querySelector(".dish-servings").value, 10);
      if (servings > 0) r.servings = servings;
      const kind = li.querySelector(".dish-kind").value;
      if (kind !== "auto") r.kind = kind;
      const hold = parseInt(li.querySelector(".dish-hold").value, 10);
      if (hold >= 0) r.hot_hold_max_min = hold;
      return r;
    }),
    cooks,
    kitchen: Object.fromEntries(FORM_KITCHEN.map((k) => [k, num(k)])),
    hot_hold_max_min: $("hot-hold").value === "" ? undefined : num("hot-hold"), // empty: the defaults by how a dish ends
    time_limit_s: num("time-limit"),
  };
  if ($("start-after").value) req.start_after = $("start-after").value;
  return req;
}

// Today in the browser's own time zone, YYYY-MM-DD: the default day of a plan (the server refuses a past time).
function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function cookUrl(id, name) {
  return `/cook?plan=${encodeURIComponent(id)}&cook=${encodeURIComponent(name)}`;
}

// The saved plan (GET /api/plans/{id}): `plan` is the planner's dict, `tasks` the live schedule.
function showPlan(saved) {
  const id = saved.id, plan = livePlan(saved);
  $("p-title").textContent = plan.title;
  const day = plan.date ? ` on ${plan.date}` : "";
  $("p-summary").textContent = `Start at ${plan.start}, serve at ${plan.serve_at.slice(-5)}${day}: ${plan.makespan_min} minutes, `
    + `${(plan.tasks || []).length} steps for ${(plan.cooks || []).length} cook${(plan.cooks || []).length === 1 ? "" : "s"}. Saved as plan ${id}.`
    + (saved.delay_min ? ` Running ${saved.delay_min} min late.` : "");
  $("p-warnings").replaceChildren(...(plan.warnings || []).map((w) => h("li", {}, w)));
  renderGantt($("gantt"), plan, $("gantt-legend"));
  const colour = cookColours(plan);
  $("cook-lists").replaceChildren(...Object.entries(plan.by_cook || {}).map(([name, tasks]) => h("section", { class: "cook-list", "data-cook": name },
    h("h4", {}, h("i", { class: "swatch", style: `background:${colour[name]}` }), name, " ",
      h("a", { href: cookUrl(id, name), class: "cook-link" }, `Cook mode for ${name}`)),
    tasks.length ? h("ol", {}, tasks.map((t) => h("li", { class: t.status === "done" ? "done" : "" }, h("b", {}, `${t.start}–${t.end} `),
      t.kind === "preheat" ? t.text : `${t.dish_title}: ${t.text}`, t.attended === false ? h("span", { class: "muted" }, " (hands-off)") : "",
      t.waits ? h("span", { class: "waits" }, `; then ${t.waits}`) : "",
      t.status === "done" ? h("span", { class: "muted" }, " ✓ done") : "")))
      : h("p", { class: "muted" }, "Nothing to do."))));
  $("plan-out").hidden = false;
  history.replaceState(null, "", `?plan=${id}`);
}

// Plan and save `body`; what went wrong goes to the status line `statusId`.
async function sendPlan(body, statusId, button) {
  button.disabled = true;
  say(statusId, "Planning...");
  try {
    const saved = await api("POST", "/api/plans", body);
    say(statusId, "");
    showPlan(saved);
    loadSaved();
    $("plan-out").scrollIntoView({ block: "start" });
  } catch (e) {
    say(statusId, e.message, true);
  } finally {
    button.disabled = false;
  }
}

async function makePlan(ev) {
  ev.preventDefault();
  const body = spec();
  if (!body.recipes.length) { say("plan-status", "Tick at least one dish.", true); return; }
  await sendPlan(body, "plan-status", $("make-plan"));
}

// -- the advanced view: the request as JSON ----------------------------------------------------------
function showJson() {
  $("plan-json").value = JSON.stringify(spec(), null, 2);
}

function readJson() {
  let req;
  try {
    req = JSON.parse($("plan-json").value);
  } catch (e) {
    say("json-status", "Not valid JSON: " + e.message, true);
    return null;
  }
  if (req === null || typeof req !== "object" || Array.isArray(req)) {
    say("json-status", 'Give the plan request as a JSON object: {"serve_at": ..., "recipes": [...], ...}.', true);
    return null;
  }
  return req;
}

const FORM_KEYS = ["title", "date", "serve_at", "start_after", "recipes", "cooks", "kitchen", "hot_hold_max_min", "time_limit_s"];
// every field of the planner's kitchen (chefbot.plan.schema.Kitchen), each an input of that id
const FORM_KITCHEN = ["ovens", "oven_racks", "burners", "pans", "pots", "mixers", "bowls", "blenders", "microwaves",
  "slow_cookers", "grills", "fridge", "freezer"];

// Fill the form from a request; throws an Error naming the field when the form cannot take it (nothing is
// changed then). Returns the fields the form has no place for (they are sent only by "Plan this JSON").
function fillForm(req) {
  for (const key of ["recipes", "cooks"]) {
    if (req[key] !== undefined && !Array.isArray(req[key])) throw new Error(`${key}: give a list`);
  }
  if (req.kitchen !== undefined && (req.kitchen === null || typeof req.kitchen !== "object")) {
    throw new Error("kitchen: give an object");
  }
  const picks = new Map([...document.querySelectorAll("#dish-picks li")].map((li) => [Number(li.dataset.id), li]));
  (req.recipes || []).forEach((r, i) => {
    if (!r || !picks.has(r.recipe_id)) {
      throw new Error(`recipes.${i}.recipe_id: no recipe ${JSON.stringify(r && r.recipe_id)} in the library`);
    }
  });
  (req.cooks || []).forEach((c, i) => {
    if (!c || typeof c.name !== "string") throw new Error(`cooks.${i}.name: give the cook's name`);
  });
  const left = Object.keys(req).filter((k) => !FORM_KEYS.includes(k));
  if (typeof req.title === "string") $("meal-title").value = req.title;
  if (req.serve_at !== undefined) {
    const at = /^(?:([0-9]{4}-[0-9]{2}-[0-9]{2})[ T])?([0-9]{1,2}):([0-9]{2})$/.exec(String(req.serve_at));
    if (at) {
      $("serve-at").value = `${at[2].padStart(2, "0")}:${at[3]}`;
      if (at[1]) $("serve-date").value = at[1];
    } else left.push("serve_at");
  }
  if (typeof req.date === "string") $("serve-date").value = req.date;
  if (req.start_after !== undefined) $("start-after").value = req.start_after || "";
  $("hot-hold").value = req.hot_hold_max_min == null ? "" : req.hot_hold_max_min;
  if (req.time_limit_s !== undefined) $("time-limit").value = req.time_limit_s;
  if (req.recipes) {
    for (const li of picks.values()) li.querySelector(".dish-pick").checked = false;
    req.recipes.forEach((r) => {
      const li = picks.get(r.recipe_id);
      li.querySelector(".dish-pick").checked = true;
      if (r.servings !== undefined) li.querySelector(".dish-servings").value = r.servings;
      li.querySelector(".dish-kind").value = r.kind || "auto";
      li.querySelector(".dish-hold").value = r.hot_hold_max_min !== undefined ? r.hot_hold_max_min : "";
    });
  }
  if (req.cooks && req.cooks.length) {
    $("cooks").replaceChildren();
    cooksAdded = 0; // every row is new: number them from 1 again
    req.cooks.forEach((c) => addCook({ name: c.name, skill: c.skill, from: c.available_from, to: c.available_to }));
  }
  for (const [k, v] of Object.entries(req.kitchen || {})) {
    if (FORM_KITCHEN.includes(k)) $(k).value = v;
    else left.push(`kitchen.${k}`);
  }
  return left;
}

function jsonToForm() {
  const req = readJson();
  if (!req) return;
  try {
    const left = fillForm(req);
    const note = left.length ? `; it has no field for ${left.join(", ")}: "Plan this JSON" sends them` : "";
    say("json-status", `The form is filled${note}.`);
  } catch (e) {
    say("json-status", e.message, true);
  }
}

async function planJson() {
  const req = readJson();
  if (!req) return;
  await sendPlan(req, "json-status", $("plan-json-send"));
}

async function openPlan(id) {
  try {
    showPlan(await api("GET", `/api/plans/${encodeURIComponent(id)}`));
  } catch (e) {
    say("plan-status", e.message, true);
  }
}

// A day's meal from the meal calendar (/plan?day=YYYY-MM-DD&meal=dinner): the server builds the form
// (GET /api/calendar/plan-form: title, date, the day's recipes at their servings); the cooks and the time are
// this page's, and "Plan it" posts it like any other form.
async function openCalendarMeal(day, meal) {
  try {
    const got = await api("GET", `/api/calendar/plan-form?date=${encodeURIComponent(day)}&meal=${encodeURIComponent(meal)}`);
    fillForm(got.form);
    showJson();
    const left = got.left_out.length ? ` Left out (no longer in the library): ${got.left_out.map((e) => e.title).join(", ")}.` : "";
    say("plan-status", `${got.form.title} from the calendar: pick the time and the cooks, then plan it.${left}`);
  } catch (e) {
    say("plan-status", e.message, true);
  }
}

async function loadSaved() {
  try {
    const data = await api("GET", "/api/plans");
    const plans = data.data || [];
    $("saved-plans").replaceChildren(...plans.map((p) => h("li", {},
      h("a", { href: `?plan=${p.id}`, onclick: (ev) => { ev.preventDefault(); openPlan(p.id); } }, `${p.title || "Plan " + p.id}`),
      h("span", { class: "muted" }, ` serve ${String(p.serve_at).slice(-5)}, ${(p.cooks || []).join(" & ")}, ${p.done}/${p.total} steps done`
        + (p.delay_min ? `, ${p.delay_min} min late` : "")))));
    if (!plans.length) $("saved-plans").replaceChildren(h("li", { class: "muted" }, "No plan saved yet."));
  } catch (e) {
    $("saved-plans").replaceChildren(h("li", { class: "muted" }, "Open a saved plan by its link (/plan?plan=ID)."));
  }
}

async function init() {
  $("plan-form").addEventListener("submit", makePlan);
  $("add-cook").addEventListener("click", () => { addCook().querySelector(".cook-name").focus(); showJson(); });
  $("plan-form").addEventListener("input", showJson); // typing, ticking, picking: the JSON follows the form
  $("plan-form").addEventListener("change", showJson);
  $("json-to-form").addEventListener("click", jsonToForm);
  $("plan-json-send").addEventListener("click", planJson);
  $("serve-date").value = today();
  DEFAULT_COOKS.forEach(addCook);
  showJson();
  await loadDishes();
  await loadSaved();
  const id = param("plan");
  if (id) await openPlan(id);
  else if (param("day")) await openCalendarMeal(param("day"), param("meal") || "dinner");
  document.body.dataset.ready = "1";
}

init();
