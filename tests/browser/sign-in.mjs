#!/usr/bin/env node
// Real-browser check of the sign-in pages: Debian's Chromium, headless, driven by
// playwright-core. The Rust test (tests/e2e/browser.rs) starts the server, prepares the users,
// pushes the authorization requests and passes their URLs here; this script only plays the
// user, saves a screenshot of every page it sees, and reports where each flow ended.
//
// Usage: node sign-in.mjs <config.json>
//   { "chromium": "/usr/bin/chromium", "screenshots": "/path/dir", "redirect_uri": "https://client.example/cb",
//     "flows": [ { "name": "…", "url": "https://…/authorize?…", "username": "…", "password": "…",
//                  "new_password": "…" (only when the password has expired) } ] }
//
// The server's test CA is not in Chromium's store, so certificate errors are ignored for this
// throw-away profile; the Rust side checks TLS itself. The redirect to the client is answered
// here (the client's host does not exist), which also records the callback URL.

import { readFileSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
mkdirSync(config.screenshots, { recursive: true });

const browser = await chromium.launch({ executablePath: config.chromium, headless: true, args: ['--no-sandbox'] });
const results = {};
try {
  for (const flow of config.flows) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    let callback = null;
    await page.route(`${config.redirect_uri}**`, async (route) => {
      callback = route.request().url();
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the client' });
    });
    const shot = async (step) => page.screenshot({ path: `${config.screenshots}/${flow.name}-${step}.png`, fullPage: true });
    await page.goto(flow.url);
    await shot('1-login');
    const heading = await page.locator('h1').first().textContent();
    // Labels are tied to their inputs: fill by label, as a screen reader user would find them.
    await page.getByLabel('Username').fill(flow.username);
    await page.getByLabel('Password', { exact: true }).fill(flow.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    if (flow.new_password) {
      await page.waitForSelector('#new_password');
      await shot('2-change-password');
      await page.getByLabel('New password', { exact: true }).fill(flow.new_password);
      await page.getByLabel('New password again').fill(flow.new_password);
      await page.getByRole('button', { name: 'Change password' }).click();
    }
    await page.waitForSelector('button[value="approve"]');
    await shot('3-consent');
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${config.redirect_uri}**`);
    results[flow.name] = { heading, callback };
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
