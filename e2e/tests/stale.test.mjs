// A page that went stale under the person: a session ended while a page is live, a user
// deleted elsewhere while its page is open at a #fragment (where every form sends the
// person back), a reload of a page that answered a refused form, and the focus a form
// put somewhere through a live refresh.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, launchBrowser, withPage, signIn, createUserViaApi } from '../harness.mjs';
import { fillNewUser } from '../dashboard.mjs';

let roster;
let browser;

/// Resolves when the page's event stream (`/live`) next answers.
function streamOpen(page) {
    return page.waitForResponse((response) => new URL(response.url()).pathname === '/live');
}

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
        // Changes made before the page's event stream is open are not sent to it.
        const live = streamOpen(page);
        await page.getByRole('button', { name: 'Add device', exact: true }).click();
        await page.waitForURL((url) => url.hash === '#devices-heading');
        await live;

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

test('focus a form put on the devices heading or on a problem survives a live refresh', async () => {
    const user = await createUserViaApi(roster, {
        first_name: 'Indu', last_name: 'Roy', device_contact_uri: '+919845030011',
    });
    let other = 0;
    // Any change in the account refreshes the page's live parts.
    const somethingElseChanges = () => createUserViaApi(roster, {
        first_name: 'Other', last_name: 'Person', device_contact_uri: `+91984503010${other++}`,
    });
    const focused = (page) => page.evaluate(() => {
        const el = document.activeElement;
        return `${el.tagName.toLowerCase()}#${el.id} ${el.textContent.trim().slice(0, 50)}`;
    });
    await withPage(browser, 'stale-focus-kept', async (page) => {
        await signIn(page, roster);
        await page.goto(roster.url(`/users/${user.id}`));
        await page.getByLabel('Phone number or SIP URI', { exact: true }).fill('+919845030012');
        let live = streamOpen(page);
        await page.getByRole('button', { name: 'Add device', exact: true }).click();
        await page.waitForURL((url) => url.hash === '#devices-heading');
        await live;
        assert.match(await focused(page), /^h2#devices-heading/);
        const rows = page.locator('#devices tr[data-device-id]');
        // A refresh has run once the table carries no marker set on the old one.
        await page.evaluate(() => { document.getElementById('devices').dataset.old = '1'; });
        await somethingElseChanges();
        await page.locator('#devices:not([data-old])').waitFor({ timeout: 15_000 });
        assert.equal(await rows.count(), 2);
        assert.match(await focused(page), /^h2#devices-heading/, 'a refresh dropped the focus');

        // An unverified device cannot be turned on: the problem gets focus, and keeps it
        // (and stays shown) through a refresh.
        live = streamOpen(page);
        await page.getByRole('button', { name: 'Turn on +919845030012', exact: true }).click();
        const problem = page.locator('[role="alert"]').filter({ hasText: 'not verified' });
        await problem.waitFor();
        await live;
        assert.match(await focused(page), /^div# .*not verified/);
        await page.evaluate(() => { document.getElementById('devices').dataset.old = '1'; });
        await somethingElseChanges();
        await page.locator('#devices:not([data-old])').waitFor({ timeout: 15_000 });
        assert.equal(await problem.count(), 1, 'a refresh wiped the problem');
        assert.match(await focused(page), /^div# .*not verified/, 'a refresh dropped the focus');
    });
});
