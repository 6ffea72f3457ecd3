// ChefBot web page: plain JS, no build step. Streams /v1/recipes (server-sent events read
// through fetch, so the API key can go in a header, which EventSource cannot send).
"use strict";

const $ = (id) => document.getElementById(id);
let controller = null;
let lastText = "";
let lastTitle = "recipe";
let lastSource = null; // what wrote lastText, kept with it in the library ("Save to library")

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "muted";
}

function fill(list, items) {
  list.replaceChildren(...items.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
}

function showStructured(res) {
  const r = res.recipe || {};
  $("r-title").textContent = r.title || "(untitled)";
  fill($("r-ingredients"), r.ingredients || []);
  fill($("r-steps"), (r.steps || []).map((s) => s.text));
  fill($("r-problems"), (res.problems || []).map((p) => "check: " + p));
  showChecks(res);
  if (res.well_formed) {
    $("structured").hidden = false;
    $("output").hidden = true;
  }
  lastTitle = r.title || "recipe";
}

// Each requested constraint as the server's checker judged it: ✓ satisfied, ✗ violated, ? the recipe does not tell.
const MARK = { true: "✓", false: "✗", null: "?" };

function checkLine(c) {
  const li = document.createElement("li");
  li.className = c.satisfied === true ? "ok" : c.satisfied === false ? "bad" : "unknown";
  li.dataset.check = c.name;
  li.textContent = `${MARK[c.satisfied]} ${c.requested}: ${c.detail}`;
  return li;
}

function showChecks(res) {
  $("r-checks").replaceChildren(...(res.checks || []).map(checkLine));
  $("r-conflicts").replaceChildren(...(res.conflicts || []).map((c) => {
    const li = document.createElement("li");
    li.textContent = `Your ingredients are not ${c.requested}: ${c.offending.join(", ")}; ChefBot was asked to substitute them.`;
    return li;
  }));
}

function constraintsFromForm() {
  const number = (id) => { const v = parseInt($(id).value, 10); return Number.isFinite(v) ? v : null; };
  return {
    diets: [...document.querySelectorAll("input[data-diet]")].filter((b) => b.checked).map((b) => b.dataset.diet),
    max_minutes: number("max-minutes"),
    difficulty: $("difficulty").value || null,
    cuisine: $("cuisine").value.trim() || null,
    servings: number("servings"),
  };
}

function attemptsNote(e) {
  if (!e.checks || !e.checks.length) return "";
  const tries = e.attempts > 1 ? ` after ${e.attempts} attempts` : "";
  const unknown = e.checks.filter((c) => c.satisfied === null).length;
  if (!e.constraints_met) return ` Constraints not met${tries} (see the ✗ checks).`;
  return unknown ? ` No constraint broken${tries}; the checker cannot tell for ${unknown} (?).` : ` Constraints met${tries}.`;
}

// Read an SSE body chunk by chunk; calls onEvent(obj) for every `data:` line except [DONE].
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") return;
        onEvent(JSON.parse(data));
      }
    }
  }
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return (body.error && body.error.message) || JSON.stringify(body);
  } catch (e) {
    return response.statusText;
  }
}

async function generate(ev) {
  ev.preventDefault();
  const body = {
    ingredients: $("ingredients").value,
    constraints: constraintsFromForm(),
    enforce: $("enforce").checked,
    max_tokens: parseInt($("max-tokens").value, 10) || null,
    temperature: parseFloat($("temperature").value) || 0,
    stream: true,
  };
  lastText = "";
  $("output").textContent = "";
  $("output").hidden = false;
  $("structured").hidden = true;
  $("r-problems").replaceChildren();
  $("r-checks").replaceChildren();
  $("r-conflicts").replaceChildren();
  $("copy").disabled = $("download").disabled = $("save").disabled = true;
  lastSource = null;
  $("save-status").textContent = "";
  $("generate").disabled = true;
  $("stop").disabled = false;
  setStatus("Writing...");
  controller = new AbortController();
  try {
    const response = await fetch("/v1/recipes", { method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal });
    if (!response.ok) {
      setStatus(`Error ${response.status}: ${await errorMessage(response)}`, true);
      return;
    }
    await readEvents(response, (e) => {
      if (e.delta !== undefined) {
        lastText += e.delta;
        $("output").textContent = lastText;
      } else if (e.done) {
        lastText = e.raw;
        $("output").textContent = lastText;
        showStructured(e);
        lastSource = { kind: "generated", model: e.model, ingredients_given: e.ingredients_given,
                       settings: { temperature: body.temperature, max_tokens: body.max_tokens, constraints: body.constraints } };
        const tokens = e.usage ? e.usage.completion_tokens : "?";
        setStatus(`Done: ${tokens} tokens, finish reason ${e.finish_reason}${e.valid ? "" : " (see checks)"}.${attemptsNote(e)}`);
      } else if (e.attempt !== undefined) { // enforce: the answer so far broke a constraint; a new attempt starts
        lastText = "";
        $("output").textContent = "";
        $("r-checks").replaceChildren(...e.violated.map(checkLine));
        setStatus(`Attempt ${e.attempt} of ${e.max_attempts}: the last answer was not ${e.violated.map((c) => c.requested).join(", ")}...`);
      } else if (e.error) {
        setStatus("Error: " + e.error.message, true);
      }
    });
  } catch (err) {
    setStatus(err.name === "AbortError" ? "Stopped." : "Error: " + err.message, err.name !== "AbortError");
  } finally {
    controller = null;
    $("generate").disabled = false;
    $("stop").disabled = true;
    $("copy").disabled = $("download").disabled = !lastText;
    $("save").disabled = !lastSource;
  }
}

