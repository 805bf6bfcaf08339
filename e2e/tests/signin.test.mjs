// Signing in with an account's API key and token, a wrong token, and signing out.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, launchBrowser, withPage, signIn, screenshot } from '../harness.mjs';
import { flash } from '../dashboard.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('signin');
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

test('without a session every page redirects (303) to /signin', async () => {
    for (const path of ['/', '/users/new', '/settings', '/import']) {
        const response = await fetch(roster.url(path), { redirect: 'manual' });
        assert.equal(response.status, 303, `GET ${path}`);
        const location = new URL(response.headers.get('location'), roster.base);
        assert.equal(location.pathname, '/signin', `GET ${path} redirects to ${location}`);
    }
});

test('signing in with the issued key and token opens the users page', async () => {
    await withPage(browser, 'signin-ok', async (page) => {
        await page.goto(roster.url('/'));
        assert.equal(new URL(page.url()).pathname, '/signin');
        await page.getByRole('heading', { level: 1, name: 'Sign in', exact: true }).waitFor();
        const token = page.getByLabel('API token', { exact: true });
        assert.equal(await token.getAttribute('type'), 'password', 'the token field hides what is typed');
        await screenshot(page, 'signin');

        await signIn(page, roster);
        assert.equal(new URL(page.url()).pathname, '/');
        // An account without users yet: the page's live part, not the (empty) table.
        await page.locator('#live-status').waitFor();

        // The session is a cookie the page's scripts cannot read.
        const cookies = await page.context().cookies(roster.base);
        assert.ok(cookies.length > 0, 'signing in set no cookie');
        for (const cookie of cookies) {
            assert.equal(cookie.httpOnly, true, `cookie ${cookie.name} is not HttpOnly`);
            assert.notEqual(cookie.sameSite, 'None', `cookie ${cookie.name} has SameSite=None`);
        }
    });
});

test('a wrong token shows the error and stays on /signin', async () => {
    await withPage(browser, 'signin-wrong-token', async (page) => {
        await page.goto(roster.url('/signin'));
        await page.getByLabel('API key', { exact: true }).fill(roster.key);
        await page.getByLabel('API token', { exact: true }).fill('0'.repeat(64));
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();

        const alert = page.getByRole('alert');
        await alert.waitFor();
        const message = (await alert.innerText()).trim();
        // The API's own refusal: its message or its description.
        assert.match(message, /Authentication failed|missing, malformed, unknown or revoked/);
        assert.equal(new URL(page.url()).pathname, '/signin');
        await page.getByRole('heading', { level: 1, name: 'Sign in', exact: true }).waitFor();
        await screenshot(page, 'signin-wrong-token');

        // No session came of it.
        await page.goto(roster.url('/'));
        assert.equal(new URL(page.url()).pathname, '/signin');
    });
});

test('signing out returns to /signin, and / redirects there again', async () => {
    await withPage(browser, 'signout', async (page) => {
        await signIn(page, roster);
        await page.getByRole('navigation', { name: 'Main' })
            .getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.waitForURL((url) => url.pathname === '/signin');
        await flash(page).filter({ hasText: 'Signed out' }).waitFor();

        await page.goto(roster.url('/'));
        assert.equal(new URL(page.url()).pathname, '/signin');
        await page.getByRole('heading', { level: 1, name: 'Sign in', exact: true }).waitFor();

    });
});

test('a session cookie replayed after signing out opens nothing', async () => {
    await withPage(browser, 'signout-replay', async (page) => {
        await signIn(page, roster);
        const session = await page.context().cookies(roster.base);
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.waitForURL((url) => url.pathname === '/signin');

        // Whatever the browser was told to forget, the server must have ended the session.
        await page.context().clearCookies();
        await page.context().addCookies(session);
        await page.goto(roster.url('/settings'));
        assert.equal(new URL(page.url()).pathname, '/signin', 'the old session still opens /settings');
    });
});
