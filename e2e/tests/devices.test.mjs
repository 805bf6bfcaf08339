// Switching devices ON and OFF from a user's page, with the API's rules and messages:
// one device of a user ON at a time, and only a verified device may be turned on.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
    startRoster, launchBrowser, withPage, signIn, screenshot, createUserViaApi, addDeviceViaApi,
} from '../harness.mjs';
import { deviceRow } from '../dashboard.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('devices');
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

async function availability(userId) {
    const { body } = await roster.api('GET', `/users/${userId}?fields=devices`);
    return Object.fromEntries(body.response.data.devices.map((d) => [d.contact_uri, d.available === true]));
}

test('a second device cannot be turned on while the first is; off then on works', async () => {
    const first = '+919845030001';
    const second = '+919845030002';
    const user = await createUserViaApi(roster, { first_name: 'Farah', last_name: 'Iqbal', device_contact_uri: first });
    const one = user.devices.find((d) => d.contact_uri === first);
    const two = await addDeviceViaApi(roster, user.id, { contact_uri: second, name: 'Mobile' });
    await roster.cli('devices', 'verify', roster.sid, first);
    await roster.cli('devices', 'verify', roster.sid, second);

    await withPage(browser, 'switch-devices', async (page) => {
        await signIn(page, roster);
        await page.goto(roster.url(`/users/${user.id}`));
        await page.getByRole('heading', { level: 2, name: 'Devices', exact: true }).waitFor();
        const button = (device, action, number) =>
            deviceRow(page, device.id).getByRole('button', { name: `${action} ${number}`, exact: true });

        await button(one, 'Turn on', first).click();
        await button(one, 'Turn off', first).waitFor();
        assert.match(await deviceRow(page, one.id).innerText(), /\bON\b/);

        await button(two, 'Turn on', second).click();
        const alert = page.getByRole('alert').filter({ hasText: 'another device of this user is on; turn it off first' });
        await alert.waitFor();
        await screenshot(page, 'user-switch-refused');
        assert.match(await deviceRow(page, two.id).innerText(), /\bOFF\b/);
        assert.deepEqual(await availability(user.id), { [first]: true, [second]: false });

        await button(one, 'Turn off', first).click();
        await button(one, 'Turn on', first).waitFor();
        await button(two, 'Turn on', second).click();
        await button(two, 'Turn off', second).waitFor();
        assert.match(await deviceRow(page, two.id).innerText(), /\bON\b/);
        assert.match(await deviceRow(page, one.id).innerText(), /\bOFF\b/);
        assert.equal(await page.getByRole('alert').count(), 0, 'an alert is still shown after a switch that worked');
        assert.deepEqual(await availability(user.id), { [first]: false, [second]: true });
    });
});

test('an unverified device cannot be turned on, with the API\'s message', async () => {
    const number = '+919845030011';
    const user = await createUserViaApi(roster, { first_name: 'Gita', last_name: 'Menon', device_contact_uri: number });
    const device = user.devices[0];
    await withPage(browser, 'unverified-device', async (page) => {
        await signIn(page, roster);
        await page.goto(roster.url(`/users/${user.id}`));
        assert.match(await deviceRow(page, device.id).innerText(), /\bunverified\b/);
        await deviceRow(page, device.id).getByRole('button', { name: `Turn on ${number}`, exact: true }).click();
        await page.getByRole('alert')
            .filter({ hasText: 'the device is not verified and cannot be turned on' }).waitFor();
        assert.match(await deviceRow(page, device.id).innerText(), /\bOFF\b/);
        assert.deepEqual(await availability(user.id), { [number]: false });
    });
});

test('a device is added and removed from the user\'s page', async () => {
    const user = await createUserViaApi(roster, { first_name: 'Hari', last_name: 'Das', device_contact_uri: '+919845030021' });
    await withPage(browser, 'add-remove-device', async (page) => {
        await signIn(page, roster);
        await page.goto(roster.url(`/users/${user.id}`));
        await page.getByRole('heading', { level: 2, name: 'Add a device', exact: true }).waitFor();
        const form = page.locator('form').filter({ has: page.getByRole('button', { name: 'Add device', exact: true }) });
        await form.getByLabel('Phone number or SIP URI', { exact: true }).fill('+91 98450 30022');
        await form.getByLabel('Device name', { exact: true }).fill('Home');
        await form.getByRole('button', { name: 'Add device', exact: true }).click();
        await page.locator('#devices tr[data-device-id]').filter({ hasText: '+919845030022' }).waitFor();
        let devices = (await roster.api('GET', `/users/${user.id}/devices`)).body.response.map((e) => e.data ?? e);
        const added = devices.find((d) => d.contact_uri === '+919845030022');
        assert.ok(added, 'the API does not list the added device');
        assert.equal(added.name, 'Home');

        // A number already in use is refused at its field.
        await form.getByLabel('Phone number or SIP URI', { exact: true }).fill('+919845030022');
        await form.getByRole('button', { name: 'Add device', exact: true }).click();
        await page.locator('#contact_uri-error').waitFor({ state: 'visible' });
        assert.equal(
            await page.locator('form').filter({ has: page.getByRole('button', { name: 'Add device', exact: true }) })
                .getByLabel('Phone number or SIP URI', { exact: true }).getAttribute('aria-invalid'),
            'true',
        );

        await deviceRow(page, added.id).getByRole('button', { name: 'Remove +919845030022', exact: true }).click();
        await deviceRow(page, added.id).waitFor({ state: 'detached' });
        devices = (await roster.api('GET', `/users/${user.id}/devices`)).body.response.map((e) => e.data ?? e);
        assert.deepEqual(devices.map((d) => d.contact_uri), ['+919845030021']);
    });
});
