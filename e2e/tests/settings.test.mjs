// Session scope in a real browser: /settings across server restarts.
//
// The theme (policy Session) sticks for the browser across tabs and restarts;
// the draft (policy Reconnect) belongs to the tab that wrote it: it is still
// there after the server was killed (SIGKILL: only acknowledged, durable writes
// can survive that) while the tab stays open, and a fresh visit starts blank.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { eventually, expectNoError, newTab, screenshot, withContext } from '../lib/browser.mjs';
import { describeOnDemo } from '../lib/suite.mjs';

const text = async (tab, selector) => (await tab.locator(selector).innerText()).trim();

async function expectTheme(tab, theme) {
  await eventually(async () => assert.equal(await text(tab, '#theme-value'), theme, 'the theme shown'));
}

async function expectDraft(tab, draft) {
  await eventually(async () => {
    const shown = await tab.locator('#draft-value[data-empty]').count() ? '' : await text(tab, '#draft-value');
    assert.equal(shown, draft, 'the saved draft shown');
  });
}

describeOnDemo('settings: session state', (suite, version, query) => {
  test(`htmx ${version}: theme and draft survive a crash of the server`, async () => {
    await withContext(suite.browser, `settings-htmx${version}`, async (context) => {
      const tab = await newTab(context);
      await tab.goto(suite.demo.url(`/settings${query}`));
      await expectTheme(tab, 'light');
      await expectDraft(tab, '');

      await tab.locator('#theme-input').fill(`dark-${version}`);
      await tab.getByRole('button', { name: 'Save theme' }).click();
      await expectTheme(tab, `dark-${version}`);
      await tab.locator('#draft-input').fill('Dear Sir,');
      await tab.getByRole('button', { name: 'Save draft' }).click();
      await expectDraft(tab, 'Dear Sir,');
      await expectNoError(tab);
      const loadsBefore = tab.documentLoads;

      // A crash, not a graceful stop: what was acknowledged must be on disk.
      await suite.demo.restart({ signal: 'SIGKILL' });

      // The same tab, same document: its draft comes back from the server.
      await tab.getByRole('button', { name: "Show this tab's saved draft" }).click();
      await expectDraft(tab, 'Dear Sir,');
      await expectNoError(tab);
      assert.equal(tab.documentLoads, loadsBefore, 'no new document was loaded');
      await screenshot(tab, `settings-htmx${version}-same-tab-after-crash`);

      // A new tab of the same browser: the theme, but a blank draft.
      const other = await newTab(context);
      await other.goto(suite.demo.url(`/settings${query}`));
      await expectTheme(other, `dark-${version}`);
      await expectDraft(other, '');
      assert.equal(await other.locator('#draft-input').inputValue(), '', 'the draft field starts blank');
      await screenshot(other, `settings-htmx${version}-new-tab`);

      // Another browser (a separate profile, its own cookie) sees none of it.
      await withContext(suite.browser, `settings-htmx${version}-stranger`, async (strangers) => {
        const stranger = await newTab(strangers);
        await stranger.goto(suite.demo.url(`/settings${query}`));
        await expectTheme(stranger, 'light');
      });
      assert.deepEqual([...tab.errors, ...other.errors], [], 'script errors on the page');
    });
  });
});
