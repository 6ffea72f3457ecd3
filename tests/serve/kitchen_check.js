// Drives the kitchen pages in a real headless Chromium (playwright-core + Debian's chromium):
// (with api_key: the library refuses without it, the key is typed there once and every page sends it)
// save a generated recipe, scale it, paste recipes, delete one, a shopping list from two recipes (saved: a tick
// and an own item survive a reload, a second device sees the tick and this one sees the second's),
// a dinner plan from three saved recipes with two cooks through the form, another through the plan page's
// JSON view (a refused field named, the form filled from the JSON, the JSON sent as is), cook mode on a phone
// (one step done online; the next, if it waits for another cook's step, locked until that cook marks theirs
// done on their phone; then done offline, sent when back online), a blind-tasting vote. Screenshots of
// each screen go to OUT_DIR. Used by tests/serve/test_kitchen_browser.py and bench/kitchen_screenshots.py.
//
// usage: node kitchen_check.js SCENARIO.json
//   {url, out_dir, timeout_ms, api_key (optional: the server's key), ingredients, paste: [text], delete_title,
//    search (null: a word of
//    the saved title), scale_to,
//    shop: [titles], plan: {title, serve_at, dishes: [titles; "@generated" = the saved answer],
//    cooks: [{name, skill, from, to}], ovens, burners, pans}, plan_json: {title, serve_at, dishes: [[title, servings]],
//    cooks: [API cooks], kitchen: {API kitchen}, extra: {keys the form has no field for}},
//    tasting: {ingredients, rater, choice, note}}
// Prints one JSON line: what the pages showed. Exit 1 on any failure, with the reason.
"use strict";
const fs = require("fs");
const path = require("path");
const { launch } = require("./browser_launch");

const PHONE = { width: 390, height: 844 };

