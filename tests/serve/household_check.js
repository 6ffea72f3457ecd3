// Two people, one week (tests/serve/test_household_browser.py; issue 28's "Done when"): Ann on a desktop and Ben
// on a phone, each in a browser of their own (two profiles = two devices), logged in to one household.
//   Ann pastes two recipes, edits one (servings, a step, tags, a category), uploads its photo and rates it;
//   Ben finds it by tag and by search, with its thumbnail; Ann puts both on this week's calendar (two days'
//   dinners) and makes the week's list; both open the list, Ann ticks a line and Ben sees it after a reload, Ben
//   adds an item of his own and Ann's page shows it (its refresh); Ben cooks a dinner on the phone ("Cook this")
//   and taps a step done; Ben rates the recipe and writes a note; Ann sees the household's mean and Ben's note,
//   with no Edit on it (and the server refuses her edit).
// usage: node household_check.js SPEC.json   (household_scenario.json's fields: recipes: [text], edit: {title,
//   servings, step: [index, text], tags, category}, tag, search, day_indexes: [i, j] (days of this week),
//   own_item, ann_stars, ben_stars, note; and url, out_dir, timeout_ms, photo (a PNG file), ann/ben: [name,
//   password])  -> one JSON line: what the pages showed
// Screenshots in out_dir: household-login.png, household-calendar.png, household-list-phone.png,
// household-cook.png, household-recipe.png, household-library.png (bench/kitchen_screenshots.py keeps them).
"use strict";
const fs = require("fs");
const path = require("path");
const { launch } = require("./browser_launch");

