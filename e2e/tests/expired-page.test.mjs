// Scenario 5: an open tab across a server restart, and a tab whose page has
// expired. A graceful restart keeps the tab's page (the memory store's snapshot,
// in the data directory). An expired or unknown page id: documented behaviour
// (crates/hyperstate-axum/src/config.rs, `ExpiredPage::Empty`, the demo's
// setting): the request carries on with an empty page, as after a refresh; no
// error and no reload.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import {
  addAndSee,
  expectCart,
  expectNoError,
  newTab,
  screenshot,
  withContext,
} from '../lib/browser.mjs';
import { describeOnDemo } from '../lib/suite.mjs';

/**
 * A well-formed page id (30 URL-safe base64 characters: 16 random bytes and the
 * 6-byte big-endian millisecond time it claims to have been issued at), as the
 * server would have issued it `ageMs` ago.
 */
function pageIdIssuedAgo(ageMs) {
  const bytes = Buffer.alloc(22);
  randomBytes(16).copy(bytes, 0);
  bytes.writeUIntBE(Date.now() - ageMs, 16, 6);
  const id = bytes.toString('base64url');
  assert.equal(id.length, 30);
  return id;
}

const pageIdOf = (tab) => tab.locator('meta[name="hyperstate-page-id"]').getAttribute('content');

describeOnDemo('unknown or expired page id', (suite, version, query) => {
  test(`htmx ${version}: the server restarts under an open tab; the cart is kept`, async () => {
    await withContext(suite.browser, `expired-page-htmx${version}-after-restart`, async (context) => {
      const tab = await newTab(context);
      await tab.goto(suite.demo.url(`/cart${query}`));
      await addAndSee(tab, 'apples', ['apples']);
      await addAndSee(tab, 'bread', ['apples', 'bread']);
      await tab.evaluate(() => {
        window.__e2eMarker = 'same document';
      });
      const loadsBefore = tab.documentLoads;

      // A graceful restart (SIGTERM) snapshots page state and loads it back.
      await suite.demo.restart();

      await addAndSee(tab, 'after restart', ['apples', 'bread', 'after restart']);
      await expectNoError(tab);
      assert.equal(await tab.evaluate(() => window.__e2eMarker), 'same document', 'no reload happened');
      assert.equal(tab.documentLoads, loadsBefore, 'no new document was loaded');
      await addAndSee(tab, 'and one more', ['apples', 'bread', 'after restart', 'and one more']);
      await expectNoError(tab);
      assert.deepEqual(tab.errors, [], 'script errors on the page');
      await screenshot(tab, `expired-page-htmx${version}-after-restart`);
    });
  });

  test(`htmx ${version}: a page id issued longer ago than the page TTL acts as an empty page`, async () => {
    await withContext(suite.browser, `expired-page-htmx${version}-old-id`, async (context) => {
      const tab = await newTab(context);
      // The document arrives with a forged id, issued 2 h ago (the demo's page
      // TTL is the default 1 h) and never written: what a tab left open past
      // its TTL sends. It must be in the document before the injected script
      // reads it, so it is swapped in on the way.
      const forged = pageIdIssuedAgo(2 * 60 * 60 * 1000);
      await tab.route(
        (url) => url.pathname === '/cart',
        async (route) => {
          if (route.request().resourceType() !== 'document') return route.continue();
          const response = await route.fetch();
          const html = await response.text();
          const tampered = html.replace(/(name="hyperstate-page-id" content=")[^"]*"/, `$1${forged}"`);
          assert.notEqual(tampered, html, 'the document carries a page id to replace');
          return route.fulfill({ response, body: tampered });
        },
      );
      await tab.goto(suite.demo.url(`/cart${query}`));
      assert.equal(await pageIdOf(tab), forged);
      await expectCart(tab, []);

      await addAndSee(tab, 'kiwi', ['kiwi']);
      await expectNoError(tab);
      await addAndSee(tab, 'lime', ['kiwi', 'lime']);
      await expectNoError(tab);
      assert.deepEqual(tab.errors, [], 'script errors on the page');
      await screenshot(tab, `expired-page-htmx${version}-old-id`);
    });
  });
});
