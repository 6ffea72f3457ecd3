// Shared by every page (write, library, plan, cook, tasting; loaded first): plain JS, no build step.
// The API key: one field at the foot of every page (the server renders it, with the navigation, from
// one shell: routes_web.py), kept under one localStorage key, so a key saved on any page is sent by
// every page. `apiFetch(method, path, body)` is the one way the pages call the server: it sends the key,
// and on a refusal throws an ApiFailure carrying the server's message (a 401 also opens the key field).
// `api(...)` is apiFetch with the JSON answer read.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "chefbot.api_key";

function apiKey() {
  try { return localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
}

function setApiKey(key) {
  try { if (key) localStorage.setItem(KEY_STORE, key); else localStorage.removeItem(KEY_STORE); } catch (e) { /* private mode */ }
}

// The session's CSRF token (GET /api/session gives it; kept in memory only): sent with every request, the
// server asks for it on changes made with the session cookie (docs/KITCHEN.md, "Security model").
let csrfToken = "";
let hasAccounts = false; // the kitchen has accounts: a 401 opens the login form rather than the key field
let sessionReady = Promise.resolve(); // the first GET /api/session, which says whether it has

function apiHeaders() {
  const h = { "Content-Type": "application/json" };
  const key = apiKey();
  if (key) h["Authorization"] = "Bearer " + key;
  if (csrfToken) h["X-CSRF-Token"] = csrfToken;
  return h;
}

class ApiFailure extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// The server's message in an error answer: the API's {"error": {"message"}}, FastAPI's {"detail"}, or the status.
async function failureMessage(response) {
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  const detail = data && data.detail;
  const msg = (data && data.error && data.error.message)
    || (typeof detail === "string" ? detail : detail && JSON.stringify(detail)) || response.statusText;
  return `Error ${response.status}: ${msg}`;
}

// The response once it is ok (a stream is read by the caller); `init` adds fetch options (an AbortSignal).
async function apiFetch(method, path, body, init) {
  const options = { ...(init || {}), method, headers: apiHeaders() };
  if (body !== undefined) options.body = JSON.stringify(body);
  const response = await fetch(path, options);
  if (response.ok) return response;
  let message = await failureMessage(response);
  if (response.status === 401) {
    await sessionReady;
    const login = !apiKey() && hasAccounts && $("login-box");
    message += apiKey() ? " (the API key at the foot of the page was refused)"
      : login ? " (log in, or enter an API key, at the foot of the page)" : " (enter the API key at the foot of the page)";
    if (login) { $("login-box").open = true; $("login-name").focus({ preventScroll: true }); }
    else askForKey();
  }
  throw new ApiFailure(response.status, message);
}

async function api(method, path, body) {
  const response = await apiFetch(method, path, body);
  if (response.status === 204) return null;
  try { return await response.json(); } catch (e) { return null; }
}

function say(el, text, isError) {
  const node = typeof el === "string" ? $(el) : el;
  node.textContent = text;
  node.classList.toggle("error", !!isError);
}

// h("li", {class: "x", "data-id": 3}, "text", child, ...) -> element (text is never parsed as HTML)
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function param(name) {
  return new URLSearchParams(location.search).get(name);
}

// The key field in the footer (shell.html): filled from storage, saved as it is typed, and kept in step
// with other tabs of this server that change it.
function keyField() {
  const field = $("api-key");
  if (!field) return;
  field.value = apiKey();
  field.addEventListener("input", () => setApiKey(field.value.trim()));
  window.addEventListener("storage", (ev) => { if (ev.key === KEY_STORE) field.value = apiKey(); });
}

function askForKey() {
  const box = $("key-box");
  if (!box) return;
  box.open = true;
  $("api-key").focus({ preventScroll: true });
}

// The login form in the footer (shell.html): who this browser is, log in and out.  The session cookie is
// HttpOnly (no script here reads it); the page learns who it is, and the CSRF token, from GET /api/session.
function showSession(info) {
  const caller = (info && info.caller) || {};
  csrfToken = (info && info.csrf_token) || "";
  hasAccounts = !!(info && info.accounts);
  const person = caller.kind === "person";
  $("login-summary").textContent = person ? `Signed in as ${caller.name}` : "Log in";
  $("login-form").hidden = person;
  $("logout").hidden = caller.via !== "session";
  say("login-status", person ? "" : info && info.accounts ? "This kitchen has accounts: log in to use it."
    : "No accounts yet (chefbot kitchen user add NAME): the kitchen is open to this machine.");
}

async function refreshSession() {
  if (!$("login-box")) return;
  try {
    const response = await fetch("/api/session", { headers: apiHeaders() });
    if (response.ok) showSession(await response.json());
  } catch (e) { /* offline: the form stays as it is */ }
}

function loginForm() {
  if (!$("login-form")) return;
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: $("login-name").value.trim(), password: $("login-password").value };
    const response = await fetch("/api/login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    $("login-password").value = "";
    if (!response.ok) {
      let message = await failureMessage(response);
      const wait = response.headers.get("Retry-After");
      if (wait) message += ` (try again in ${wait} s)`;
      say("login-status", message, true);
      return;
    }
    showSession(await response.json());
    $("login-box").open = false;
  });
  $("logout").addEventListener("click", async () => {
    try { showSession(await api("POST", "/api/logout")); }
    catch (e) { say("login-status", e.message, true); }
  });
  sessionReady = refreshSession();
}


// The service worker (routes_webapp.py, web/sw.js) keeps the pages and cook mode offline. Browsers allow one
// only in a secure context (https://, or http://localhost): elsewhere the pages work online only.
function registerServiceWorker() {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((e) => console.warn("service worker:", e));
}


keyField();
loginForm();
registerServiceWorker();
