// Debian's Chromium, headless, driven by playwright-core; and the small helpers
// the scenarios share (bounded waits, screenshots).
//
// The project never downloads a browser build: Chromium comes from Debian's
// `chromium` package (scripts/e2e installs it).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

export const executablePath = process.env.HYPERSTATE_E2E_CHROMIUM || '/usr/bin/chromium';

/** Where each scenario's screenshots go (not committed). */
export const screenshotDir =
  process.env.HYPERSTATE_E2E_SCREENSHOTS || resolve(here, '..', '..', 'target', 'e2e-screenshots');

// Without the background-networking flags Chromium keeps dialling Google's hosts,
// which this machine's closed network refuses.
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** How long a wait for something the person should see may take. */
export const WAIT_MS = 15_000;

/**
 * Why the browser cannot run here, or false when it can. Under CI a missing
 * browser is a failure (the caller throws); locally the suite skips loudly.
 */
export function browserMissing() {
  if (existsSync(executablePath)) return false;
  const why = `Chromium not found at ${executablePath} (install Debian's chromium package; scripts/e2e does when root)`;
  if (process.env.CI === 'true') throw new Error(`${why}, and CI=true`);
  console.warn(`\n!!! SKIPPING the end-to-end tests: ${why}\n`);
  return why;
}

/**
 * Launches Chromium. playwright-core starts it with a fresh, empty temporary
 * user-data-dir (deleted on close), and every `browser.newContext()` is a
 * separate browser profile in memory: its own cookies, so its own hyperstate
 * browser id.
 */
export async function launch() {
  return chromium.launch({
    executablePath,
    headless: true,
    args: ARGS,
    timeout: 60_000,
  });
}

/**
 * A new tab in `context` that records script errors (`page.errors`) and counts
 * the documents it loaded (`page.documentLoads`): a full reload or navigation
 * loads one, an htmx swap does not. (Playwright's `framenavigated` would also
 * count same-document history updates, which htmx 4 makes on its first request.)
 */
export async function newTab(context) {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.errors = [];
  page.on('pageerror', (err) => page.errors.push(err));
  page.documentLoads = 0;
  page.on('load', () => {
    page.documentLoads += 1;
  });
  return page;
}

/**
 * Retries `check` (an async function that throws an assertion error) until it
 * passes or `timeout` ms have gone by; then rethrows its last error. For
 * assertions on what the page shows, which htmx updates asynchronously.
 */
export async function eventually(check, { timeout = WAIT_MS, interval = 50 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((ok) => setTimeout(ok, interval));
    }
  }
}

/** The texts the person sees in the cart list, in order. */
export async function cartItems(page) {
  return page.locator('#cart-items li').allInnerTexts();
}

/** Waits until the cart shows exactly `items` and the matching count line. */
export async function expectCart(page, items) {
  const count = `${items.length} item${items.length === 1 ? '' : 's'}`;
  await eventually(async () => {
    assert.deepEqual(await cartItems(page), items, 'the items the cart shows');
    assert.equal((await page.locator('#cart-count').innerText()).trim(), count, 'the cart count line');
  });
}

/** Asserts the page's error box is hidden (no failed request shown). */
export async function expectNoError(page) {
  const box = page.locator('#error');
  assert.equal(await box.isVisible(), false, `the error box is shown: ${await box.textContent()}`);
}

/** Types `name` into the item field and clicks Add, as a person would. */
export async function addItem(page, name) {
  await page.locator('#item-name').fill(name);
  await page.getByRole('button', { name: 'Add', exact: true }).click();
}

/**
 * Adds `name` and waits until the cart shows `items` and the form was emptied
 * for the next item (the demo empties it after a successful add).
 */
export async function addAndSee(page, name, items) {
  await addItem(page, name);
  await expectCart(page, items);
  await eventually(async () => assert.equal(await page.locator('#item-name').inputValue(), '', 'the item field was emptied'));
}

/**
 * Runs `scenario(context)` in a fresh browser context (a separate profile: its
 * own cookies), then closes it. If the scenario fails, every open tab is
 * screenshot as `<name>-FAILED-<n>.png` first, to show what the test saw.
 */
export async function withContext(browser, name, scenario) {
  const context = await browser.newContext();
  try {
    return await scenario(context);
  } catch (err) {
    let n = 0;
    for (const page of context.pages()) {
      n += 1;
      await screenshot(page, `${name}-FAILED-${n}`).catch(() => {});
    }
    throw err;
  } finally {
    await context.close();
  }
}

/** Saves a full-page screenshot as `<name>.png` in the screenshot folder. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
