// Blind tastings: the server writes two answers for the same ingredients (POST /api/tastings/pair)
// and hands them back in random order as A and B; the person votes (POST /api/tastings), may change the
// vote (voting again) until they reveal the pair (POST /api/tastings/{id}/reveal), and only then sees which
// side wrote which; after the reveal the pair's votes are final. Results so far: GET /api/tastings/summary. The sides start from the
// server's default pairing (GET /api/tastings/sides): base vs final model where the server can answer as its
// base, else the served model at two temperatures, with the reason shown.
"use strict";

let pairId = null;

function side(prefix) {
  const s = { model: $(`${prefix}-model`).value.trim() || "served" };
  const t = parseFloat($(`${prefix}-temp`).value);
  if (Number.isFinite(t)) s.temperature = t;
  return s;
}

function sideName(s) {
  if (!s) return "?";
  const extra = [];
  if (s.temperature !== undefined && s.temperature !== null) extra.push(`temperature ${s.temperature}`);
  if (s.seed !== undefined && s.seed !== null) extra.push(`seed ${s.seed}`);
  return (s.model || "?") + (extra.length ? ` (${extra.join(", ")})` : "");
}

async function makePair(ev) {
  ev.preventDefault();
  const ingredients = $("t-ingredients").value.split(/[\n,]/).map((x) => x.trim()).filter(Boolean);
  if (!ingredients.length) return;
  $("make-pair").disabled = true;
  $("pair").hidden = true;
  say("t-status", "Writing two answers (this takes as long as two recipes)...");
  try {
    const pair = await api("POST", "/api/tastings/pair", { ingredients, a: side("a"), b: side("b") });
    pairId = pair.pair_id;
    for (const ans of pair.answers) {
      const box = $(`answer-${ans.label.toLowerCase()}`);
      box.querySelector(".answer-text").textContent = ans.text;
      box.querySelector("h3").textContent = `Answer ${ans.label}`;
      box.classList.remove("chosen");
    }
    $("vote-form").reset();
    try { $("rater").value = localStorage.getItem("chefbot.rater") || ""; } catch (e) { /* private mode */ }
    $("vote").disabled = false;
    $("vote").textContent = "Vote";
    $("reveal").hidden = true;
    $("reveal").disabled = false;
    say("v-status", "");
    say("t-status", `Pair ${pairId}: read both, then vote.`);
    $("pair").hidden = false;
    $("pair").scrollIntoView({ block: "start" });
  } catch (e) {
    say("t-status", e.message, true);
  } finally {
    $("make-pair").disabled = false;
  }
}

async function vote(ev) {
  ev.preventDefault();
  const picked = document.querySelector("input[name=choice]:checked");
  const rater = $("rater").value.trim();
  if (!picked || !rater || pairId === null) return;
  const body = { pair_id: pairId, choice: picked.value, rater };
  const note = $("note").value.trim();
  if (note) body.note = note;
  try { localStorage.setItem("chefbot.rater", rater); } catch (e) { /* private mode */ }
  $("vote").disabled = true;
  try {
    const res = await api("POST", "/api/tastings", body);
    for (const label of ["A", "B"]) $(`answer-${label.toLowerCase()}`).classList.toggle("chosen", res.choice === label);
    const choice = res.choice === "both_bad" ? "both bad" : res.choice;
    say("v-status", `Vote ${res.changed ? "changed" : "saved"} (${choice}). You can change it until you reveal the pair.`);
    $("vote").textContent = "Change vote";
    $("reveal").hidden = false;
  } catch (e) {
    say("v-status", e.message, true);
  } finally {
    $("vote").disabled = false;
  }
}

// The reveal: which side wrote A and B; from now on the pair's votes are final (the server answers 409).
async function reveal() {
  if (pairId === null) return;
  $("reveal").disabled = true;
  try {
    const res = await api("POST", `/api/tastings/${pairId}/reveal`);
    const rev = res.revealed || {};
    for (const label of ["A", "B"]) {
      $(`answer-${label.toLowerCase()}`).querySelector("h3").textContent = `Answer ${label}: ${sideName(rev[label])}`;
    }
    say("v-status", `Revealed: A was ${sideName(rev.A)}; B was ${sideName(rev.B)}. The votes on this pair are final.`);
    $("vote").disabled = true;
    $("reveal").hidden = true;
    await loadSummary();
  } catch (e) {
    $("reveal").disabled = false;
    say("v-status", e.message, true);
  }
}

function pctText(x) {
  return x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;
}

function statsRow(who, s, sides) {
  return h("tr", {}, h("th", { scope: "row" }, who), sides.map((n) => h("td", {}, `${s.wins[n] || 0} (${pctText(s.win_rate[n])})`)),
    h("td", {}, String(s.tie)), h("td", {}, String(s.both_bad)));
}

async function loadSummary() {
  try {
    const sum = await api("GET", "/api/tastings/summary");
    if (!sum.comparisons || !sum.comparisons.length) {
      $("summary").replaceChildren(h("p", { class: "muted" }, "No votes yet."));
      return;
    }
    $("summary").replaceChildren(h("p", { class: "muted" }, `${sum.n} vote${sum.n === 1 ? "" : "s"} in all.`),
      ...sum.comparisons.map((c) => h("div", { class: "table-wrap" }, h("table", { class: "summary" },
        h("caption", {}, `${c.sides.join(" vs ")}: ${c.n} vote${c.n === 1 ? "" : "s"}`),
        h("tr", {}, h("th", {}, "rater"), c.sides.map((n) => h("th", { scope: "col" }, `${n} wins`)), h("th", {}, "tie"), h("th", {}, "both bad")),
        statsRow("everyone", c.overall, c.sides),
        Object.entries(c.per_rater || {}).map(([who, s]) => statsRow(who, s, c.sides))))));
  } catch (e) {
    $("summary").replaceChildren(h("p", { class: "error" }, e.message));
  }
}

function setSide(prefix, s) {
  $(`${prefix}-model`).value = s.model || "served";
  $(`${prefix}-temp`).value = s.temperature === undefined || s.temperature === null ? "" : String(s.temperature);
}

async function loadSides() {
  try {
    const sides = await api("GET", "/api/tastings/sides");
    $("model-names").replaceChildren(...sides.models.map((m) => h("option", { value: m })));
    setSide("a", sides.default.a);
    setSide("b", sides.default.b);
    say("t-pairing", sides.note);
    $("t-pairing").dataset.base = sides.base ? "yes" : "no";
  } catch (e) {
    say("t-pairing", `The default pairing could not be loaded (${e.message}): served vs served.`, true);
  }
}

async function init() {
  $("pair-form").addEventListener("submit", makePair);
  $("vote-form").addEventListener("submit", vote);
  $("reveal").addEventListener("click", reveal);
  await Promise.all([loadSides(), loadSummary()]);
  document.body.dataset.ready = "1";
}

init();
