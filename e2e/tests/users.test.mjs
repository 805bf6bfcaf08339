// Creating a user with a device from the "New user" form, a rule violation shown at its
// field, editing, and deleting through the confirmation page.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, launchBrowser, withPage, signIn, screenshot, createUserViaApi } from '../harness.mjs';
import { userRow, fillNewUser, flash } from '../dashboard.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('users');
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

test('"New user" creates a user with a device, shown in the users table', async () => {
    await withPage(browser, 'new-user', async (page) => {
        await signIn(page, roster);
        await page.getByRole('link', { name: 'New user', exact: true }).click();
        await page.waitForURL((url) => url.pathname === '/users/new');
        await page.getByRole('heading', { level: 1, name: 'New user', exact: true }).waitFor();

        await fillNewUser(page, {
            first: 'Asha', last: 'Verma', email: 'asha.verma@example.com', role: 'supervisor',
            number: '+91 98450 12345', deviceName: 'Desk phone',
        });
        await page.waitForURL((url) => /^\/users\/[0-9a-f]{32}$/.test(url.pathname));
        const userId = new URL(page.url()).pathname.split('/')[2];
        await flash(page).filter({ hasText: 'User created' }).waitFor();
        await page.getByRole('heading', { level: 1, name: 'Asha Verma', exact: true }).waitFor();
        const devices = page.locator('#devices tr[data-device-id]');
        assert.equal(await devices.count(), 1, 'the user page lists one device');
        assert.match(await devices.first().innerText(), /\+919845012345/);
        assert.match(await devices.first().innerText(), /Desk phone/);

        // The API agrees on what was created.
        const { status, body } = await roster.api('GET', `/users/${userId}?fields=devices`);
        assert.equal(status, 200);
        const user = body.response.data;
        assert.equal(user.role, 'supervisor');
        assert.equal(user.email, 'asha.verma@example.com');
        assert.equal(user.devices.length, 1);
        assert.equal(user.devices[0].contact_uri, '+919845012345');
        assert.equal(user.devices[0].name, 'Desk phone');

        await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users', exact: true }).click();
        await page.waitForURL((url) => url.pathname === '/');
        const row = userRow(page, userId);
        await row.waitFor();
        await row.getByRole('link', { name: 'Asha Verma', exact: true }).waitFor();
        const text = await row.innerText();
        assert.match(text, /asha\.verma@example\.com/);
        const device = row.locator(`li[data-device-id="${user.devices[0].id}"]`);
        const deviceText = await device.innerText();
        assert.match(deviceText, /\+919845012345/);
        assert.match(deviceText, /\bOFF\b/);
        assert.match(deviceText, /\bunverified\b/);
        assert.match(deviceText, /\bfree\b/);
        assert.equal(
            await row.getByRole('link', { name: 'Asha Verma', exact: true }).getAttribute('href'),
            `/users/${userId}`,
        );
    });
});

test('an invalid email is shown at its field and nothing is created', async () => {
    await withPage(browser, 'new-user-invalid-email', async (page) => {
        await signIn(page, roster);
        const before = (await roster.users()).length;
        await page.goto(roster.url('/users/new'));
        await fillNewUser(page, {
            first: 'Bilal', last: 'Khan', email: 'not-an-email', number: '+919845012399',
        });

        const error = page.locator('#email-error');
        await error.waitFor({ state: 'visible' });
        // The API's own message for the field.
        assert.match(await error.innerText(), /invalid email/);
        const email = page.getByLabel('Email', { exact: true });
        assert.equal(await email.getAttribute('aria-invalid'), 'true');
        assert.match(await email.getAttribute('aria-describedby') ?? '', /(^|\s)email-error(\s|$)/);
        assert.ok(
            await error.evaluate((el) => el.classList.contains('field-error')),
            '#email-error is not a .field-error',
        );
        // The other fields are valid, and keep what was typed.
        const first = page.getByLabel('First name', { exact: true });
        assert.notEqual(await first.getAttribute('aria-invalid'), 'true');
        assert.equal(await first.inputValue(), 'Bilal');
        assert.equal(await email.inputValue(), 'not-an-email');
        await page.getByRole('heading', { level: 1, name: 'New user', exact: true }).waitFor();
        await screenshot(page, 'new-user-field-error');

        const users = await roster.users();
        assert.equal(users.length, before, 'a user was created despite the error');
        assert.ok(!users.some((u) => u.first_name === 'Bilal'));
    });
});

test('an invalid number is shown at its field and nothing is created', async () => {
    await withPage(browser, 'new-user-invalid-number', async (page) => {
        await signIn(page, roster);
        const before = (await roster.users()).length;
        await page.goto(roster.url('/users/new'));
        await fillNewUser(page, { first: 'Chitra', last: 'Nair', number: '12ab' });

        const error = page.locator('#device_contact_uri-error');
        await error.waitFor({ state: 'visible' });
        assert.ok((await error.innerText()).trim().length > 0, 'the field error is empty');
        const number = page.getByLabel('Phone number', { exact: true });
        assert.equal(await number.getAttribute('aria-invalid'), 'true');
        assert.match(await number.getAttribute('aria-describedby') ?? '', /(^|\s)device_contact_uri-error(\s|$)/);
        assert.equal(await page.locator('#email-error').count(), 0, 'a blank email is not an error');
        assert.equal((await roster.users()).length, before, 'a user was created despite the error');
    });
});

test('a user is edited, then deleted through the confirmation page', async () => {
    const user = await createUserViaApi(roster, {
        first_name: 'Dev', last_name: 'Patel', device_contact_uri: '+919845012377',
    });
    await withPage(browser, 'edit-delete-user', async (page) => {
        await signIn(page, roster);
        await page.goto(roster.url(`/users/${user.id}`));
        await page.getByRole('heading', { level: 1, name: 'Dev Patel', exact: true }).waitFor();
        await page.getByLabel('Last name', { exact: true }).fill('Patil');
        await page.getByRole('button', { name: 'Save changes', exact: true }).click();
        await page.getByRole('heading', { level: 1, name: 'Dev Patil', exact: true }).waitFor();
        const { body } = await roster.api('GET', `/users/${user.id}`);
        assert.equal(body.response.data.last_name, 'Patil');

        await page.getByRole('link', { name: 'Delete user', exact: true }).click();
        await page.waitForURL((url) => url.pathname === `/users/${user.id}/delete`);
        await page.getByRole('heading', { level: 1, name: 'Delete Dev Patil?', exact: true }).waitFor();
        // Only the confirmation deletes.
        assert.equal((await roster.api('GET', `/users/${user.id}`)).status, 200);
        await page.getByRole('button', { name: 'Delete user', exact: true }).click();
        await page.waitForURL((url) => url.pathname !== `/users/${user.id}/delete`);
        assert.equal((await roster.api('GET', `/users/${user.id}`)).status, 404);
        await page.goto(roster.url('/'));
        assert.equal(await userRow(page, user.id).count(), 0, 'the deleted user is still listed');
    });
});
