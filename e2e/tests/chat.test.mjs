// The chat room (room scope) on htmx 2.x and 4.x: two browsers, live over SSE.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';

import { eventually, newTab, screenshot, withContext } from '../lib/browser.mjs';
import { describeOnDemo } from '../lib/suite.mjs';

async function messages(tab) {
  return tab.locator('#messages li').allInnerTexts();
}

async function expectPresence(tab, n) {
  await eventually(async () => {
    assert.equal((await tab.locator('#presence').innerText()).trim(), String(n), 'attached count');
  });
}

describeOnDemo('chat room (room scope)', (suite, version, query) => {
  test(`htmx ${version}: a member's message reaches another browser live; the public may not post`, async () => {
    const room = `e2e-${version}-${randomUUID().slice(0, 8)}`;
    const url = suite.demo.url(`/rooms/${room}${query}`);
    await withContext(suite.browser, `chat-htmx${version}-alice`, async (aliceContext) => {
      await withContext(suite.browser, `chat-htmx${version}-bob`, async (bobContext) => {
        const alice = await newTab(aliceContext);
        await alice.goto(url);
        const bob = await newTab(bobContext);
        await bob.goto(url);

        // Both attached: the live count says so in both browsers.
        await expectPresence(alice, 2);
        await expectPresence(bob, 2);

        // Alice joins (the form turns into the message form) and posts.
        await alice.locator('#composer button').click();
        await alice.locator('#text').waitFor();
        await alice.locator('#text').fill('hello from alice');
        await alice.locator('#text').press('Enter');

        // The message arrives over SSE in both browsers, without a reload.
        await eventually(async () => assert.deepEqual(await messages(bob), ['hello from alice']));
        await eventually(async () => assert.deepEqual(await messages(alice), ['hello from alice']));
        assert.equal(bob.documentLoads, 1, 'bob saw it without reloading');
        await screenshot(bob, `chat-htmx${version}-bob-sees-alice`);

        // Bob has not joined: no message form, and posting anyway is a 403.
        assert.equal(await bob.locator('#text').count(), 0);
        const denied = await bob.evaluate(async (path) => {
          const response = await fetch(path, {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
            body: 'text=sneaky',
          });
          return { status: response.status, body: await response.text() };
        }, `/rooms/${room}/messages`);
        assert.equal(denied.status, 403);
        assert.match(denied.body, /may not write/);
        assert.deepEqual(await messages(alice), ['hello from alice']);

        // Bob leaves: Alice's count drops.
        await bob.close();
        await expectPresence(alice, 1);
        assert.deepEqual(alice.errors, [], 'no script errors');
      });
    });
  });
});
