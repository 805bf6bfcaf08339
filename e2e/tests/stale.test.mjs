// A page that went stale under the person: a session ended while a page is live, a user
// deleted elsewhere while its page is open at a #fragment (where every form sends the
// person back), and a reload of a page that answered a refused form.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, launchBrowser, withPage, signIn, createUserViaApi } from '../harness.mjs';
import { fillNewUser } from '../dashboard.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('stale');
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

test('a live page whose session ends shows the sign-in page saying why', async () => {
    // A key of its own, so revoking it leaves the other tests' key alone.
    const issued = await roster.cliJson('keys', 'create', roster.sid);
    await withPage(browser, 'stale-session-ended', async (page) => {
        await signIn(page, roster, { key: issued.api_key, token: issued.api_token });
        await page.locator('#live-status').filter({ hasText: /^\s*Live\s*$/ }).waitFor();

        await roster.cli('keys', 'revoke', issued.api_key);
        await page.waitForURL((url) => url.pathname === '/signin', { timeout: 15_000 });
        // The message rides on the redirect; a fetch or the event stream following it
        // would have used it up before the page showed it.
        await page.locator('p.flash[role="status"]')
            .filter({ hasText: 'Your session has ended' })
            .waitFor();
    });
});

test('a user deleted elsewhere while its page is open at a #fragment shows "User not found"', async () => {
    const user = await createUserViaApi(roster, {
        first_name: 'Gita', last_name: 'Sen', device_contact_uri: '+919845030001',
    });
    await withPage(browser, 'stale-user-deleted', async (page) => {
        await signIn(page, roster);
        await page.goto(roster.url(`/users/${user.id}`));
        await page.getByLabel('Phone number or SIP URI', { exact: true }).fill('+919845030002');
        await page.getByRole('button', { name: 'Add device', exact: true }).click();
        await page.waitForURL((url) => url.hash === '#devices-heading');

        const { status } = await roster.api('DELETE', `/users/${user.id}`);
        assert.equal(status, 200);
        // Loading the same address with its #fragment would only scroll this page.
        await page.getByRole('heading', { level: 1, name: 'User not found', exact: true })
            .waitFor({ timeout: 15_000 });
    });
});

test('reloading the page of a refused form reads the page and does not post again', async () => {
    await withPage(browser, 'stale-reload-refused', async (page) => {
        await signIn(page, roster);
        await page.goto(roster.url('/users/new'));
        await fillNewUser(page, { first: 'Hari' });
        await page.locator('#last_name[aria-invalid="true"]').waitFor();

        const documents = [];
        page.on('request', (request) => {
            if (request.resourceType() === 'document') documents.push(request.method());
        });
        await page.reload();
        await page.getByRole('heading', { level: 1, name: 'New user', exact: true }).waitFor();
        assert.deepEqual(documents, ['GET'], 'the reload posted the form again');
    });
});
