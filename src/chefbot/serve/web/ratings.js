// Stars and notes on a recipe (docs/KITCHEN.md "Ratings and notes"): your own 1-5 stars (PUT/DELETE
// /api/recipes/{id}/rating) beside the household's mean and count, and everyone's notes with their author
// (GET/POST /api/recipes/{id}/notes); your own notes can be edited or deleted (PUT/DELETE /api/notes/{id}).
// Ratings and notes belong to a person: without a login the server says so (403 person_required) and the
// box shows its message.  Used by the library's recipe view (library.js calls showRatings) and by a recipe's
// own page /library/{id} (an element with data-ratings-recipe is filled when the page loads).
"use strict";

function starsText(mean, count) {
  if (!count) return "Not rated yet.";
  return `Household: ${mean} of 5 from ${count} rating${count === 1 ? "" : "s"}.`;
}

async function showRatings(box, recipeId) {
  const status = h("p", { class: "muted", role: "status" });
  const summary = h("p", { class: "rating-summary" });
  const stars = h("div", { class: "stars", role: "group", "aria-label": "Your rating" });
  const notes = h("ul", { class: "notes", "aria-label": "Notes" });
  const text = h("textarea", { rows: 2, maxlength: 4000, "aria-label": "A note of your own", class: "note-text" });
  const form = h("form", { class: "note-form" }, text, h("div", { class: "buttons" }, h("button", { type: "submit" }, "Add note")));

  function render(r) {
    summary.textContent = starsText(r.rating_mean, r.rating_count);
    stars.replaceChildren(
      ...[1, 2, 3, 4, 5].map((n) => h("button", {
        type: "button", class: "star" + (r.my_rating && n <= r.my_rating ? " on" : ""),
        "aria-pressed": r.my_rating === n ? "true" : "false", "aria-label": `${n} star${n > 1 ? "s" : ""}`,
        onclick: () => rate(n),
      }, r.my_rating && n <= r.my_rating ? "★" : "☆")),
      // replaceChildren writes a null as the text "null": spread an empty list instead
      ...(r.my_rating ? [h("button", { type: "button", class: "unrate", onclick: unrate }, "Clear my rating")] : []));
  }

  async function rate(n) {
    try { render(await api("PUT", `/api/recipes/${recipeId}/rating`, { stars: n })); say(status, `You rated it ${n} of 5.`); }
    catch (e) { say(status, e.message, true); }
  }

  async function unrate() {
    try { render(await api("DELETE", `/api/recipes/${recipeId}/rating`)); say(status, "Your rating is cleared."); }
    catch (e) { say(status, e.message, true); }
  }

  function noteRow(n) {
    const li = h("li", { "data-id": n.id }, h("span", { class: "note-by muted" }, `${n.person}: `), h("span", { class: "note-body" }, n.text));
    if (n.mine) {
      li.append(" ",
        h("button", { type: "button", class: "note-edit", onclick: async () => {
          const changed = prompt("Edit your note", n.text);
          if (changed === null || !changed.trim()) return;
          try { await api("PUT", `/api/notes/${n.id}`, { text: changed }); await loadNotes(); }
          catch (e) { say(status, e.message, true); }
        } }, "Edit"),
        h("button", { type: "button", class: "note-delete", onclick: async () => {
          try { await api("DELETE", `/api/notes/${n.id}`); await loadNotes(); }
          catch (e) { say(status, e.message, true); }
        } }, "Delete"));
    }
    return li;
  }

  async function loadNotes() {
    const list = (await api("GET", `/api/recipes/${recipeId}/notes`)).data || [];
    notes.replaceChildren(...list.map(noteRow));
    if (!list.length) notes.replaceChildren(h("li", { class: "muted" }, "No notes yet."));
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!text.value.trim()) return;
    try { await api("POST", `/api/recipes/${recipeId}/notes`, { text: text.value }); text.value = ""; await loadNotes(); say(status, "Note saved."); }
    catch (e) { say(status, e.message, true); }
  });

  box.replaceChildren(h("h3", {}, "Rating and notes"), summary, stars, h("h4", {}, "Notes"), notes, form, status);
  try {
    render(await api("GET", `/api/recipes/${recipeId}`));
    await loadNotes();
  } catch (e) {
    say(status, e.message, true);
  }
}

for (const box of document.querySelectorAll("[data-ratings-recipe]")) showRatings(box, box.dataset.ratingsRecipe);
