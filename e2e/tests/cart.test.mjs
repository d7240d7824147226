// Scenarios 1 and 4: the cart (page scope) on htmx 2.x (the default) and on
// htmx 4.x (`?htmx=4`), clicked through as a person would.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  addAndSee,
  addItem,
  eventually,
  expectCart,
  expectNoError,
  newTab,
  screenshot,
  withContext,
} from '../lib/browser.mjs';
import { describeOnDemo } from '../lib/suite.mjs';

describeOnDemo('cart (page scope)', (suite, version, query) => {
  test(`htmx ${version}: three items by clicking, a second tab has its own cart, reload empties it`, async () => {
    await withContext(suite.browser, `cart-htmx${version}`, async (context) => {
      const tab = await newTab(context);
      await tab.goto(suite.demo.url(`/cart${query}`));

      // The page runs the htmx generation asked for.
      assert.equal(await tab.locator('.htmx-version').innerText(), `htmx ${version}`);
      const loaded = await tab.evaluate(() => window.htmx && window.htmx.version);
      assert.match(String(loaded), new RegExp(`^${version}\\.`), 'window.htmx.version');
      await expectCart(tab, []);

      // A marker on window lives only as long as this document: if adding an
      // item reloaded the page, it would be gone.
      await tab.evaluate(() => {
        window.__e2eMarker = 'same document';
      });
      const loadsBefore = tab.documentLoads;

      const items = ['apples', 'bread', 'cheese'];
      for (let i = 0; i < items.length; i += 1) {
        await addAndSee(tab, items[i], items.slice(0, i + 1));
      }
      await expectNoError(tab);
      assert.equal(await tab.evaluate(() => window.__e2eMarker), 'same document', 'no full reload happened');
      assert.equal(tab.documentLoads, loadsBefore, 'no new document was loaded');
      await screenshot(tab, `cart-htmx${version}-three-items`);

      // A name the server refuses: the message shows in the error box and
      // the cart is left as it was.
      await addItem(tab, 'x'.repeat(101));
      await eventually(async () => {
        assert.equal(await tab.locator('#error').isVisible(), true, 'the error box is shown');
        assert.match(await tab.locator('#error').innerText(), /at most 100 characters/);
      });
      await expectCart(tab, items);
      // The next good request hides it again.
      await addAndSee(tab, 'dates', [...items, 'dates']);
      await expectNoError(tab);

      // A second tab of the same browser (same cookies): its own, empty cart.
      const other = await newTab(context);
      await other.goto(suite.demo.url(`/cart${query}`));
      await expectCart(other, []);
      await addAndSee(other, 'eggs', ['eggs']);
      await expectNoError(other);
      await other.getByRole('button', { name: 'Empty the cart' }).click();
      await expectCart(other, []);
      await screenshot(other, `cart-htmx${version}-second-tab`);

      // The first tab still shows (and the server still holds) its own items:
      // one more add answers with the whole list.
      await addAndSee(tab, 'figs', [...items, 'dates', 'figs']);

      // Reload: a new page, an empty cart.
      await tab.reload();
      await expectCart(tab, []);
      assert.equal(await tab.evaluate(() => window.__e2eMarker), undefined, 'the reload made a new document');
      assert.equal(tab.documentLoads, loadsBefore + 1, 'the reload is counted as one document load');
      await expectNoError(tab);
      await addAndSee(tab, 'grapes', ['grapes']);
      await screenshot(tab, `cart-htmx${version}-after-reload`);

      assert.deepEqual([...tab.errors, ...other.errors], [], 'script errors on the page');
    });
  });
});
