// API settings: the account's sid, region and base URL; a key created with its token shown
// once (and working against the API); a key revoked.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, launchBrowser, withPage, signIn, screenshot, eventually } from '../harness.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('settings');
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

/// The `<dd>` after the `<dt>` with this text.
function described(page, term) {
    return page.locator('dl dt').filter({ hasText: new RegExp(`^\\s*${term}\\s*$`) })
        .locator('xpath=following-sibling::dd[1]');
}

test('settings show the account, and a created key works until it is revoked', async () => {
    await withPage(browser, 'settings', async (page) => {
        await signIn(page, roster);
        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'API settings', exact: true }).click();
        await page.waitForURL((url) => url.pathname === '/settings');
        await page.getByRole('heading', { level: 1, name: 'API settings', exact: true }).waitFor();

        assert.equal((await described(page, 'Account SID').innerText()).trim(), roster.sid);
        assert.equal((await described(page, 'Region').innerText()).trim(), 'local');
        // Where a client reaches this server's API, as the browser reached it.
        assert.ok((await described(page, 'Base URL').innerText()).includes(new URL(roster.base).host),
            `Base URL does not name ${roster.base}`);
        await page.locator(`#keys tr[data-key-id="${roster.key}"]`).waitFor();
        assert.ok(!(await page.content()).includes(roster.token), 'the settings page shows the sign-in token');

        await page.getByRole('button', { name: 'Create key', exact: true }).click();
        const token = (await page.locator('#new-token').innerText()).trim();
        const key = (await page.locator('#new-key').innerText()).trim();
        assert.match(token, /^[0-9a-f]{64}$/);
        assert.match(key, /^[0-9a-f]{40}$/);
        assert.notEqual(key, roster.key);
        await page.locator(`#keys tr[data-key-id="${key}"]`).waitFor();
        await screenshot(page, 'settings-new-key');

        const works = await roster.api('GET', '/users', { key, token });
        assert.equal(works.status, 200, works.text);

        // Shown once: not on the next visit. (Not a reload: the token is the answer to the
        // form's POST, and reloading that sends the form again, making another key.)
        await page.goto(roster.url('/settings'));
        await page.getByRole('heading', { level: 1, name: 'API settings', exact: true }).waitFor();
        assert.equal(await page.locator('#new-token').count(), 0, 'the token is shown again');
        assert.ok(!(await page.content()).includes(token), 'the token is still in the page');

        await page.locator(`#keys tr[data-key-id="${key}"]`)
            .getByRole('button', { name: `Revoke ${key}`, exact: true }).click();
        await page.waitForLoadState();
        await eventually(async () => (await roster.api('GET', '/users', { key, token })).status === 401, {
            what: 'the revoked key to be refused', timeoutMs: 5_000,
        });
        const row = page.locator(`#keys tr[data-key-id="${key}"]`);
        assert.ok(
            (await row.count()) === 0 || /revoked/i.test(await row.innerText()),
            'the revoked key is listed as if it still worked',
        );
        // The key the session was opened with still works, and so does the session.
        assert.equal((await roster.api('GET', '/users')).status, 200);
        await page.goto(roster.url('/settings'));
        assert.equal(new URL(page.url()).pathname, '/settings');
    });
});
