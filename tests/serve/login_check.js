// The login form on a phone (tests/serve/test_people.py): a kitchen with accounts refuses the library page
// and opens the login form; a wrong password is said; logged in, the library loads, a change made by the page
// carries the CSRF token, the session cookie is invisible to scripts (HttpOnly); the recipe's page rates it and keeps a
// note as the signed-in person; logged out, the page is refused.
// usage: node login_check.js URL NAME PASSWORD SHOT.png   -> one JSON line: what the page showed
"use strict";
const { launch } = require("./browser_launch");

async function main() {
  const [url, name, password, shot] = process.argv.slice(2);
  const context = await launch({ width: 390, height: 844 });
  context.setDefaultTimeout(30000);
  const errors = [];
  const out = { page_errors: errors };
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on("pageerror", (e) => errors.push(String(e)));
    const open = async (p) => { await page.goto(url + p); await page.waitForSelector("body[data-ready='1']"); };
    await open("/library");
    await page.waitForFunction(() => document.getElementById("lib-status").textContent.includes("401"));
    out.refused = await page.textContent("#lib-status");
    out.login_open = await page.$eval("#login-box", (d) => d.open);
    await page.fill("#login-name", name);
    await page.fill("#login-password", "not the password");
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => document.getElementById("login-status").textContent.includes("401"));
    out.wrong = await page.textContent("#login-status");
    await page.fill("#login-password", password);
    await page.click("#login-form button[type=submit]");
    await page.waitForFunction(() => document.getElementById("login-summary").textContent.startsWith("Signed in"));
    out.summary = await page.textContent("#login-summary");
    await open("/library");
    await page.waitForFunction(() => /recipe|empty|no recipe/i.test(document.getElementById("lib-status").textContent)
      || document.getElementById("lib-status").textContent === "");
    out.after_login = await page.textContent("#lib-status");
    await page.waitForFunction(() => document.getElementById("login-summary").textContent.startsWith("Signed in"));
    const saved = await page.evaluate(async () => api("POST", "/api/recipes",
      { title: "Phone toast", ingredients: ["1 slice bread"], directions: ["Toast it."] }));
    out.saved = saved.title;
    out.cookie_seen_by_script = await page.evaluate(() => document.cookie);
    // The recipe's own page: rate it 4 stars and keep a note (ratings.js; both the signed-in person's).
    await page.goto(url + `/library/${saved.id}`);  // server-rendered: no data-ready, ratings.js fills the box
    await page.waitForFunction(() => document.getElementById("login-summary").textContent.startsWith("Signed in"));
    await page.waitForSelector(".ratings .star");
    await page.click(".ratings .star:nth-child(4)");
    await page.waitForFunction(() => /rated it|Error|403/.test(document.querySelector(".ratings [role=status]").textContent));
    out.rating_status = await page.textContent(".ratings [role=status]");
    out.rating_summary = await page.textContent(".ratings .rating-summary");
    out.stars_on = await page.$$eval(".ratings .star.on", (els) => els.length);
    await page.fill(".ratings .note-text", "less butter next time");
    await page.click(".ratings .note-form button[type=submit]");
    await page.waitForFunction(() => /Note saved|Error|403/.test(document.querySelector(".ratings [role=status]").textContent));
    out.notes = await page.$$eval(".ratings .notes li", (els) => els.map((li) => li.textContent));
    await page.screenshot({ path: shot, fullPage: true });
    await page.click("#login-box summary");
    await page.click("#logout");
    await page.waitForFunction(() => document.getElementById("login-summary").textContent === "Log in");
    await open("/library");
    await page.waitForFunction(() => document.getElementById("lib-status").textContent.includes("401"));
    out.after_logout = await page.textContent("#lib-status");
  } finally {
    await context.close();
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
