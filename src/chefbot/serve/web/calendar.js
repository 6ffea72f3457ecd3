// The meal calendar (docs/KITCHEN.md, "Meal calendar"): one ISO week by day and meal (GET /api/calendar),
// recipes added to a day's meal (POST /api/calendar), moved to another day or removed (PATCH / DELETE), a day's
// dinner opened in the multi-cook planner (/plan?day=...&meal=dinner fills the planner's form from
// GET /api/calendar/plan-form), and the week's saved shopping list (POST /api/calendar/shopping-list, opened
// on the library page's list view).
"use strict";

let shown = null; // the week as last read

function weekParam() {
  const w = param("week");
  return w && /^[0-9]{4}-W[0-9]{2}$/.test(w) ? w : null;
}

function entryItem(e, days) {
  const move = h("select", { class: "entry-move", "aria-label": `Move ${e.title} to another day` },
    days.map((d) => h("option", { value: d.date, selected: d.date === e.date }, d.weekday.slice(0, 3) + " " + d.date.slice(8))));
  move.addEventListener("change", () => change(e, { date: move.value }));
  return h("li", { class: "entry" + (e.in_library ? "" : " gone"), "data-id": e.id },
    e.in_library ? h("a", { href: `/library/${e.recipe_id}` }, e.title) : h("span", {}, e.title),
    h("span", { class: "muted" }, ` · ${e.servings} servings`),
    e.note ? h("span", { class: "error" }, ` (${e.note})`) : null,
    " ", move,
    h("button", { type: "button", class: "entry-remove", "aria-label": `Remove ${e.title}`, onclick: () => remove(e) }, "Remove"));
}

function dayItem(d, days) {
  const dinner = d.meals.find((m) => m.meal === "dinner");
  const plannable = dinner && dinner.entries.some((e) => e.in_library);
  return h("li", { class: "day", "data-date": d.date },
    h("h3", {}, `${d.weekday} ${d.date.slice(8)}.${d.date.slice(5, 7)}.`),
    d.meals.length ? d.meals.map((m) => h("div", { class: "meal", "data-meal": m.meal },
      h("h4", {}, m.meal.charAt(0).toUpperCase() + m.meal.slice(1)),
      h("ul", {}, m.entries.map((e) => entryItem(e, days))))) : h("p", { class: "muted" }, "Nothing planned."),
    plannable ? h("a", { class: "open-planner", href: `/plan?day=${encodeURIComponent(d.date)}&meal=dinner` }, "Plan this dinner") : null);
}

function showWeek(week) {
  shown = week;
  $("week-title").textContent = `Week ${week.week.slice(6)} · ${week.start} – ${week.end}`;
  $("week-prev").href = `?week=${week.previous}`;
  $("week-next").href = `?week=${week.next}`;
  $("week-days").replaceChildren(...week.days.map((d) => dayItem(d, week.days)));
  const day = $("add-day").value;
  $("add-day").replaceChildren(...week.days.map((d) => h("option", { value: d.date }, `${d.weekday} ${d.date}`)));
  if (week.days.some((d) => d.date === day)) $("add-day").value = day;
  say("cal-status", week.left_library ? `${week.left_library} recipe(s) of this week are no longer in the library.` : "");
}

async function load() {
  try {
    const w = weekParam();
    showWeek(await api("GET", "/api/calendar" + (w ? `?week=${encodeURIComponent(w)}` : "")));
  } catch (e) {
    say("cal-status", e.message, true);
  }
}

async function change(e, body) {
  try {
    await api("PATCH", `/api/calendar/${e.id}`, body);
    await load();
  } catch (err) {
    say("cal-status", err.message, true);
  }
}

async function remove(e) {
  try {
    await api("DELETE", `/api/calendar/${e.id}`);
    await load();
  } catch (err) {
    say("cal-status", err.message, true);
  }
}

async function loadRecipes() {
  try {
    const data = await api("GET", "/api/recipes?limit=500");
    const recipes = data.data || [];
    $("add-recipe").replaceChildren(...recipes.map((r) => h("option", { value: r.id }, `${r.title} (serves ${r.servings})`)));
    say("add-status", recipes.length ? "" : "The library is empty: save recipes first (Library page).");
  } catch (e) {
    say("add-status", e.message, true);
  }
}

async function addEntry(ev) {
  ev.preventDefault();
  const meal = $("add-meal").value || $("add-meal-own").value.trim();
  if (!meal) { say("add-status", "Give the meal a name.", true); return; }
  const body = { date: $("add-day").value, meal, recipe_id: Number($("add-recipe").value) };
  if ($("add-servings").value) body.servings = Number($("add-servings").value);
  try {
    const e = await api("POST", "/api/calendar", body);
    say("add-status", `${e.title} is on ${e.date}, ${e.meal}.`);
    await load();
  } catch (err) {
    say("add-status", err.message, true);
  }
}

async function makeList() {
  if (!shown) return;
  try {
    const made = await api("POST", `/api/calendar/shopping-list?week=${encodeURIComponent(shown.week)}`);
    const left = made.left_out.length ? ` (left out, no longer in the library: ${made.left_out.map((e) => e.title).join(", ")})` : "";
    $("list-status").replaceChildren(`Saved ${made.shopping_list.total} items${left}: `,
      h("a", { id: "week-list-link", href: `/library?list=${made.shopping_list.id}` }, made.shopping_list.title));
    $("list-status").classList.remove("error");
  } catch (e) {
    say("list-status", e.message, true);
  }
}

async function init() {
  $("add-form").addEventListener("submit", addEntry);
  $("add-meal").addEventListener("change", () => { $("add-meal-own-label").hidden = $("add-meal").value !== ""; });
  $("make-list").addEventListener("click", makeList);
  await Promise.all([loadRecipes(), load()]);
  document.body.dataset.ready = "1";
}

init();