async function main() {
  const sc = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const timeout = sc.timeout_ms || 60000;
  const shot = (name) => path.join(sc.out_dir, name);
  const context = await launch({ width: 1000, height: 900 });
  context.setDefaultTimeout(timeout);
  const errors = [];
  const out = { page_errors: errors, overflow: {}, nav: {} };
  const watch = (page) => {
    page.on("pageerror", (e) => errors.push(`${page.url()}: ${e}`));
    page.on("dialog", (d) => d.accept());
    return page;
  };
  const open = async (page, p) => {
    await page.goto(sc.url + p, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready='1']");
  };
  const texts = (page, sel) => page.$$eval(sel, (els) => els.map((e) => e.textContent.trim()));
  try {
    const page = watch(context.pages()[0] || (await context.newPage()));

    // 0. A server with a key: the library says it needs one and opens the key field; typed there once,
    //    the key is what every later page sends (the Write page's stream included).
    if (sc.api_key) {
      await open(page, "/library");
      out.key_refused = await page.textContent("#lib-status");
      out.key_box_open = await page.$eval("#key-box", (d) => d.open);
      await page.fill("#api-key", sc.api_key);
      await open(page, "/library");
      out.key_accepted = await page.textContent("#lib-status");
    }

    // 1. A generated recipe, saved to the library from the Write page.
    await open(page, "/");
    await page.fill("#ingredients", sc.ingredients);
    await page.click("#generate");
    await page.waitForFunction(() => /^(Done|Error)/.test(document.getElementById("status").textContent));
    out.generate_status = await page.textContent("#status");
    await page.click("#save");
    await page.waitForSelector("#save-status a");
    out.saved_link = await page.getAttribute("#save-status a", "href");
    out.saved_title = await page.textContent("#save-status a");
    await page.screenshot({ path: shot("kitchen-save.png"), fullPage: true });

    // 2. More recipes by pasting, in the library; one of them deleted again.
    await open(page, "/library");
    for (const text of sc.paste) {
      await page.evaluate(() => { document.getElementById("lib-status").textContent = ""; });
      await page.click("#add-box summary");
      await page.fill("#paste", text);
      await page.click("#add");
      await page.waitForFunction(() => /^Saved "/.test(document.getElementById("lib-status").textContent));
      await page.waitForSelector("#recipe-view:not([hidden])");
    }
    const row = (title) => page.locator("#recipes li", { has: page.locator("a.open", { hasText: title }) }).first();
    if (sc.delete_title) {
      await row(sc.delete_title).locator("a.open").click();
      await page.waitForFunction((t) => document.getElementById("v-title").textContent === t, sc.delete_title);
      out.deleted_id = Number(new URL(page.url()).searchParams.get("recipe"));
      await page.click("#delete");
      await page.waitForFunction(() => /^Deleted "/.test(document.getElementById("lib-status").textContent));
    }
    out.library_titles = await texts(page, "#recipes a.open");

    // 3. Search, open the generated recipe and scale it.
    const word = sc.search || out.saved_title.split(/\s+/).find((w) => w.length > 2) || out.saved_title;
    await page.fill("#q", word);
    await page.click("#search");
    await page.waitForFunction((q) => document.getElementById("lib-status").textContent.includes(q), word);
    out.search_titles = await texts(page, "#recipes a.open");
    await row(out.saved_title).locator("a.open").click();
    await page.waitForFunction((t) => document.getElementById("v-title").textContent === t, out.saved_title);
    out.unscaled = await texts(page, "#v-ingredients li");
    await page.fill("#v-servings", String(sc.scale_to));
    await page.click("#scale");
    await page.waitForFunction((n) => new URL(location.href).searchParams.get("servings") === String(n), sc.scale_to);
    out.scaled = await texts(page, "#v-ingredients li");
    out.scaled_meta = await page.textContent("#v-meta");
    out.scaled_recipe_id = Number(new URL(page.url()).searchParams.get("recipe"));
    // the nutrition view is read after the recipe shows: wait for it, and the ratings, before the picture
    await page.waitForFunction(() => !/^Reading/.test(document.getElementById("v-nut-source").textContent));
    out.rating_view = await page.textContent("#v-ratings");
    await page.screenshot({ path: shot("kitchen-library.png"), fullPage: true });

    // 4. A shopping list from two ticked recipes.
    await page.fill("#q", "");
    await page.click("#search");
    await page.waitForFunction(() => !/matching/.test(document.getElementById("lib-status").textContent));
    out.shop_ids = [];
    for (const [title, servings] of sc.shop) {
      const r = row(title);
      await r.locator("input.pick").check();
      await r.locator("input.pick-servings").fill(String(servings));
      out.shop_ids.push(Number(await r.getAttribute("data-id")));
    }
    out.shop_order = await page.$$eval("#recipes li", (els) => els.filter((li) => li.querySelector(".pick").checked).map((li) => Number(li.dataset.id)));
    await page.click("#make-list");
    await page.waitForSelector("#shopping:not([hidden])");
    out.shopping = await page.$$eval("#s-aisles .aisle", (els) => els.map((a) => ({
      aisle: a.dataset.aisle, items: [...a.querySelectorAll("li .item")].map((i) => i.textContent) })));
    out.pantry = await texts(page, "#s-pantry li .item");
    out.shopping_for = await page.textContent("#s-for");
    out.list_id = Number(new URL(page.url()).searchParams.get("list"));
    // The list is saved: an item ticked here is still ticked after a reload, a second device on the same list
    // sees it, and this page sees what the second device ticks (it re-reads the list every few seconds).
    const item = (pg, i) => pg.locator("#s-aisles li input.got").nth(i);
    await item(page, 0).check();
    await page.waitForFunction(() => /^For .* 1 of \d+ ticked/.test(document.getElementById("s-for").textContent));
    await page.fill("#s-own", "dish soap");
    await page.click("#s-add");
    await page.waitForSelector("#shopping li[data-name='dish soap']");
    await page.reload({ waitUntil: "load" });
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForSelector("#shopping:not([hidden])");
    out.ticked_after_reload = await page.$$eval("#shopping li", (els) =>
      els.filter((li) => li.querySelector("input.got").checked).map((li) => li.querySelector(".item").textContent));
    out.own_after_reload = await texts(page, "#shopping li[data-name='dish soap'] .item");
    const other = watch(await context.newPage());
    await open(other, `/library?list=${out.list_id}`);
    await other.waitForSelector("#shopping:not([hidden])");
    out.ticked_on_other = await other.$$eval("#shopping li", (els) =>
      els.filter((li) => li.querySelector("input.got").checked).map((li) => li.querySelector(".item").textContent));
    await item(other, 1).check();
    await other.waitForFunction(() => / 2 of \d+ ticked/.test(document.getElementById("s-for").textContent));
    await other.close();
    await page.waitForFunction(() => / 2 of \d+ ticked/.test(document.getElementById("s-for").textContent), null, { timeout: 20000 });
    out.ticked_from_other = await page.$$eval("#shopping li", (els) =>
      els.filter((li) => li.querySelector("input.got").checked).map((li) => li.querySelector(".item").textContent));
    await page.locator("#shopping").screenshot({ path: shot("kitchen-shopping.png") });

    // 5. A meal plan through the form: three library recipes, two cooks, the kitchen.
    const p = sc.plan;
    await open(page, "/plan");
    await page.fill("#meal-title", p.title);
    // A plan has a date and a serving time in the past is refused, so the scenario's clock times move with the
    // clock: serving six hours from now (later if a cook's hours would then start before midnight), the cooks'
    // hours as far before it as in the scenario; the day is the one serving falls on.
    const two = (n) => String(n).padStart(2, "0");
    const mins = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
    const lead = Math.max(0, ...p.cooks.filter((c) => c.from).map((c) => mins(p.serve_at) - mins(c.from)));
    let when = new Date(Date.now() + 6 * 3600000);
    const clockNow = when.getHours() * 60 + when.getMinutes();
    if (clockNow < lead) when = new Date(when.getTime() + (lead - clockNow) * 60000);
    const shift = when.getHours() * 60 + when.getMinutes() - mins(p.serve_at);
    const moved = (hhmm) => { const m = mins(hhmm) + shift; return `${two(Math.floor(m / 60))}:${two(m % 60)}`; };
    out.plan_date = `${when.getFullYear()}-${two(when.getMonth() + 1)}-${two(when.getDate())}`;
    out.plan_serve_at = moved(p.serve_at);
    out.plan_cooks = p.cooks.map((c) => ({ ...c, from: c.from && moved(c.from), to: c.to && moved(c.to) }));
    await page.fill("#serve-date", out.plan_date);
    await page.fill("#serve-at", out.plan_serve_at);
    for (const t of p.dishes) {
      const title = t === "@generated" ? out.saved_title : t;
      await page.locator("#dish-picks li", { has: page.locator(".dish-title", { hasText: title }) }).first().locator("input.dish-pick").check();
    }
    for (let i = 0; i < p.cooks.length; i++) {
      if (i > 0) await page.click("#add-cook");
      const c = out.plan_cooks[i], n = i + 1;
      await page.fill(`#cook-name-${n}`, c.name);
      await page.selectOption(`#cook-skill-${n}`, String(c.skill));
      if (c.from) await page.fill(`#cook-from-${n}`, c.from);
      if (c.to) await page.fill(`#cook-to-${n}`, c.to);
    }
    await page.fill("#ovens", String(p.ovens));
    await page.fill("#burners", String(p.burners));
    await page.fill("#pans", String(p.pans));
    await page.click("#make-plan");
    await page.waitForFunction(() => !document.getElementById("plan-out").hidden || document.getElementById("plan-status").classList.contains("error"));
    out.plan_status = await page.textContent("#plan-status");
    if (out.plan_status) throw new Error("planning failed: " + out.plan_status);
    out.plan_id = Number(new URL(page.url()).searchParams.get("plan"));
    out.plan_summary = await page.textContent("#p-summary");
    out.gantt_bars = await page.$$eval("#gantt .bar[data-task]", (els) => els.map((e) => e.dataset.task));
    out.gantt_labels = await texts(page, "#gantt .g-label");
    out.cook_lists = await page.$$eval("#cook-lists .cook-list", (els) => els.map((s) => ({
      cook: s.dataset.cook, steps: s.querySelectorAll("li").length, link: s.querySelector("a.cook-link").getAttribute("href") })));
    await page.screenshot({ path: shot("kitchen-plan.png"), fullPage: true });

    // 5b. The same page's advanced view: the plan request as JSON, which follows the form, fills it, and is
    //     sent as is (with a key the form has no field for); a wrong field is refused by name.
    const pj = sc.plan_json;
    if (pj) {
      await open(page, "/plan");
      await page.click("#advanced summary");
      const shown = async () => JSON.parse(await page.inputValue("#plan-json"));
      const pick = (title) => page.locator("#dish-picks li", { has: page.locator(".dish-title", { hasText: title }) })
        .first();
      await page.fill("#meal-title", pj.title);
      await pick(pj.dishes[0][0]).locator("input.dish-pick").check();
      out.json_follows_form = await shown();
      const req = { title: pj.title, serve_at: pj.serve_at, recipes: [], cooks: pj.cooks, kitchen: pj.kitchen,
                    ...(pj.extra || {}) };
      for (const [title, servings] of pj.dishes) {
        req.recipes.push({ recipe_id: Number(await pick(title).getAttribute("data-id")), servings });
      }
      out.json_request = req;
      const bad = JSON.parse(JSON.stringify(req));
      bad.cooks[0].skill = 9;
      await page.fill("#plan-json", JSON.stringify(bad));
      await page.click("#plan-json-send");
      await page.waitForFunction(() => document.getElementById("json-status").classList.contains("error"));
      out.json_bad_status = await page.textContent("#json-status");
      await page.fill("#plan-json", "{\"title\": ");
      await page.click("#json-to-form");
      out.json_syntax_status = await page.textContent("#json-status");
      await page.fill("#plan-json", JSON.stringify(req, null, 2));
      await page.click("#json-to-form");
      out.json_fill_status = await page.textContent("#json-status");
      out.json_form = await page.evaluate(() => ({
        title: document.getElementById("meal-title").value, serve_at: document.getElementById("serve-at").value,
        start_after: document.getElementById("start-after").value,
        recipes: [...document.querySelectorAll(".dish-pick:checked")].map((x) => ({
          recipe_id: Number(x.value), servings: Number(x.closest("li").querySelector(".dish-servings").value) })),
        cooks: [...document.querySelectorAll("#cooks .cook")].map((r) => ({
          name: r.querySelector(".cook-name").value, skill: Number(r.querySelector(".cook-skill").value) })),
        kitchen: Object.fromEntries(["ovens", "burners", "pans"]
          .map((k) => [k, Number(document.getElementById(k).value)])),
      }));
      await page.click("#plan-json-send");
      await page.waitForFunction(() => !document.getElementById("plan-out").hidden
        || document.getElementById("json-status").classList.contains("error"));
      out.json_plan_status = await page.textContent("#json-status");
      if (out.json_plan_status) throw new Error("planning the JSON failed: " + out.json_plan_status);
      out.json_plan_id = Number(new URL(page.url()).searchParams.get("plan"));
      out.json_gantt_bars = await page.$$eval("#gantt .bar[data-task]", (els) => els.map((e) => e.dataset.task));
      await page.screenshot({ path: shot("kitchen-plan-json.png"), fullPage: true });
    }

    // 6. Cook mode on a phone: one step done online, the next offline (queued, sent once back online).
    const busy = out.cook_lists.find((c) => c.steps >= 2) || out.cook_lists.find((c) => c.steps >= 1);
    out.cook = busy.cook;
    const phone = watch(await context.newPage());
    await phone.setViewportSize(PHONE);
    await open(phone, busy.link);
    out.cook_view_visible = await phone.isVisible("#cook-view");
    const card = async () => ({ task: await phone.getAttribute("#now-card", "data-task"), text: await phone.textContent("#now-text"),
                                next: await phone.isVisible("#next-card") ? await phone.textContent("#next-text") : null });
    out.cook_before = await card();
    out.countdown = await phone.textContent("#countdown");
    out.preheat = (await phone.isVisible("#preheat")) ? await phone.textContent("#preheat") : null;
    await phone.screenshot({ path: shot("kitchen-cook.png"), fullPage: false });
    await phone.click("#done");
    await phone.waitForFunction((t) => document.getElementById("now-card").dataset.task !== t || document.getElementById("now-card").hidden, out.cook_before.task);
    await phone.waitForFunction(() => document.getElementById("net").dataset.pending === "0");
    out.cook_after = await card();
    out.schedule_done = await phone.$$eval("#schedule li.done", (els) => els.map((e) => e.dataset.task));
    out.net_after = await phone.textContent("#net");
    out.late_after = (await phone.isVisible("#c-late")) ? await phone.textContent("#c-late") : null;
    // A step that waits for another cook's step is locked until that cook marks theirs done on their own phone.
    out.locked_waits = (await phone.isVisible("#now-waits")) ? await phone.textContent("#now-waits") : null;
    out.locked_buttons = await phone.evaluate(() => [document.getElementById("start").disabled, document.getElementById("done").disabled]);
    out.unlocked_by = [];
    if (out.locked_waits) {
      const waited = await phone.evaluate((id) => {
        const p = JSON.parse(localStorage.getItem(`chefbot.cook.plan.${id}`));
        const byId = Object.fromEntries(p.tasks.map((t) => [t.id, t]));
        return byId[document.getElementById("now-card").dataset.task].after.map((a) => byId[a])
          .filter((t) => t.status !== "done").map((t) => ({ cook: t.cook, task: t.id }));
      }, out.plan_id);
      const other = watch(await context.newPage());
      await other.setViewportSize(PHONE);
      for (const w of waited) {
        await open(other, `/cook?plan=${out.plan_id}&cook=${encodeURIComponent(w.cook)}`);
        for (let i = 0; i < 20 && !out.unlocked_by.some((u) => u.task === w.task); i++) {
          const task = await other.getAttribute("#now-card", "data-task");
          await other.click("#done");
          await other.waitForFunction(() => document.getElementById("net").dataset.pending === "0");
          out.unlocked_by.push({ cook: w.cook, task });
        }
      }
      await other.close();
      await open(phone, busy.link);
      out.unlocked_card = await card();
    }
    out.unlocked_buttons = await phone.evaluate(() => [document.getElementById("start").disabled, document.getElementById("done").disabled]);
    if (!(await phone.isHidden("#now-card"))) {
      await context.setOffline(true);
      await phone.click("#done");
      await phone.waitForFunction(() => document.getElementById("net").dataset.pending === "1");
      out.offline_net = await phone.textContent("#net");
      out.offline_card = await card();
      out.offline_done = await phone.$$eval("#schedule li.done", (els) => els.map((e) => e.dataset.task));
      await phone.screenshot({ path: shot("kitchen-cook-offline.png"), fullPage: false });
      await context.setOffline(false);
      await phone.waitForFunction(() => document.getElementById("net").dataset.pending === "0");
      out.back_online_net = await phone.textContent("#net");
      out.stored_plan_done = await phone.evaluate((id) => JSON.parse(localStorage.getItem(`chefbot.cook.plan.${id}`)).tasks
        .filter((t) => t.status === "done").map((t) => t.id), out.plan_id);
    }
    await phone.close();

    // 7. A blind tasting: two answers, a vote, the reveal and the results table.
    const t = sc.tasting;
    await open(page, "/tasting");
    out.tasting_pairing = await page.textContent("#t-pairing");
    out.tasting_sides = [await page.inputValue("#a-model"), await page.inputValue("#a-temp"), await page.inputValue("#b-model"), await page.inputValue("#b-temp")];
    await page.fill("#t-ingredients", t.ingredients);
    await page.click("#make-pair");
    await page.waitForFunction(() => !document.getElementById("pair").hidden || document.getElementById("t-status").classList.contains("error"));
    out.tasting_status = await page.textContent("#t-status");
    out.answers = await texts(page, ".answer-text");
    out.answer_headings_before = await texts(page, ".answer h3");
    await page.check(`input[name=choice][value=${t.choice}]`);
    await page.fill("#rater", t.rater);
    await page.fill("#note", t.note);
    await page.check(`input[name=choice][value=${t.choice === "A" ? "B" : "A"}]`);  // first the other answer...
    await page.click("#vote");
    await page.waitForFunction(() => /^Vote saved|^Error/.test(document.getElementById("v-status").textContent));
    out.first_vote_status = await page.textContent("#v-status");
    out.answer_headings_voted = await texts(page, ".answer h3");  // a vote reveals nothing
    await page.check(`input[name=choice][value=${t.choice}]`);  // ...then a change of mind before the reveal
    await page.click("#vote");
    await page.waitForFunction(() => /^Vote changed|^Error/.test(document.getElementById("v-status").textContent));
    out.vote_status = await page.textContent("#v-status");
    await page.click("#reveal");
    await page.waitForFunction(() => /^Revealed|^Error/.test(document.getElementById("v-status").textContent));
    out.reveal_status = await page.textContent("#v-status");
    out.vote_disabled_after_reveal = await page.$eval("#vote", (b) => b.disabled);
    out.answer_headings_after = await texts(page, ".answer h3");
    await page.waitForSelector("#summary table");
    out.summary_caption = await page.textContent("#summary caption");
    out.summary_rows = await page.$$eval("#summary tr", (els) => els.map((r) => [...r.children].map((c) => c.textContent)));
    await page.screenshot({ path: shot("kitchen-tasting.png"), fullPage: true });

    // 8. Every page at a phone's width: nothing wider than the screen.
    await page.setViewportSize(PHONE);
    for (const path_ of ["/", "/library", `/plan?plan=${out.plan_id}`, busy.link, "/tasting"]) {
      await open(page, path_);
      out.overflow[path_] = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      out.nav[path_] = await page.$$eval("header nav a", (els) => els.map((a) => (a.getAttribute("aria-current") ? "*" : "") + a.textContent));
    }
    console.log(JSON.stringify(out));
  } catch (e) {
    // Say where it stopped: each open page's address and what its status lines said.
    for (const pg of context.pages()) {
      const said = await pg.$$eval("[role=status], [role=alert]", (els) => els.map((x) => `#${x.id}: ${x.textContent.trim()}`)).catch(() => []);
      e.message += `\n  on ${pg.url()}: ${said.filter((x) => !x.endsWith(": ")).join(" | ")}`;
    }
    if (errors.length) e.message += `\n  page errors: ${errors.join(" | ")}`;
    throw e;
  } finally {
    await context.close();
  }
}

main().catch((e) => { console.error("kitchen_check failed: " + (e && e.message || e) + "\n" + (e && e.stack || "")); process.exit(1); });