const DESKTOP = { width: 1100, height: 900 };
const PHONE = { width: 390, height: 844 };

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const shot = (name) => path.join(spec.out_dir, name);
  const errors = [];
  const out = { page_errors: errors };
  const contexts = [];
  const device = async (who, viewport) => {
    const context = await launch(viewport);
    contexts.push(context);
    context.setDefaultTimeout(spec.timeout_ms || 60000);
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => errors.push(`${who} ${page.url()}: ${e}`));
    return page;
  };
  const open = async (page, p) => { await page.goto(spec.url + p); await page.waitForSelector("body[data-ready='1']"); };
  const signedIn = (page) => page.waitForFunction(() => $("login-summary").textContent.startsWith("Signed in"));
  const status = (page, id, re) => page.waitForFunction(([i, s]) => new RegExp(s).test($(i).textContent), [id, re.source]);
  const texts = (page, sel) => page.$$eval(sel, (es) => es.map((e) => e.textContent.trim()));
  const recipeView = async (page, id) => {
    await open(page, `/library?recipe=${id}`);
    await page.waitForFunction(() => !$("recipe-view").hidden);
    await signedIn(page);
  };
  // what a list shows: every line with its tick, aisles and pantry alike
  const listLines = (page) => page.$$eval("#shopping li", (lis) => lis.map((li) => ({
    text: li.querySelector(".item").textContent, checked: li.querySelector(".got").checked,
    own: li.textContent.includes("(yours)") })));

  async function login(page, [name, password], screenshot) {
    await open(page, "/library");
    await status(page, "lib-status", /401/);
    if (screenshot) await page.screenshot({ path: shot(screenshot), fullPage: true });
    await page.fill("#login-name", name);
    await page.fill("#login-password", password);
    await page.click("#login-form button[type=submit]");
    await signedIn(page);
    await open(page, "/library");
    await signedIn(page);
    return page.textContent("#login-summary");
  }

  try {
    const ann = await device("Ann", DESKTOP);
    const ben = await device("Ben", PHONE);
    out.ann_login = await login(ann, spec.ann, "household-login.png");
    out.ben_login = await login(ben, spec.ben);

    // 1. Ann pastes two recipes.
    out.ids = [];
    for (const text of spec.recipes) {
      await ann.click("#add-box summary");
      await ann.fill("#paste", text);
      await ann.click("#add");
      const title = text.split("\n")[0].replace(/^#\s*/, "");  // the status still names the previous one till then
      await ann.waitForFunction((t) => $("lib-status").textContent === `Saved "${t}".` || $("lib-status").classList.contains("error"), title);
      out.ids.push(Number(new URL(ann.url()).searchParams.get("recipe")));
      out.pasted = [...(out.pasted || []), { status: await ann.textContent("#lib-status"), servings: await ann.inputValue("#v-servings") }];
    }
    const [first, second] = out.ids;

    // 2. Ann edits the first: servings, a step, tags and a category.
    await recipeView(ann, first);
    await ann.click("#edit");
    await ann.fill("#e-title", spec.edit.title);
    await ann.fill("#e-servings", String(spec.edit.servings));
    const steps = (await ann.inputValue("#e-directions")).split("\n");
    steps[spec.edit.step[0]] = spec.edit.step[1];
    await ann.fill("#e-directions", steps.join("\n"));
    await ann.fill("#e-tags", spec.edit.tags);
    await ann.fill("#e-category", spec.edit.category);
    await ann.click("#e-save");
    await status(ann, "lib-status", /^Saved "|Error/);
    out.edit_status = await ann.textContent("#lib-status");
    out.edited = { title: await ann.textContent("#v-title"), meta: await ann.textContent("#v-meta"),
                   servings: await ann.inputValue("#v-servings"), directions: await texts(ann, "#v-directions li") };

    // 3. ... uploads its photo (the recipe view's form) and rates it.
    await ann.setInputFiles("#photo-file", spec.photo);
    await ann.click("#photo-upload");
    await status(ann, "lib-status", /^Photo saved|Error/);
    out.photo_status = await ann.textContent("#lib-status");
    await ann.waitForFunction(() => !$("v-photo-box").hidden && $("v-photo").complete && $("v-photo").naturalWidth > 0);
    out.photo = await ann.$eval("#v-photo", (img) => ({ alt: img.alt, width: img.naturalWidth }));
    await ann.waitForSelector("#v-ratings .star");
    await ann.click(`#v-ratings .star:nth-child(${spec.ann_stars})`);
    await ann.waitForFunction(() => /rated it|Error/.test(document.querySelector("#v-ratings [role=status]").textContent));
    out.ann_rating_status = await ann.textContent("#v-ratings [role=status]");

    // 4. Ben finds it on his phone by tag, then by search; the thumbnail is in the row.
    const found = async () => {
      await status(ben, "lib-status", /recipe|No recipe|Error/);  // the rows are in (replaced before the status)
      await ben.waitForFunction(() => [...document.querySelectorAll("#recipes img.thumb")].every((i) => i.complete));
      return ben.$$eval("#recipes li", (lis) => lis.map((li) => {
        const img = li.querySelector("img.thumb");
        return { title: li.querySelector(".open").textContent, thumb: !!img && img.complete && img.naturalWidth > 0 };
      }));
    };
    await open(ben, "/library");
    await ben.fill("#f-tag", spec.tag);
    await ben.click("#search");
    out.by_tag = await found();
    await ben.fill("#f-tag", "");
    await ben.fill("#q", spec.search);
    await ben.click("#search");
    out.by_search = await found();

    // 5. Ann puts both on this week's calendar (a dinner on each of two days) and makes the week's list.
    await open(ann, "/calendar");  // this week
    await signedIn(ann);
    const week = await ann.$$eval("#add-day option", (os) => os.map((o) => o.value));
    out.days = spec.day_indexes.map((i) => week[i]);
    for (const [id, day] of [[first, out.days[0]], [second, out.days[1]]]) {
      await ann.selectOption("#add-day", day);
      await ann.selectOption("#add-meal", "dinner");
      await ann.selectOption("#add-recipe", String(id));
      await ann.fill("#add-servings", "");
      await ann.click("#add-send");
      await ann.waitForFunction((d) => $("add-status").textContent.includes(`is on ${d}`) || $("add-status").classList.contains("error"), day);
    }
    await ann.waitForFunction((days) => days.every((d) => document.querySelectorAll(`#week-days li.day[data-date='${d}'] .entry`).length === 1), out.days);
    out.week_title = await ann.textContent("#week-title");
    out.week = await ann.$$eval("#week-days li.day", (lis) => lis.filter((li) => li.querySelector(".entry")).map((li) => ({
      date: li.dataset.date, heading: li.querySelector("h3").textContent,
      dinner: [...li.querySelectorAll(".meal[data-meal='dinner'] .entry")].map((e) => e.textContent.split(" · ")[0]),
      planner: !!li.querySelector("a.open-planner") })));
    await ann.screenshot({ path: shot("household-calendar.png"), fullPage: true });
    await ann.click("#make-list");
    await ann.waitForSelector("#week-list-link");
    out.list_status = await ann.textContent("#list-status");
    out.list_href = await ann.getAttribute("#week-list-link", "href");
    await ann.click("#week-list-link");
    await ann.waitForSelector("body[data-ready='1']");
    await ann.waitForFunction(() => !$("shopping").hidden);
    out.list_title = await ann.textContent("#s-h");
    out.ann_list = await listLines(ann);

    // 6. Ben opens the same list from the saved lists; Ann ticks a line, Ben's page shows it after a reload.
    const listId = out.list_href.split("list=")[1];
    await open(ben, "/library");
    await signedIn(ben);
    await ben.waitForSelector(`#saved-lists option[value='${listId}']`, { state: "attached" });
    await ben.selectOption("#saved-lists", listId);
    await ben.waitForFunction((t) => !$("shopping").hidden && $("s-h").textContent === t, out.list_title);
    out.ben_list = await listLines(ben);
    out.ticked_by_ann = out.ann_list[0].text;
    await ann.click("#shopping li .got"); // the first line, as a thumb would
    await ann.waitForFunction(() => /(^|\s)1 of \d+ ticked/.test($("s-for").textContent));
    await ben.reload();
    await ben.waitForSelector("body[data-ready='1']");
    await ben.waitForFunction(() => !$("shopping").hidden);
    out.ben_after_reload = (await listLines(ben)).filter((l) => l.checked).map((l) => l.text);
    out.ben_for = await ben.textContent("#s-for");
    //    Ben adds an item of his own; Ann's page shows it when it re-reads the list (every few seconds).
    await ben.fill("#s-own", spec.own_item);
    await ben.click("#s-add");
    await status(ben, "s-status", /^Added|Error/);
    out.ben_add_status = await ben.textContent("#s-status");
    await ben.screenshot({ path: shot("household-list-phone.png"), fullPage: true });
    await ann.waitForFunction((t) => [...document.querySelectorAll("#shopping .item")].some((i) => i.textContent === t), spec.own_item);
    out.ann_sees = await listLines(ann);

    // 7. Ben cooks the second dinner on his phone: "Cook this" on the recipe, a step tapped done.
    await recipeView(ben, second);
    out.cook_recipe = await ben.textContent("#v-title");
    await ben.click("#cook-this");
    await ben.waitForURL(/\/cook\?plan=\d+&cook=/);
    await ben.waitForSelector("body[data-ready='1']");
    out.cook_url = ben.url().slice(spec.url.length);
    out.cook_before = { now: await ben.textContent("#now-text"), progress: await ben.textContent("#c-progress") };
    await ben.click("#done");
    await ben.waitForFunction(() => $("net").dataset.pending === "0" && /^1 of /.test($("c-progress").textContent));
    out.cook_after = {
      now: await ben.textContent("#now-text"), progress: await ben.textContent("#c-progress"),
      done: await texts(ben, "#schedule li.done"),
    };
    out.cook_width = await ben.evaluate(() => document.documentElement.scrollWidth);
    await ben.screenshot({ path: shot("household-cook.png") });

    // 8. Ben rates the first recipe and writes a note.
    await recipeView(ben, first);
    await ben.waitForSelector("#v-ratings .star");
    await ben.click(`#v-ratings .star:nth-child(${spec.ben_stars})`);
    await ben.waitForFunction(() => /rated it|Error/.test(document.querySelector("#v-ratings [role=status]").textContent));
    out.ben_rating_status = await ben.textContent("#v-ratings [role=status]");
    await ben.fill("#v-ratings .note-text", spec.note);
    await ben.click("#v-ratings .note-form button[type=submit]");
    await ben.waitForFunction(() => /Note saved|Error/.test(document.querySelector("#v-ratings [role=status]").textContent));
    out.ben_note_status = await ben.textContent("#v-ratings [role=status]");

    // 9. Ann sees the household's mean and Ben's note, which she cannot edit (no button; the server says no).
    await recipeView(ann, first);
    await ann.waitForFunction(() => /^Household:/.test(document.querySelector("#v-ratings .rating-summary").textContent)
      && document.querySelector("#v-ratings .notes li[data-id]"));
    await ann.waitForFunction(() => /^(From the|No nutrition)/.test($("v-nut-source").textContent));
    out.ann_summary = await ann.textContent("#v-ratings .rating-summary");
    out.ann_notes = await ann.$$eval("#v-ratings .notes li[data-id]", (lis) => lis.map((li) => ({
      id: Number(li.dataset.id), by: li.querySelector(".note-by").textContent, text: li.querySelector(".note-body").textContent,
      buttons: li.querySelectorAll("button").length })));
    out.ann_edit_bens_note = await ann.evaluate(async (id) => {
      try { await api("PUT", `/api/notes/${id}`, { text: "Ann was here" }); return "saved"; }
      catch (e) { return e.message; }
    }, out.ann_notes[0].id);
    out.nutrition_source = await ann.textContent("#v-nut-source");
    await ann.screenshot({ path: shot("household-recipe.png"), fullPage: true });
    await open(ann, "/library");
    await ann.waitForFunction(() => [...document.querySelectorAll("#recipes img.thumb")].every((i) => i.complete));
    out.ann_library = await ann.$$eval("#recipes li", (lis) => lis.map((li) => ({
      title: li.querySelector(".open").textContent, thumb: !!li.querySelector("img.thumb"),
      rating: (li.querySelector(".rating") || { textContent: "" }).textContent.trim() })));
    await ann.screenshot({ path: shot("household-library.png") });
  } finally {
    for (const c of contexts) await c.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
