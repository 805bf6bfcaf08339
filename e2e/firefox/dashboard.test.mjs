// The dashboard in Firefox, one session for the file: sign in (and the live stream opens),
// create a user with a device, a rule violation at its field, a device going busy without
// a reload, sign out.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, createUserViaApi } from '../harness.mjs';
import { launchFirefox } from './webdriver.mjs';
import { signIn, openUsers, waitLive, flashText } from './steps.mjs';

let roster;
let driver;

before(async () => {
    roster = await startRoster('firefox');
    driver = await launchFirefox();
    console.log(`# Firefox ${driver.browserVersion}`);
});

after(async () => {
    await driver?.quit();
    await roster?.stop();
});

test('signing in shows the users page, and its live stream opens', async () => {
    await driver.step('signin', async () => {
        await driver.goto(roster.url('/'));
        assert.equal(new URL(await driver.url()).pathname, '/signin', 'no session, yet not sent to /signin');
        await driver.screenshot('page-signin');
        await signIn(driver, roster);
        await waitLive(driver);
        await driver.screenshot('page-users');
    });
});

test('"New user" creates a user with a device', async () => {
    await driver.step('new-user', async () => {
        await openUsers(driver, roster);
        await driver.goto(roster.url('/users/new'));
        await driver.fill(await driver.byLabel('First name'), 'Farah');
        await driver.fill(await driver.byLabel('Last name'), 'Khan');
        await driver.fill(await driver.byLabel('Phone number'), '+91 98450 71234');
        await driver.screenshot('page-new-user');
        await driver.click(await driver.byRole('button', 'Create user'));

        const userId = await driver.waitFor(async () => {
            const match = /^\/users\/([0-9a-f]{32})$/.exec(new URL(await driver.url()).pathname);
            return match && match[1];
        }, "the new user's page");
        assert.match(await flashText(driver), /User created/);
        const device = await driver.find('#devices tr[data-device-id]');
        assert.match(await driver.text(device), /\+919845071234/);
        await driver.screenshot('page-user');

        // What the page did, as the API sees it.
        const { status, body } = await roster.api('GET', `/users/${userId}?fields=devices`);
        assert.equal(status, 200);
        const user = body.response.data;
        assert.equal(`${user.first_name} ${user.last_name}`, 'Farah Khan');
        assert.deepEqual(user.devices.map((d) => d.contact_uri), ['+919845071234']);
        assert.equal(String(user.devices[0].id), await driver.attribute(device, 'data-device-id'));
    });
});

test('a rule violation is shown at its field, and nothing is created', async () => {
    await driver.step('new-user-errors', async () => {
        await openUsers(driver, roster);
        const before = (await roster.users()).length;
        await driver.goto(roster.url('/users/new'));
        await driver.fill(await driver.byLabel('First name'), 'Gita');
        await driver.fill(await driver.byLabel('Last name'), 'Menon');
        await driver.fill(await driver.byLabel('Email'), 'not-an-email');
        await driver.fill(await driver.byLabel('Phone number'), '+919845071235');
        await driver.click(await driver.byRole('button', 'Create user'));

        const error = await driver.find('#email-error');
        await driver.waitFor(() => driver.displayed(error), '#email-error to be visible');
        assert.match(await driver.text(error), /email/i);
        const email = await driver.byLabel('Email');
        assert.equal(await driver.attribute(email, 'aria-invalid'), 'true');
        assert.match(await driver.attribute(email, 'aria-describedby') ?? '', /\bemail-error\b/);
        assert.equal(await driver.execute((el) => el.value, email), 'not-an-email', 'the typed value was lost');
        await driver.screenshot('page-new-user-errors');
        assert.equal((await roster.users()).length, before, 'a user was created anyway');
    });
});

test('a device turned on goes busy live when a call starts from the CLI', async () => {
    const number = '+919845071301';
    const created = await createUserViaApi(roster, { first_name: 'Hari', last_name: 'Nair', device_contact_uri: number });
    await driver.step('live-busy', async () => {
        await openUsers(driver, roster);

        // Verified by a missed call (the CLI), then switched ON from the user's page.
        await roster.cli('devices', 'verify', roster.sid, number);
        await driver.goto(roster.url(`/users/${created.id}`));
        const row = await driver.find('#devices tr[data-device-id]');
        const deviceId = await driver.attribute(row, 'data-device-id');
        assert.ok(deviceId, 'the device row has no data-device-id');
        await driver.click(await driver.byRole('button', `Turn on ${number}`, { from: row }));
        await driver.byRole('button', `Turn off ${number}`);
        assert.match(await driver.text(await driver.find(`#devices tr[data-device-id="${deviceId}"]`)), /\bON\b/);

        await driver.goto(roster.url('/'));
        await waitLive(driver);
        const listed = `#users tr[data-user-id="${created.id}"] li[data-device-id="${deviceId}"]`;
        assert.match(await driver.text(await driver.find(listed)), /\bfree\b/);
        const page = await driver.url();
        await driver.execute(() => { window.__marker = 'still here'; });

        await roster.cli('calls', 'start', roster.sid, deviceId);
        await driver.waitFor(async () => /\bbusy\b/.test(await driver.text(await driver.find(listed))),
            'the device to read "busy"', 15_000);
        assert.equal(await driver.execute(() => window.__marker), 'still here', 'the page was reloaded');
        assert.equal(await driver.url(), page);
        assert.doesNotMatch(await driver.text(await driver.find(listed)), /\bfree\b/);
        await driver.screenshot('users-live-busy');
    });
});

test('signing out ends the session', async () => {
    await driver.step('signout', async () => {
        await openUsers(driver, roster);
        await driver.click(await driver.byRole('button', 'Sign out'));
        await driver.waitForPath('/signin');
        assert.match(await flashText(driver), /Signed out/);
        await driver.screenshot('page-signed-out');
        await driver.goto(roster.url('/'));
        assert.equal(new URL(await driver.url()).pathname, '/signin', '/ still opens after signing out');
    });
});
