// Cook mode on a phone in a real headless Chromium (playwright-core + Debian's chromium), for
// tests/serve/test_cook_browser.py: the library's print view; "Cook this" on one recipe at other servings
// (the amounts of each step); a timer started (the screen wake lock asked for, and asked again after the
// browser dropped it), run out (the beep: Web Audio oscillators, and the vibration); a dinner's step that waits
// for another cook's step (locked until that one is done); the service worker registered, then the cook page
// reloaded with the server stopped (served by the worker, the plan kept on the phone, "Done" queued).
//
// usage: node cook_check.js SCENARIO.json   {url, out_dir, timeout_ms, recipe_id, servings, dinner_plan_id,
//                                            waiting_cook, first_cook}
// Half way it prints "STOP THE SERVER" and waits for a line on stdin (the test stops the server, then answers).
// Prints one JSON line at the end: what the pages showed. Exit 1 on any failure, with the reason.
// The wake lock and the sound cannot be observed in a headless browser: navigator.wakeLock is replaced by a
// recorder (cook.js's requests and the releases), AudioContext's createOscillator and navigator.vibrate are
// counted; the rest is Chromium's own.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { launch } = require("./browser_launch");

const PHONE = { width: 390, height: 844 };

function recorder() {
  const log = { requests: 0, releases: 0, last: null, oscillators: 0, vibrations: 0 };
  window.__cookTest = log;
  const wakeLock = {
    request: async (type) => {
      log.requests++;
      const sentinel = new EventTarget();
      sentinel.type = type;
      sentinel.released = false;
      sentinel.release = async () => {
        if (sentinel.released) return;
        sentinel.released = true;
        log.releases++;
        sentinel.dispatchEvent(new Event("release"));
      };
      log.last = sentinel;
      return sentinel;
    },
  };
  Object.defineProperty(Navigator.prototype, "wakeLock", { get: () => wakeLock, configurable: true });
  Navigator.prototype.vibrate = function () { log.vibrations++; return true; };
  if (window.AudioContext) {
    const create = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () { log.oscillators++; return create.call(this); };
  }
}

function stdinLine() {
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin });
    rl.once("line", (line) => { rl.close(); resolve(line); });
  });
}

