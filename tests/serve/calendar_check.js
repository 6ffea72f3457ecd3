// The meal calendar on a phone (tests/serve/test_calendar_browser.py): add two recipes to a day's dinner by the
// form, see them in the week, open that dinner in the planner (its form filled: the dishes ticked at their
// servings, the day and the title), then make the week's shopping list and follow its link.
// usage: node calendar_check.js SPEC.json   (url, week, day, dishes: [[recipe id, title, servings]], out_dir)
//   -> one JSON line: what the pages showed
"use strict";
const fs = require("fs");
const path = require("path");
const { launch } = require("./browser_launch");

async function main() {
  const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const context = await launch({ width: 390, height: 844 });
  context.setDefaultTimeout(spec.timeout_ms || 60000);
  const errors = [];
  const out = { page_errors: errors };
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => errors.push(String(e)));
    const open = async (p) => { await page.goto(spec.url + p); await page.waitForSelector("body[data-ready='1']"); };
    await open(`/calendar?week=${spec.week}`);
    out.nav = await page.$$eval("nav.pages a", (as) => as.map((a) => a.textContent));
    out.week_title = await page.textContent("#week-title");
    for (const [id, title, servings] of spec.dishes) {
      await page.selectOption("#add-day", spec.day);
      await page.selectOption("#add-meal", "dinner");
      await page.selectOption("#add-recipe", String(id));
      await page.fill("#add-servings", String(servings));
      await page.click("#add-send");
      await page.waitForFunction((t) => document.getElementById("add-status").textContent.startsWith(t), title);
    }
    const day = `#week-days li.day[data-date='${spec.day}']`;
    await page.waitForFunction((sel) => document.querySelectorAll(sel + " .entry").length === 2, day);
    out.day_entries = await page.$$eval(`${day} .entry`, (es) => es.map((e) => e.textContent));
    out.page_width = await page.evaluate(() => document.documentElement.scrollWidth);
    await page.screenshot({ path: path.join(spec.out_dir, "calendar-week.png"), fullPage: true });
    await page.click(`${day} a.open-planner`);
    await page.waitForSelector("body[data-ready='1']");
    await page.waitForFunction(() => document.getElementById("plan-status").textContent.includes("from the calendar"));
    out.planner_url = page.url();
    out.planner_status = await page.textContent("#plan-status");
    out.planner_title = await page.inputValue("#meal-title");
    out.planner_date = await page.inputValue("#serve-date");
    out.planner_dishes = await page.$$eval("#dish-picks li", (lis) => lis
      .filter((li) => li.querySelector(".dish-pick").checked)
      .map((li) => [Number(li.dataset.id), Number(li.querySelector(".dish-servings").value)]));
    await open(`/calendar?week=${spec.week}`);
    await page.click("#make-list");
    await page.waitForSelector("#week-list-link");
    out.list_href = await page.getAttribute("#week-list-link", "href");
    out.list_status = await page.textContent("#list-status");
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
