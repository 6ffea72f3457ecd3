// Debian's chromium through playwright-core, headless, in a throwaway profile (kitchen_check.js).
// launch(viewport) -> a persistent browser context whose close() also deletes the profile.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const os = require("os");
const path = require("path");

async function launch(viewport) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "chefbot-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
  });
  const close = context.close.bind(context);
  context.close = async () => { try { await close(); } finally { fs.rmSync(profile, { recursive: true, force: true }); } };
  return context;
}

module.exports = { launch };
