// One describe block per scenario file: a demo process and a browser shared by
// its tests (started before them, stopped after), and the tests defined once
// per htmx generation. Skipped as a whole when Chromium is missing.

import { after, before, describe } from 'node:test';

import { browserMissing, launch } from './browser.mjs';
import { Demo } from './demo.mjs';

/**
 * `defineTests(suite, version, query)` is called for htmx '2' and '4';
 * `suite.demo` and `suite.browser` exist once the tests run, and `query` is
 * what a URL needs to ask the demo for that htmx generation.
 */
export function describeOnDemo(name, defineTests) {
  describe(name, { skip: browserMissing() }, () => {
    const suite = { demo: undefined, browser: undefined };

    before(async () => {
      suite.demo = await Demo.start();
      suite.browser = await launch();
    });

    after(async () => {
      await suite.browser?.close();
      await suite.demo?.stop();
    });

    for (const version of ['2', '4']) {
      defineTests(suite, version, version === '2' ? '' : '?htmx=4');
    }
  });
}
