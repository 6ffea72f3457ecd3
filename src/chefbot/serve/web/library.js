// The recipe library: search, view and scale a recipe, delete it, cook it ("Cook this": cook mode for this
// recipe at these servings), and tick recipes (each with its servings) into one shopping list grouped by
// aisle, pantry staples apart. The list is saved on the server (/api/shopping-lists): its address (?list=ID)
// reopens it, ticks are kept there and shared, so another phone on the same list sees them (the page re-reads
// the list every few seconds and when it is shown again).
"use strict";

let current = null; // the recipe shown in #recipe-view

function recipeList(data) {
  return (data && data.data) || [];
}

async function search(ev) {
  if (ev) ev.preventDefault();
  const q = $("q").value.trim();
  const params = new URLSearchParams();
  for (const [key, id] of [["q", "q"], ["tag", "f-tag"], ["category", "f-category"], ["sort", "f-sort"]]) {
    const v = $(id).value.trim();
    if (v) params.set(key, v);
  }
  say("lib-status", "Searching...");
  try {
    const found = await api("GET", "/api/recipes" + (params.toString() ? "?" + params : ""));
    const recipes = recipeList(found);
    $("recipes").replaceChildren(...recipes.map(recipeRow));
    // a word the library does not hold was also searched as its close spellings (kitchen/library.py spelling_variants)
    const also = Object.entries(found.spellings || {}).map(([w, alts]) => `"${w}" as ${alts.map((a) => `"${a}"`).join(" or ")}`);
    say("lib-status", (recipes.length ? `${recipes.length} recipe${recipes.length > 1 ? "s" : ""}` + (q ? ` matching "${q}"` : "")
                                      : (q ? `No recipe matches "${q}".` : "The library is empty: save a recipe from the Write page, or paste one below."))
                      + (also.length ? ` (also searched ${also.join(", ")})` : ""));
  } catch (e) {
    say("lib-status", e.message, true);
  }
  updateListButton();
}

