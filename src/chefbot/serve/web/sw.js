// The service worker (served at /sw.js, scope "/", by routes_webapp.py): the app shell and the cook page
// stay available offline, so cook mode survives a reload without a connection (docs/KITCHEN.md,
// "Install on a phone"). The server writes VERSION (a hash of every file of the web app) and SHELL (the
// pages and files to keep) into this file as it serves it: a changed file is a new service worker, with a
// new cache, and the old caches are deleted when it activates.
//
// - pages (a navigation): the network first; with no answer within NETWORK_WAIT_MS, or none at all, the
//   page kept in the cache (its query ignored: /cook?plan=3&cook=Alex is the cached /cook, whose script
//   reads the query);
// - the shell's files (/static/..., the manifest, the icons): from this version's cache, else the network;
// - GET /api/plans/{id} (the plan cook mode shows): the network first, each answer kept; offline, the last
//   one kept. Cook mode keeps its own copy and its queue of updates in localStorage (cook.js), which is
//   newer than this one once a "Done" was answered (cook.js keeps the copy with more progress); this one
//   serves a page with no copy of its own. The progress posts are never touched here, so they fail offline
//   and wait in cook.js's queue.
// Nothing else is intercepted.
"use strict";

const VERSION = "@VERSION@";
const SHELL = @SHELL@;
const SHELL_CACHE = `chefbot-shell-${VERSION}`;
const DATA_CACHE = `chefbot-data-${VERSION}`;
const NETWORK_WAIT_MS = 4000;
const PLAN_PATH = /^\/api\/plans\/\d+$/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  const keep = new Set([SHELL_CACHE, DATA_CACHE]);
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("chefbot-") && !keep.has(n)).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

// The network's answer, or a rejection after `ms` (a dead Wi-Fi can hang rather than fail).
function network(request, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no answer in time")), ms);
    fetch(request).then((r) => { clearTimeout(timer); resolve(r); }, (e) => { clearTimeout(timer); reject(e); });
  });
}

async function page(request) {
  try {
    return await network(request, NETWORK_WAIT_MS);
  } catch (e) {
    const cached = await caches.match(request, { ignoreSearch: true, cacheName: SHELL_CACHE });
    if (cached) return cached;
    throw e;
  }
}

async function shellFile(request) {
  const cached = await caches.match(request, { cacheName: SHELL_CACHE });
  return cached || fetch(request);
}

async function plan(request) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const response = await network(request, NETWORK_WAIT_MS);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (e) {
    const cached = await cache.match(request);
    if (cached) return cached;
    throw e;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") event.respondWith(page(request));
  else if (SHELL.includes(url.pathname)) event.respondWith(shellFile(request));
  else if (PLAN_PATH.test(url.pathname)) event.respondWith(plan(request));
});
