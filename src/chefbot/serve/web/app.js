// The recipe page (/): plain JS, no build step, after kitchen.js (the API key, apiFetch, $). Streams
// /v1/recipes (server-sent events read through fetch, so the API key can go in a header, which
// EventSource cannot send).
"use strict";

let controller = null;
let lastText = "";
let lastTitle = "recipe";
let lastSource = null; // what wrote lastText, kept with it in the library ("Save to library")
let lastIsRecipe = true; // kitchen sense: false for a text that is not a recipe (no Save for it)

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
  showKitchenSense(res.kitchen_sense);
  showSources(res.sources || []);
  if (res.well_formed) {
    $("structured").hidden = false;
    $("output").hidden = true;
  }
  lastTitle = r.title || "recipe";
}

// The real recipes the prompt was given (grounding.enabled): title, and where each one is from.
function showSources(sources) {
  $("r-sources-list").replaceChildren(...sources.map((s) => {
    const li = document.createElement("li");
    li.dataset.source = s.id || "";
    if (s.link && /^https?:\/\//i.test(s.link)) {  // a web page only (never a javascript: link)
      const a = document.createElement("a");
      a.href = s.link;
      a.rel = "noopener noreferrer";
      a.textContent = s.title;
      li.append(a);
    } else {
      li.append(s.title);
    }
    li.append(s.kind === "library" ? ` (your library, #${s.library_id})` : ` (${s.source || "corpus"}, ${s.id})`);
    return li;
  }));
  $("r-sources").hidden = sources.length === 0;
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

// Kitchen sense (cooking/kitchen_sense.py, judged by the server): one warning block listing every failed
// check's reason, the safety ones first; a text that is not a recipe gets no "Save to library".
function senseLine(c) {
  const li = document.createElement("li");
  li.className = c.kind;
  li.dataset.check = c.name;
  li.textContent = (c.kind === "safety" ? "Unsafe: " : "Odd: ") + c.reason;
  if (c.source) li.title = "source: " + c.source;
  return li;
}

function showKitchenSense(ks) {
  if (!ks) return;
  const failed = ks.checks.filter((c) => c.passed === false);
  const ordered = [...failed.filter((c) => c.kind === "safety"), ...failed.filter((c) => c.kind !== "safety")];
  $("r-sense-list").replaceChildren(...ordered.map(senseLine));
  $("r-sense-title").textContent = !ks.safe ? "Warning: this recipe may not be safe to follow."
    : !ks.is_recipe ? "This text is not a recipe." : "Check this recipe before you cook it.";
  $("r-sense").className = "sense-warning" + (ks.safe ? "" : " unsafe");
  $("r-sense").hidden = ordered.length === 0;
  lastIsRecipe = ks.is_recipe;
  $("save").hidden = !ks.is_recipe;
  $("save-note").hidden = ks.is_recipe;
}

function resetKitchenSense() {
  $("r-sense").hidden = true;
  $("r-sense-list").replaceChildren();
  lastIsRecipe = true;
  $("save").hidden = false;
  $("save-note").hidden = true;
}

// Why enforce started another attempt: the constraints broken and the safety checks failed.
function retryReason(e) {
  const parts = [];
  if (e.violated && e.violated.length) parts.push("was not " + e.violated.map((c) => c.requested).join(", "));
  if (e.unsafe && e.unsafe.length) parts.push("was unsafe (" + e.unsafe.map((c) => c.reason).join("; ") + ")");
  return parts.join(" and ");
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
  const tries = e.attempts > 1 ? ` after ${e.attempts} attempts` : "";
  const unsafe = e.kitchen_sense && !e.kitchen_sense.safe ? ` Unsafe${tries}: see the warning.` : "";
  if (!e.checks || !e.checks.length) return unsafe || (tries ? ` Safe${tries}.` : "");
  const unknown = e.checks.filter((c) => c.satisfied === null).length;
  if (!e.constraints_met) return ` Constraints not met${tries} (see the ✗ checks).` + unsafe;
  return (unknown ? ` No constraint broken${tries}; the checker cannot tell for ${unknown} (?).` : ` Constraints met${tries}.`) + unsafe;
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
  showSources([]);
  resetKitchenSense();
  $("copy").disabled = $("download").disabled = $("save").disabled = true;
  lastSource = null;
  $("save-status").textContent = "";
  $("generate").disabled = true;
  $("stop").disabled = false;
  setStatus("Writing...");
  controller = new AbortController();
  try {
    const response = await apiFetch("POST", "/v1/recipes", body, { signal: controller.signal });
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
        resetKitchenSense();
        setStatus(`Attempt ${e.attempt} of ${e.max_attempts}: the last answer ${retryReason(e)}...`);
      } else if (e.error) {
        setStatus("Error: " + e.error.message, true);
      }
    });
  } catch (err) {
    const stopped = err.name === "AbortError";
    setStatus(stopped ? "Stopped." : err instanceof ApiFailure ? err.message : "Error: " + err.message, !stopped);
  } finally {
    controller = null;
    $("generate").disabled = false;
    $("stop").disabled = true;
    $("copy").disabled = $("download").disabled = !lastText;
    $("save").disabled = !lastSource || !lastIsRecipe;
  }
}

async function saveToLibrary() {
  $("save").disabled = true;
  const servings = (lastSource.settings.constraints || {}).servings; // the servings asked for, when given
  let saved;
  try {
    saved = await api("POST", "/api/recipes",
                      { text: lastText, source: lastSource, ...(servings ? { servings } : {}) });
  } catch (e) {
    say("save-status", `Not saved: ${e.message}`, true);
    $("save").disabled = false;
    return;
  }
  say("save-status", "");
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

async function init() {
  $("recipe-form").addEventListener("submit", generate);
  $("stop").addEventListener("click", () => controller && controller.abort());
  $("copy").addEventListener("click", copyText);
  $("download").addEventListener("click", download);
  $("save").addEventListener("click", saveToLibrary);
  try {
    const health = await api("GET", "/health");
    $("model-name").textContent = "model: " + health.model;
  } catch (e) { /* the page still works without /health */ }
  document.body.dataset.ready = "1";
}

init();
