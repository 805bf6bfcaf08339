// Accessibility: axe-core on every page of the dashboard, failing on any violation of
// impact "serious" or "critical" (all of them are printed). Each page is also saved as a
// full-page screenshot, the suite's pictures of the main pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
    startRoster, launchBrowser, newPage, signIn, screenshot, axeViolations, createUserViaApi,
    addDeviceViaApi, ARTIFACTS,
} from '../harness.mjs';
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';

let roster;
let browser;
let page;
let user;

before(async () => {
    roster = await startRoster('a11y');
    browser = await launchBrowser();
    // Enough to fill every part of the pages: devices in each state, a busy one, users
    // without email, a verified email.
    user = await createUserViaApi(roster, {
        first_name: 'Omkar', last_name: 'Kulkarni', email: 'omkar@example.com', role: 'supervisor',
        device_contact_uri: '+919845070001', device_name: 'Desk phone',
    });
    await addDeviceViaApi(roster, user.id, { contact_uri: '+919845070002', name: 'Mobile' });
    await roster.cli('devices', 'verify', roster.sid, '+919845070001');
    await roster.api('PUT', `/users/${user.id}/devices/${user.devices[0].id}`, { body: { available: true } });
    await roster.cli('calls', 'start', roster.sid, String(user.devices[0].id));
    await createUserViaApi(roster, { first_name: 'Priya', last_name: 'Sharma', device_contact_uri: '+919845070003' });

    page = await newPage(browser);
    await signIn(page, roster);
});

after(async () => {
    await page?.context().close();
    await browser?.close();
    await roster?.stop();
});

/// Checks the page now shown, saving its screenshot as NAME first.
async function check(name) {
    await page.waitForLoadState();
    await screenshot(page, name);
    const serious = await axeViolations(page, name);
    if (serious.length > 0) {
        await mkdir(ARTIFACTS, { recursive: true });
        await writeFile(path.join(ARTIFACTS, `axe-${name}.json`), JSON.stringify(serious, null, 2));
    }
    assert.deepEqual(
        serious.map((v) => `[${v.impact}] ${v.id}: ${v.help} (${v.nodes.map((n) => n.target).join(', ')})`),
        [],
        `serious or critical accessibility violations on ${name}`,
    );
}

async function heading(name) {
    await page.getByRole('heading', { level: 1, name, exact: true }).waitFor();
}

test('sign in page', async () => {
    const other = await newPage(browser);
    try {
        await other.goto(roster.url('/signin'));
        await other.getByRole('heading', { level: 1, name: 'Sign in', exact: true }).waitFor();
        await screenshot(other, 'page-signin');
        const serious = await axeViolations(other, 'page-signin');
        assert.deepEqual(serious.map((v) => `[${v.impact}] ${v.id}: ${v.help}`), []);
        // With the error shown, too.
        await other.getByLabel('API key', { exact: true }).fill('f'.repeat(40));
        await other.getByLabel('API token', { exact: true }).fill('f'.repeat(64));
        await other.getByRole('button', { name: 'Sign in', exact: true }).click();
        await other.getByRole('alert').waitFor();
        const failed = await axeViolations(other, 'page-signin-error');
        assert.deepEqual(failed.map((v) => `[${v.impact}] ${v.id}: ${v.help}`), []);
    } finally {
        await other.context().close();
    }
});

test('users page', async () => {
    await page.goto(roster.url('/'));
    await heading('Users');
    await page.locator('#live-status').filter({ hasText: /^\s*Live\s*$/ }).waitFor();
    await page.locator('#presence-chart figcaption')
        .filter({ hasText: 'Agents available, busy and off, last 6 hours' }).waitFor();
    await check('page-users');
});

test('new user page, with a field error shown', async () => {
    await page.goto(roster.url('/users/new'));
    await heading('New user');
    await check('page-new-user');
    await page.getByLabel('First name', { exact: true }).fill('Q');
    await page.getByLabel('Last name', { exact: true }).fill('Rahman');
    await page.getByLabel('Email', { exact: true }).fill('not-an-email');
    await page.getByRole('button', { name: 'Create user', exact: true }).click();
    await page.locator('.field-error').first().waitFor();
    await check('page-new-user-errors');
});

test('user page', async () => {
    await page.goto(roster.url(`/users/${user.id}`));
    await heading('Omkar Kulkarni');
    await page.locator('#devices tr[data-device-id]').first().waitFor();
    await check('page-user');
});

test('delete confirmation page', async () => {
    await page.goto(roster.url(`/users/${user.id}/delete`));
    await heading('Delete Omkar Kulkarni?');
    await check('page-delete-user');
});

test('API settings page, with a new token shown', async () => {
    await page.goto(roster.url('/settings'));
    await heading('API settings');
    await check('page-settings');
    await page.getByRole('button', { name: 'Create key', exact: true }).click();
    await page.locator('#new-token').waitFor();
    await check('page-settings-new-key');
});

test('import page and its report', async () => {
    await page.goto(roster.url('/import'));
    await heading('Import users');
    await check('page-import');
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({
        name: 'bad.csv',
        mimeType: 'text/csv',
        buffer: Buffer.from('first_name,last_name,email,device_contact_uri\nSana,Ali,bad,+919845070009\nTara,Mehta,,12\n'),
    });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByRole('alert').waitFor();
    await check('page-import-report');
});
