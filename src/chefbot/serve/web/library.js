// The recipe library: search, view and scale a recipe, delete it, cook it ("Cook this": cook mode for this
// recipe at these servings), and tick recipes (each with its servings) into one shopping list grouped by
// aisle, pantry staples apart.
"use strict";

let current = null; // the recipe shown in #recipe-view

function recipeList(data) {
  return (data && data.data) || [];
}

async function search(ev) {
  if (ev) ev.preventDefault();
  const q = $("q").value.trim();
  say("lib-status", "Searching...");
  try {
    const recipes = recipeList(await api("GET", "/api/recipes" + (q ? "?q=" + encodeURIComponent(q) : "")));
    $("recipes").replaceChildren(...recipes.map(recipeRow));
    say("lib-status", recipes.length ? `${recipes.length} recipe${recipes.length > 1 ? "s" : ""}` + (q ? ` matching "${q}"` : "")
                                     : (q ? `No recipe matches "${q}".` : "The library is empty: save a recipe from the Write page, or paste one below."));
  } catch (e) {
    say("lib-status", e.message, true);
  }
  updateListButton();
}

function recipeRow(r) {
  const id = `pick-${r.id}`;
  return h("li", { "data-id": r.id, class: "recipe-row" },
    h("input", { type: "checkbox", id, class: "pick", "aria-label": `Tick ${r.title} for the shopping list`, onchange: updateListButton }),
    h("a", { href: `#recipe-${r.id}`, class: "open", onclick: (ev) => { ev.preventDefault(); show(r.id); } }, r.title),
    h("label", { class: "servings-pick" }, "servings ",
      h("input", { type: "number", class: "pick-servings", min: 1, max: 100, value: r.servings || 4,
                   "aria-label": `Servings of ${r.title} for the shopping list` })));
}

function ticked() {
  return [...document.querySelectorAll("#recipes li")].filter((li) => li.querySelector(".pick").checked)
    .map((li) => ({ recipe_id: Number(li.dataset.id), servings: parseInt(li.querySelector(".pick-servings").value, 10) || 1,
                    title: li.querySelector(".open").textContent }));
}

function updateListButton() {
  $("make-list").disabled = ticked().length === 0;
}

async function show(id, servings) {
  say("lib-status", "");
  try {
    const r = await api("GET", `/api/recipes/${id}` + (servings ? `?servings=${servings}` : ""));
    current = r;
    $("v-title").textContent = r.title;
    const meta = [];
    if (r.base_servings && r.base_servings !== r.servings) meta.push(`scaled from ${r.base_servings} servings`);
    const src = r.source || {};
    if (src.kind) meta.push(src.kind === "generated" ? "written by ChefBot" : src.kind);
    if (src.model) meta.push(`model ${nameOf(src.model)}`);
    if (src.adapter) meta.push(`adapter ${nameOf(src.adapter)}`);
    $("v-meta").textContent = meta.join(" · ");
    $("v-servings").value = r.servings || servings || 4;
    $("v-ingredients").replaceChildren(...(r.ingredients || []).map((line) => h("li", {}, line)));
    $("v-directions").replaceChildren(...(r.directions || []).map((s) => h("li", {}, s)));
    $("recipe-view").hidden = false;
    history.replaceState(null, "", `?recipe=${r.id}` + (servings ? `&servings=${servings}` : ""));
    $("recipe-view").scrollIntoView({ block: "start" });
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

function nameOf(x) {
  return typeof x === "string" ? x : (x && (x.path || x.name || x.model)) || JSON.stringify(x);
}

async function scale(ev) {
  ev.preventDefault();
  const n = parseInt($("v-servings").value, 10);
  if (current && n > 0) await show(current.id, n);
}

// One recipe as a plan of one cook (POST /api/recipes/{id}/cook: the planner, starting now), opened in cook mode.
async function cookThis() {
  if (!current) return;
  const servings = parseInt($("v-servings").value, 10) || current.servings;
  say("lib-status", "Planning the steps...");
  try {
    const plan = await api("POST", `/api/recipes/${current.id}/cook`, { servings });
    location.href = `/cook?plan=${plan.id}&cook=${encodeURIComponent(Object.keys(plan.cooks)[0])}`;
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

async function remove() {
  if (!current || !confirm(`Delete "${current.title}" from the library?`)) return;
  try {
    await api("DELETE", `/api/recipes/${current.id}`);
    const title = current.title;
    current = null;
    $("recipe-view").hidden = true;
    history.replaceState(null, "", location.pathname);
    await search();
    say("lib-status", `Deleted "${title}".`);
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

async function addPasted() {
  const text = $("paste").value.trim();
  if (!text) return;
  try {
    const r = await api("POST", "/api/recipes", { text });
    $("paste").value = "";
    $("add-box").open = false;
    await search();
    await show(r.id);
    say("lib-status", `Saved "${r.title}".`);
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

let listTitles = {}; // recipe id -> title, for the shopping list's "(from ...)" notes

function itemRow(it) {
  const from = (it.recipes || []).map((id) => listTitles[id] || `recipe ${id}`);
  const lines = (it.lines || []).join("; ");
  return h("li", { "data-name": it.name },
    h("label", {}, h("input", { type: "checkbox", class: "got", "aria-label": `Got ${it.text}` }), " ", h("span", { class: "item" }, it.text)),
    from.length > 1 ? h("span", { class: "muted", title: lines }, "  (" + from.join(" + ") + ")") : null);
}

async function shoppingList() {
  const items = ticked();
  if (!items.length) return;
  say("lib-status", "Making the shopping list...");
  try {
    const list = await api("POST", "/api/shopping-list", { items: items.map(({ recipe_id, servings }) => ({ recipe_id, servings })) });
    listTitles = Object.fromEntries((list.recipes || []).map((r) => [r.id, r.title]));
    $("s-for").textContent = "For " + (list.recipes || []).map((r) => `${r.title} (${r.servings} servings)`).join(", ");
    $("s-aisles").replaceChildren(...(list.aisles || []).filter((g) => g.items.length).map((g) =>
      h("div", { class: "aisle", "data-aisle": g.aisle }, h("h3", {}, g.aisle), h("ul", {}, g.items.map(itemRow)))));
    const pantry = list.pantry || [];
    $("s-pantry").replaceChildren(...pantry.map(itemRow));
    $("s-pantry-box").hidden = pantry.length === 0;
    $("shopping").hidden = false;
    say("lib-status", "");
    $("shopping").scrollIntoView({ block: "start" });
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

async function init() {
  $("search-form").addEventListener("submit", search);
  $("scale-form").addEventListener("submit", scale);
  $("delete").addEventListener("click", remove);
  $("cook-this").addEventListener("click", cookThis);
  $("add").addEventListener("click", addPasted);
  $("make-list").addEventListener("click", shoppingList);
  await search();
  const id = param("recipe");
  if (id) await show(id, parseInt(param("servings"), 10) || undefined);
  document.body.dataset.ready = "1";
}

init();
