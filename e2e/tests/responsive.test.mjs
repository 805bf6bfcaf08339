// Phone width, and keyboard only: signing in and reaching "New user" with Tab and Enter.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, launchBrowser, withPage, signIn, screenshot, createUserViaApi } from '../harness.mjs';
import { isFocused, describeFocus } from '../dashboard.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('responsive');
    browser = await launchBrowser();
    await createUserViaApi(roster, {
        first_name: 'Meera', last_name: 'Subramanian', email: 'meera.subramanian@example.com',
        device_contact_uri: '+919845060001',
    });
    await createUserViaApi(roster, { first_name: 'Nikhil', last_name: 'Joshi', device_contact_uri: '+919845060002' });
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

test('the users page fits a phone\'s width', async () => {
    await withPage(browser, 'phone-users', async (page) => {
        await signIn(page, roster);
        await page.locator('#users').waitFor();
        await screenshot(page, 'phone-users');
        // No sideways scrolling of the whole page (a wide table may scroll in its own box).
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `the page is ${overflow}px wider than the 375px screen`);
        for (const name of ['Users', 'Import', 'API settings']) {
            assert.ok(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).isVisible(),
                `"${name}" is not visible at phone width`);
        }
        assert.ok(await page.getByRole('link', { name: 'New user', exact: true }).isVisible());
    }, { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
});

/// Presses Tab until `target` has focus, at most `limit` times; fails naming where focus went.
async function tabTo(page, target, what, limit = 12) {
    const path = [];
    for (let i = 0; i < limit; i += 1) {
        await page.keyboard.press('Tab');
        if (await isFocused(target)) return;
        path.push(await describeFocus(page));
    }
    assert.fail(`${what} not reached in ${limit} Tabs; focus went: ${path.join(' → ')}`);
}

test('keyboard only: sign in and reach "New user"', async () => {
    await withPage(browser, 'keyboard', async (page) => {
        await page.goto(roster.url('/signin'));

        // The first Tab reaches the skip link, which leads to the form.
        await page.keyboard.press('Tab');
        const skip = page.getByRole('link', { name: 'Skip to content', exact: true });
        assert.ok(await isFocused(skip), `first Tab went to ${await describeFocus(page)}`);
        await page.keyboard.press('Enter');
        await page.keyboard.press('Tab');
        const key = page.getByLabel('API key', { exact: true });
        assert.ok(await isFocused(key), `Tab after the skip link went to ${await describeFocus(page)}`);
        await page.keyboard.type(roster.key);
        await page.keyboard.press('Tab');
        assert.ok(await isFocused(page.getByLabel('API token', { exact: true })), `focus on ${await describeFocus(page)}`);
        await page.keyboard.type(roster.token);
        await page.keyboard.press('Tab');
        assert.ok(await isFocused(page.getByRole('button', { name: 'Sign in', exact: true })), `focus on ${await describeFocus(page)}`);
        await Promise.all([page.waitForURL((url) => url.pathname === '/'), page.keyboard.press('Enter')]);
        await page.getByRole('heading', { level: 1, name: 'Users', exact: true }).waitFor();

        // Skip the navigation, then Tab to "New user" without leaving the main content.
        await page.keyboard.press('Tab');
        assert.ok(await isFocused(page.getByRole('link', { name: 'Skip to content', exact: true })),
            `first Tab on the users page went to ${await describeFocus(page)}`);
        await page.keyboard.press('Enter');
        const newUser = page.getByRole('link', { name: 'New user', exact: true });
        await tabTo(page, newUser, '"New user"', 8);
        assert.ok(await newUser.evaluate((el) => el.closest('main') !== null), '"New user" is not in <main>');
        await Promise.all([page.waitForURL((url) => url.pathname === '/users/new'), page.keyboard.press('Enter')]);
        await page.getByRole('heading', { level: 1, name: 'New user', exact: true }).waitFor();

        await page.keyboard.press('Tab');
        assert.ok(await isFocused(page.getByRole('link', { name: 'Skip to content', exact: true })),
            `first Tab on "New user" went to ${await describeFocus(page)}`);
        await page.keyboard.press('Enter');
        // Past the navigation: at most a way back to the list comes before the form.
        const first = page.getByLabel('First name', { exact: true });
        await tabTo(page, first, '"First name"', 2);
        assert.ok(await first.evaluate((el) => el.closest('main') !== null));
        await screenshot(page, 'keyboard-new-user');
    });
});