async function saveToLibrary() {
  $("save").disabled = true;
  const servings = (lastSource.settings.constraints || {}).servings; // the servings asked for, when given
  const response = await fetch("/api/recipes", { method: "POST", headers: headers(),
                                                 body: JSON.stringify({ text: lastText, source: lastSource, ...(servings ? { servings } : {}) }) });
  if (!response.ok) {
    $("save-status").textContent = `Not saved: ${await errorMessage(response)}`;
    $("save").disabled = false;
    return;
  }
  const saved = await response.json();
  $("save-status").replaceChildren(`Saved to the library: `, Object.assign(document.createElement("a"), { href: `/library?recipe=${saved.id}`, textContent: saved.title }));
}

async function copyText() {
  try {
    await navigator.clipboard.writeText(lastText);
  } catch (e) { // clipboard API needs a secure context; fall back to a selection copy
    const ta = document.createElement("textarea");
    ta.value = lastText;
    document.body.appendChild(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  setStatus("Copied to the clipboard.");
}

function download() {
  const blob = new Blob([lastText + "\n"], { type: "text/markdown" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = (lastTitle.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "recipe") + ".md";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

const EXAMPLE_MEAL = {
  title: "Pasta night",
  serve_at: "19:30",
  recipes: [
    { title: "Tomato pasta", ingredients: ["spaghetti", "tomatoes", "garlic"],
      directions: ["Boil water in a large pot.", "Cook the spaghetti for 10 minutes.", "Simmer tomatoes and garlic in a pan for 15 minutes.", "Toss the pasta with the sauce."] },
    { title: "Green salad", ingredients: ["lettuce", "olive oil", "lemon"],
      directions: ["Wash and chop the lettuce.", "Whisk olive oil and lemon juice in a bowl.", "Toss the salad with the dressing."] },
  ],
  cooks: [{ name: "Alex", skill: 3 }],
};

async function plan() {
  $("plan-status").textContent = "Planning...";
  $("plan-result").hidden = true;
  let spec;
  try { spec = JSON.parse($("plan-spec").value); } catch (e) { $("plan-status").textContent = "Not valid JSON: " + e.message; return; }
  const response = await fetch("/v1/plan", { method: "POST", headers: headers(), body: JSON.stringify(spec) });
  if (!response.ok) { $("plan-status").textContent = `Error ${response.status}: ${await errorMessage(response)}`; return; }
  const result = await response.json();
  $("plan-status").textContent = "";
  $("plan-result").srcdoc = result.html || "<pre>" + JSON.stringify(result, null, 2) + "</pre>";
  $("plan-result").hidden = false;
}

async function init() {
  $("recipe-form").addEventListener("submit", generate);
  $("stop").addEventListener("click", () => controller && controller.abort());
  $("copy").addEventListener("click", copyText);
  $("download").addEventListener("click", download);
  $("save").addEventListener("click", saveToLibrary);
  $("plan").addEventListener("click", plan);
  $("plan-spec").value = JSON.stringify(EXAMPLE_MEAL, null, 2);
  try {
    const health = await (await fetch("/health")).json();
    $("model-name").textContent = "model: " + health.model;
    if (health.features && health.features.plan) {
      $("plan-panel").hidden = false;
      $("plan-link").hidden = false;
    }
  } catch (e) { /* the page still works without /health */ }
  document.body.dataset.ready = "1";
}

init();
