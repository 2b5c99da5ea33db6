#!/usr/bin/env node
// Real-browser passkeys: Debian's Chromium, headless, with a virtual authenticator from the
// DevTools protocol's WebAuthn domain (CTAP2, platform, resident keys, user verification) —
// the same ceremonies a phone or laptop authenticator runs. The Rust test
// (tests/e2e/browser.rs) starts the server, creates the user and pushes two authorization
// requests; this script plays the user:
//   1. signs in with the password on the first request (the login page offers the passkey
//      first: the pool prefers passkeys) and allows access;
//   2. opens the account page, adds a passkey named "Chromium";
//   3. forgets the session cookie and signs in to the second request with the passkey alone.
// It saves a screenshot of every page and prints where each flow ended as JSON.
//
// Usage: node passkey.mjs <config.json>
//   { "chromium": "/usr/bin/chromium", "screenshots": "/dir", "redirect_uri": "https://client.example/cb",
//     "account_url": "https://…/account", "password_url": "https://…/authorize?…", "passkey_url": "…",
//     "username": "…", "password": "…" }

import { readFileSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
mkdirSync(config.screenshots, { recursive: true });

const browser = await chromium.launch({ executablePath: config.chromium, headless: true, args: ['--no-sandbox'] });
const result = {};
try {
  // The server's test CA is not in Chromium's store; TLS itself is checked by the Rust tests.
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const devtools = await context.newCDPSession(page);
  await devtools.send('WebAuthn.enable');
  const { authenticatorId } = await devtools.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  const callbacks = [];
  await page.route(`${config.redirect_uri}**`, async (route) => {
    callbacks.push(route.request().url());
    await route.fulfill({ status: 200, contentType: 'text/plain', body: 'back at the client' });
  });
  const shot = (name) => page.screenshot({ path: `${config.screenshots}/passkey-${name}.png`, fullPage: true });
  const allow = async (name) => {
    await page.waitForSelector('button[value="approve"]');
    await shot(name);
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${config.redirect_uri}**`);
  };

  // 1. Password sign-in; the passkey is offered first.
  await page.goto(config.password_url);
  await shot('1-login');
  result.first_button = (await page.getByRole('button').first().textContent()).trim();
  await page.getByLabel('Username').fill(config.username);
  await page.getByLabel('Password', { exact: true }).fill(config.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await allow('2-consent');

  // 2. The account page: add a passkey.
  await page.goto(config.account_url);
  await shot('3-account-empty');
  await page.getByLabel('Passkey name').fill('Chromium');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.waitForSelector('[data-passkey-id]');
  await shot('4-account-with-passkey');
  result.listed = (await page.locator('[data-passkey-id] strong').allTextContents());
  const { credentials } = await devtools.send('WebAuthn.getCredentials', { authenticatorId });
  result.resident_credentials = credentials.filter((c) => c.isResidentCredential).length;

  // 3. No session any more: the passkey alone signs in.
  await context.clearCookies();
  await page.goto(config.passkey_url);
  await shot('5-login-again');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await allow('6-consent-after-passkey');
  result.callbacks = callbacks;
  await context.close();
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
