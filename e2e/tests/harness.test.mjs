// The harness itself: the server starts and is ready on loopback, the CLI reaches the same
// database, the API answers the issued key, and Chromium opens a page of it and saves a
// screenshot. Independent of the dashboard, so it tells a broken harness from a broken page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';

import { startRoster, launchBrowser, withPage, screenshot, axeViolations } from '../harness.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('harness');
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

test('the server is ready on loopback and the CLI shares its database', async () => {
    assert.match(roster.base, /^http:\/\/127\.0\.0\.1:\d+$/);
    const accounts = await roster.cliJson('accounts', 'show', roster.sid);
    assert.equal(accounts.sid ?? accounts.account_sid ?? accounts.id, roster.sid);
    const listed = await roster.api('GET', '/users');
    assert.equal(listed.status, 200, listed.text);
    const refused = await roster.api('GET', '/users', { token: '0'.repeat(64) });
    assert.equal(refused.status, 401, refused.text);
});

test('Chromium opens /readyz and saves a screenshot', async () => {
    await withPage(browser, 'harness-readyz', async (page) => {
        const response = await page.goto(roster.url('/readyz'));
        assert.equal(response.status(), 200);
        const file = await screenshot(page, 'harness-readyz');
        assert.ok(existsSync(file) && statSync(file).size > 0, `${file} is empty`);
    });
});

test('axe-core reports a known serious violation', async () => {
    await withPage(browser, 'harness-axe', async (page) => {
        // Served by roster's origin so the check runs as it does on the dashboard's pages.
        await page.goto(roster.url('/readyz'));
        await page.setContent('<!doctype html><html lang="en"><title>t</title><main>'
            + '<input type="text" name="unlabelled"><img src="/nothing.png"></main></html>');
        const ids = (await axeViolations(page, 'harness-axe')).map((v) => v.id).sort();
        assert.deepEqual(ids, ['image-alt', 'label']);
    });
});