function recipeRow(r) {
  const id = `pick-${r.id}`;
  return h("li", { "data-id": r.id, class: "recipe-row" },
    h("input", { type: "checkbox", id, class: "pick", "aria-label": `Tick ${r.title} for the shopping list`, onchange: updateListButton }),
    r.photo ? h("img", { src: r.photo.thumb_url, alt: "", class: "thumb", loading: "lazy" }) : null,
    h("a", { href: `#recipe-${r.id}`, class: "open", onclick: (ev) => { ev.preventDefault(); show(r.id); } }, r.title),
    r.rating_count ? h("span", { class: "muted rating", title: `${r.rating_count} rating${r.rating_count > 1 ? "s" : ""}` },
                       ` ★ ${r.rating_mean} (${r.rating_count})`) : null,
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
    if (r.category) meta.push(r.category);
    if (r.tags && r.tags.length) meta.push(r.tags.map((t) => "#" + t).join(" "));
    meta.push(`version ${r.version}`);
    $("v-meta").textContent = meta.join(" · ");
    $("v-servings").value = r.servings || servings || 4;
    $("v-ingredients").replaceChildren(...(r.ingredients || []).map((line) => h("li", {}, line)));
    $("v-directions").replaceChildren(...(r.directions || []).map((s) => h("li", {}, s)));
    showRatings($("v-ratings"), r.id);
    $("v-photo-box").hidden = !r.photo;
    if (r.photo) { $("v-photo").src = r.photo.url; $("v-photo").alt = `Photo of ${r.title}`; }
    else $("v-photo").removeAttribute("src");
    $("photo-remove").hidden = !r.photo;
    $("recipe-view").hidden = false;
    showNutrition(r.id); // not awaited: the recipe shows at once, the figures when the table has been read
    const list = param("list"); // an open shopping list stays in the address
    history.replaceState(null, "", `?recipe=${r.id}` + (servings ? `&servings=${servings}` : "") + (list ? `&list=${list}` : ""));
    $("recipe-view").scrollIntoView({ block: "start" });
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

// Per-serving figures from USDA SR28 only (GET /api/recipes/{id}/nutrition: serve/routes_nutrition.py); the lines
// it could not match are named, and without the table installed (503) the page says so and shows no number.
// The same rows as the recipe's own page (serve/routes_web.py NUTRITION_ROWS).
const NUTRITION = [["energy_kcal", "Energy", "kcal", 0], ["protein_g", "Protein", "g", 1], ["fat_g", "Fat", "g", 1],
                   ["carbohydrate_g", "Carbohydrate", "g", 1], ["fibre_g", "Fibre", "g", 1], ["salt_g", "Salt", "g", 1]];

async function showNutrition(id) {
  $("v-nut-rows").replaceChildren();
  say("v-nut-unmatched", "");
  say("v-nut-source", "Reading the food table...");
  try {
    const n = await api("GET", `/api/recipes/${id}/nutrition`);
    if (!current || current.id !== id) return; // another recipe was opened meanwhile
    $("v-nut-h").textContent = `Nutrition per serving (${n.servings} servings)`;
    // no line matched: no figures at all (a table of zeros would read as "this soup has 0 kcal")
    $("v-nut-rows").replaceChildren(...(n.matched.length ? NUTRITION : []).map(([key, name, unit, digits]) =>
      h("tr", {}, h("th", { scope: "row" }, name), h("td", { "data-figure": key }, `${n.per_serving[key].toFixed(digits)} ${unit}`))));
    const missing = Object.entries(n.missing || {}).map(([k, lines]) => `${NUTRITION.find((r) => r[0] === k)[1]}: no value for ${lines.join("; ")}`);
    const none = n.matched.length ? "" : "No figures: none of the lines matched the food table.";
    say("v-nut-unmatched", [none, n.unmatched.length ? "Not counted: " + n.unmatched.map((u) => u.line + (u.hint ? ` (${u.hint})` : "")).join("; ") + "." : "", ...missing].filter(Boolean).join(" "));
    say("v-nut-source", `From the ${n.table.name} (${n.table.release}, ${n.table.license}; package ${n.table.package}), counting only the lines it matched.`);
  } catch (e) {
    $("v-nut-h").textContent = "Nutrition";
    say("v-nut-source", e.status === 503 ? `No nutrition figures: the food table is not installed on the server. (${e.message})` : e.message, e.status !== 503);
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

// Edit every field (PUT /api/recipes/{id} with the version shown: another cook's edit since is a 409, and the
// form then shows the current recipe to redo the change on); previous versions can be restored.
function openEdit() {
  if (!current) return;
  $("e-title").value = current.title;
  $("e-servings").value = current.base_servings;
  $("e-ingredients").value = current.ingredients.join("\n");
  $("e-directions").value = current.directions.join("\n");
  $("e-tags").value = (current.tags || []).join(", ");
  $("e-category").value = current.category || "";
  $("edit-form").hidden = false;
  loadHistory();
}

function lines(id) {
  return $(id).value.split("\n").map((x) => x.trim()).filter(Boolean);
}

async function saveEdit(ev) {
  ev.preventDefault();
  if (!current) return;
  const body = {
    version: current.version,
    title: $("e-title").value.trim(),
    servings: parseInt($("e-servings").value, 10),
    ingredients: lines("e-ingredients"),
    directions: lines("e-directions"),
    tags: $("e-tags").value.split(",").map((x) => x.trim()).filter(Boolean),
    category: $("e-category").value.trim() || null,
  };
  try {
    const r = await api("PUT", `/api/recipes/${current.id}`, body);
    $("edit-form").hidden = true;
    await show(r.id);
    await search();
    say("lib-status", `Saved "${r.title}" (version ${r.version}).`);
  } catch (e) {
    if (e.status === 409) { await show(current.id); openEdit(); } // someone else's edit: show theirs to redo yours on
    say("lib-status", e.message, true);
  }
}

async function loadHistory() {
  try {
    const versions = (await api("GET", `/api/recipes/${current.id}/versions`)).data || [];
    $("e-history").replaceChildren(...versions.map((v) => h("li", {},
      `version ${v.version} (${v.saved_at}): ${v.title}, ${v.servings} servings `,
      h("button", { type: "button", class: "restore", onclick: () => restore(v.version) }, "Restore"))));
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

async function restore(version) {
  try {
    const r = await api("POST", `/api/recipes/${current.id}/versions/${version}/restore`);
    $("edit-form").hidden = true;
    await show(r.id);
    say("lib-status", `Restored version ${version} as version ${r.version}.`);
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
let shown = null; // the saved list on the page (its version tells whether another device changed it)
const PANTRY = "Pantry staples"; // the aisle a saved list keeps the staples in (kitchen/shopping.py PANTRY)
const REFRESH_MS = 5000;

function itemRow(it) {
  const from = (it.recipes || []).map((id) => listTitles[id] || `recipe ${id}`);
  const lines = (it.lines || []).join("; ");
  const box = h("input", { type: "checkbox", class: "got", checked: it.checked, "aria-label": `Got ${it.text}` });
  box.addEventListener("change", () => tick(it, box));
  return h("li", { "data-id": it.id, "data-name": it.name || it.text },
    h("label", { title: lines }, box, " ", h("span", { class: "item" }, it.text)),
    from.length > 1 ? h("span", { class: "muted", title: lines }, "  (" + from.join(" + ") + ")") : null,
    it.own ? h("span", { class: "muted" }, " (yours) ") : null,
    it.own ? h("button", { type: "button", class: "link remove", "aria-label": `Remove ${it.text}`,
                           onclick: () => removeItem(it) }, "remove") : null);
}

function showList(list) {
  shown = list;
  listTitles = Object.fromEntries((list.recipes || []).filter((r) => r.id).map((r) => [r.id, r.title]));
  $("s-h").textContent = list.title;
  const made = (list.recipes || []).map((r) => `${r.title} (${r.servings} servings)`).join(", ");
  $("s-for").textContent = (made ? "For " + made + " · " : "") + `${list.checked} of ${list.total} ticked · saved`;
  const aisles = (list.aisles || []).filter((g) => g.aisle !== PANTRY && g.items.length);
  $("s-aisles").replaceChildren(...aisles.map((g) =>
    h("div", { class: "aisle", "data-aisle": g.aisle }, h("h3", {}, g.aisle), h("ul", {}, g.items.map(itemRow)))));
  const pantry = ((list.aisles || []).find((g) => g.aisle === PANTRY) || { items: [] }).items;
  $("s-pantry").replaceChildren(...pantry.map(itemRow));
  $("s-pantry-box").hidden = pantry.length === 0;
  $("shopping").hidden = false;
  $("shopping").dataset.version = list.version;
  const url = new URL(location.href);
  if (url.searchParams.get("list") !== String(list.id)) {
    url.searchParams.set("list", list.id);
    history.replaceState(null, "", url);
  }
}

async function shoppingList() {
  const items = ticked();
  if (!items.length) return;
  say("lib-status", "Making the shopping list...");
  try {
    const list = await api("POST", "/api/shopping-lists", { recipes: items.map(({ recipe_id, servings }) => ({ recipe_id, servings })) });
    showList(list);
    say("lib-status", "");
    say("s-status", "");
    await savedLists();
    $("shopping").scrollIntoView({ block: "start" });
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

async function openList(id) {
  try {
    showList(await api("GET", `/api/shopping-lists/${id}`));
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

// Another device's ticks: re-read the list when its version moved (quietly: a failed read is tried again later).
async function refresh() {
  if (!shown || document.visibilityState === "hidden") return;
  try {
    const list = await api("GET", `/api/shopping-lists/${shown.id}`);
    if (list.version !== shown.version) showList(list);
  } catch (e) { /* offline for a moment: the next refresh tries again */ }
}

async function tick(it, box) {
  try {
    showList(await api("PUT", `/api/shopping-lists/${shown.id}/items/${it.id}`, { checked: box.checked }));
    say("s-status", "");
  } catch (e) {
    box.checked = !box.checked; // not saved: show it as it is on the server
    say("s-status", e.message, true);
  }
}

async function addOwn(ev) {
  ev.preventDefault();
  const text = $("s-own").value.trim();
  if (!text || !shown) return;
  try {
    showList(await api("POST", `/api/shopping-lists/${shown.id}/items`, { text }));
    $("s-own").value = "";
    say("s-status", `Added "${text}".`);
  } catch (e) {
    say("s-status", e.message, true);
  }
}

async function removeItem(it) {
  try {
    showList(await api("DELETE", `/api/shopping-lists/${shown.id}/items/${it.id}`));
  } catch (e) {
    say("s-status", e.message, true);
  }
}

async function clearTicked() {
  if (!shown) return;
  try {
    showList(await api("POST", `/api/shopping-lists/${shown.id}/clear-checked`, { version: shown.version }));
    say("s-status", "Removed the ticked items.");
  } catch (e) {
    if (e.status === 409) { // someone ticked or unticked meanwhile: show the list as it is, remove nothing unseen
      await openList(shown.id);
      say("s-status", "The list changed on another device meanwhile; here it is as it now stands. Press again to remove what is ticked now.", true);
    } else {
      say("s-status", e.message, true);
    }
  }
}

async function deleteList() {
  if (!shown || !confirm(`Delete the list "${shown.title}"?`)) return;
  try {
    await api("DELETE", `/api/shopping-lists/${shown.id}`);
    shown = null;
    $("shopping").hidden = true;
    const url = new URL(location.href);
    url.searchParams.delete("list");
    history.replaceState(null, "", url);
    await savedLists();
  } catch (e) {
    say("s-status", e.message, true);
  }
}

async function savedLists() {
  try {
    const lists = (await api("GET", "/api/shopping-lists")).data || [];
    $("saved-lists").replaceChildren(h("option", { value: "" }, "(open a saved list)"),
      ...lists.map((l) => h("option", { value: l.id }, `${l.title} (${l.checked}/${l.total} ticked)`)));
  } catch (e) { /* the library's own status says what failed */ }
}

// A photo (POST /api/recipes/{id}/photos, multipart with X-Requested-With: the one upload that is not JSON;
// the server re-encodes it, docs/KITCHEN.md "Photos"); the recipe's picture is its first photo.
async function uploadPhoto(ev) {
  ev.preventDefault();
  const file = $("photo-file").files[0];
  if (!current || !file) return;
  const form = new FormData();
  form.append("file", file);
  const headers = apiHeaders();
  delete headers["Content-Type"]; // the browser writes the multipart boundary
  headers["X-Requested-With"] = "chefbot";
  say("lib-status", "Uploading the photo...");
  try {
    const response = await fetch(`/api/recipes/${current.id}/photos`, { method: "POST", headers, body: form });
    if (!response.ok) throw new ApiFailure(response.status, await failureMessage(response));
    $("photo-file").value = "";
    await show(current.id, current.servings !== current.base_servings ? current.servings : undefined);
    await search();
    say("lib-status", "Photo saved.");
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

async function removePhoto() {
  if (!current || !current.photo) return;
  try {
    await api("DELETE", `/api/recipes/${current.id}/photos/${current.photo.id}`);
    await show(current.id);
    await search();
  } catch (e) {
    say("lib-status", e.message, true);
  }
}

async function init() {
  $("search-form").addEventListener("submit", search);
  $("scale-form").addEventListener("submit", scale);
  $("delete").addEventListener("click", remove);
  $("edit").addEventListener("click", openEdit);
  $("edit-form").addEventListener("submit", saveEdit);
  $("e-cancel").addEventListener("click", () => { $("edit-form").hidden = true; });
  $("cook-this").addEventListener("click", cookThis);
  $("photo-form").addEventListener("submit", uploadPhoto);
  $("photo-remove").addEventListener("click", removePhoto);
  $("add").addEventListener("click", addPasted);
  $("make-list").addEventListener("click", shoppingList);
  $("saved-lists").addEventListener("change", (ev) => { if (ev.target.value) openList(ev.target.value); });
  $("s-add-form").addEventListener("submit", addOwn);
  $("s-clear").addEventListener("click", clearTicked);
  $("s-delete").addEventListener("click", deleteList);
  document.addEventListener("visibilitychange", refresh);
  setInterval(refresh, REFRESH_MS);
  await search();
  await savedLists();
  const id = param("recipe");
  const list = param("list");
  if (id) await show(id, parseInt(param("servings"), 10) || undefined);
  if (list) await openList(list);
  document.body.dataset.ready = "1";
}

init();