async function main() {
  const sc = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const shot = (name) => path.join(sc.out_dir, name);
  const context = await launch(PHONE);
  context.setDefaultTimeout(sc.timeout_ms || 60000);
  await context.addInitScript(recorder);
  await context.clock.install(); // time runs as usual until the test moves it on
  const errors = [];
  const out = { page_errors: errors };
  try {
    const phone = context.pages()[0] || (await context.newPage());
    phone.on("pageerror", (e) => errors.push(`${phone.url()}: ${e}`));
    const open = async (p) => {
      await phone.goto(sc.url + p, { waitUntil: "load" });
      await phone.waitForSelector("body[data-ready='1']");
    };
    const card = (which) => phone.evaluate((w) => {
      const el = (id) => document.getElementById(`${w}-${id}`);
      return {
        task: el("card").dataset.task, hidden: el("card").hidden, text: el("text").textContent,
        amounts: [...el("amounts").querySelectorAll("li")].map((li) => li.textContent),
        waits: el("waits").hidden ? "" : el("waits").textContent,
        start_disabled: w === "now" ? document.getElementById("start").disabled : null,
        done_disabled: w === "now" ? document.getElementById("done").disabled : null,
      };
    }, which);
    const log = () => phone.evaluate(() => ({ ...window.__cookTest, last: undefined, wake: document.body.dataset.wakeLock || "",
                                              beeps: document.body.dataset.beeps || "0" }));

    // 1. The print view of a library recipe: no navigation, buttons or forms; the recipe alone, a page of its own.
    await open(`/library?recipe=${sc.recipe_id}`);
    await phone.emulateMedia({ media: "print" });
    out.print = await phone.evaluate(() => {
      const shown = (sel) => [...document.querySelectorAll(sel)].some((e) => e.offsetParent !== null || getComputedStyle(e).display !== "none" && e.getClientRects().length > 0);
      return {
        nav: shown("nav"), footer: shown("footer"), buttons: shown("button"), forms: shown("form:not(#scale-form)"),
        servings: shown("#v-servings") ? document.getElementById("v-servings").value : null,
        recipe: shown("#recipe-view"), ingredients: document.querySelectorAll("#v-ingredients li").length,
        library_list: shown("#recipes"), break_after: getComputedStyle(document.getElementById("recipe-view")).breakAfter,
      };
    });
    await phone.screenshot({ path: shot("cook-print.png"), fullPage: true });
    await phone.emulateMedia({ media: "screen" });

    // 2. "Cook this" at other servings: the one-recipe plan opens in cook mode.
    await phone.fill("#v-servings", String(sc.servings));
    await phone.click("#cook-this");
    await phone.waitForURL(/\/cook\?plan=\d+&cook=/);
    await phone.waitForSelector("body[data-ready='1']");
    out.cook_url = phone.url().slice(sc.url.length);
    out.now = await card("now");
    out.next = await card("next");
    await phone.screenshot({ path: shot("cook-one-recipe.png") });

    // 3. A timer: Start asks for the wake lock; the browser drops it (the page hidden), shown again it asks again.
    await phone.click("#start");
    await phone.waitForFunction(() => /left$/.test(document.getElementById("countdown").textContent));
    await phone.waitForFunction(() => window.__cookTest.requests >= 1 && document.body.dataset.wakeLock === "held");
    out.wake_started = await log();
    await phone.evaluate(() => window.__cookTest.last.release());
    await phone.evaluate(() => document.dispatchEvent(new Event("visibilitychange")));
    await phone.waitForFunction(() => window.__cookTest.requests >= 2 && document.body.dataset.wakeLock === "held");
    out.wake_again = await log();
    //    ... and runs out: the phone beeps and vibrates, once.
    const minutes = await phone.evaluate(() => Number(/· (\d+) min/.exec(document.getElementById("now-when").textContent)[1]));
    await phone.clock.fastForward(minutes * 60000 + 5000);
    await phone.waitForFunction(() => /time is up/.test(document.getElementById("countdown").textContent));
    await phone.waitForFunction(() => document.body.dataset.beeps === "1");
    await phone.clock.fastForward(3000);
    out.time_up = await log();
    out.countdown = await phone.textContent("#countdown");

    // 4. The service worker: registered at the root and controlling the page.
    out.sw = await phone.evaluate(async () => {
      const reg = await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) await new Promise((r) => navigator.serviceWorker.addEventListener("controllerchange", r, { once: true }));
      return { scope: reg.scope, script: reg.active && reg.active.scriptURL, controlled: !!navigator.serviceWorker.controller,
               caches: await caches.keys() };
    });

    // 5. A dinner for two: the waiting cook's step is locked until the other cook's step is done.
    await open(`/cook?plan=${sc.dinner_plan_id}&cook=${encodeURIComponent(sc.waiting_cook)}`);
    out.locked = await card("now");
    await phone.screenshot({ path: shot("cook-locked.png") });
    await open(`/cook?plan=${sc.dinner_plan_id}&cook=${encodeURIComponent(sc.first_cook)}`);
    out.first_cook_step = (await card("now")).task;
    await phone.click("#done");
    await phone.waitForFunction(() => document.getElementById("net").dataset.pending === "0");
    await open(`/cook?plan=${sc.dinner_plan_id}&cook=${encodeURIComponent(sc.waiting_cook)}`);
    out.unlocked = await card("now");

    // 6. Offline: back on the recipe's cook page, the server is stopped, the page reloaded.
    await open(out.cook_url);
    out.online_now = await card("now");
    console.log("STOP THE SERVER");
    out.stopped = await stdinLine();
    const response = await phone.reload({ waitUntil: "load" });
    await phone.waitForSelector("body[data-ready='1']");
    out.offline = {
      from_service_worker: response ? response.fromServiceWorker() : null,
      status: response ? response.status() : null,
      view: await phone.isVisible("#cook-view"),
      now: await card("now"),
      net: await phone.textContent("#net"),
    };
    await phone.click("#done");
    await phone.waitForFunction(() => document.getElementById("net").dataset.pending === "1");
    out.offline.after_done = await phone.textContent("#net");
    out.offline.now_after_done = (await card("now")).task;
    await phone.screenshot({ path: shot("cook-offline-reload.png") });
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
