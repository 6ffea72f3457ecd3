// Shared by the kitchen pages (library, plan, cook, tasting): plain JS, no build step.
// `api(method, path, body)` calls the server's /api/... routes with the API key the person
// gave (kept in localStorage), and throws an Error carrying the server's message on a refusal.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "chefbot.api_key";

function apiKey() {
  try { return localStorage.getItem(KEY_STORE) || ""; } catch (e) { return ""; }
}

function setApiKey(key) {
  try { if (key) localStorage.setItem(KEY_STORE, key); else localStorage.removeItem(KEY_STORE); } catch (e) { /* private mode */ }
}

function apiHeaders() {
  const h = { "Content-Type": "application/json" };
  const key = apiKey();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

class ApiFailure extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(method, path, body) {
  const init = { method, headers: apiHeaders() };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  if (!response.ok) {
    const msg = (data && data.error && data.error.message) || (data && data.detail) || response.statusText;
    throw new ApiFailure(response.status, `Error ${response.status}: ${msg}`);
  }
  return data;
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

const PAGES = [["/", "Write"], ["/library", "Library"], ["/plan", "Plan"], ["/cook", "Cook"], ["/tasting", "Tasting"]];

// What every kitchen page shares, written once here: the navigation in the header (the current
// page marked for screen readers) and the footer's API-key field (kept in localStorage).
function pageChrome() {
  const nav = h("nav", { class: "pages", "aria-label": "Pages" }, PAGES.map(([href, name]) =>
    [h("a", { href, "aria-current": href === location.pathname ? "page" : null }, name), " "]));
  document.querySelector("header").append(nav);
  const field = h("input", { type: "password", id: "api-key", autocomplete: "off", placeholder: "only if the server needs one" });
  field.value = apiKey();
  field.addEventListener("change", () => setApiKey(field.value.trim()));
  document.querySelector("main").after(h("footer", {}, h("details", {}, h("summary", {}, "API key"),
    h("label", { for: "api-key" }, "API key ", field))));
}

pageChrome();
