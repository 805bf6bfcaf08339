// Live updates: a call started from the CLI turns the device and its user "busy" on the
// users page without a reload, through the event stream behind `#live-status`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import {
    startRoster, launchBrowser, withPage, signIn, screenshot, createUserViaApi, eventually,
} from '../harness.mjs';
import { userRow, userRowDevice, deviceRow, presenceOf } from '../dashboard.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('live');
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

test('a device verified by the CLI, switched ON in the page, goes busy live when a call starts', async () => {
    const number = '+919845020001';
    const user = await createUserViaApi(roster, {
        first_name: 'Esha', last_name: 'Rao', email: 'esha.rao@example.com', device_contact_uri: number,
    });
    const device = user.devices.find((d) => d.contact_uri === number);
    assert.ok(device, `no device ${number} in ${JSON.stringify(user.devices)}`);

    await withPage(browser, 'live-busy', async (page) => {
        await signIn(page, roster);

        // Verified by a missed call (the CLI), then switched ON from the user's page.
        await roster.cli('devices', 'verify', roster.sid, number);
        await page.goto(roster.url(`/users/${user.id}`));
        const row = deviceRow(page, device.id);
        await row.waitFor();
        assert.match(await row.innerText(), /\bverified\b/);
        assert.doesNotMatch(await row.innerText(), /\bunverified\b/);
        await row.getByRole('button', { name: `Turn on ${number}`, exact: true }).click();
        await deviceRow(page, device.id).getByRole('button', { name: `Turn off ${number}`, exact: true }).waitFor();
        assert.match(await deviceRow(page, device.id).innerText(), /\bON\b/);
        assert.equal(await page.getByRole('alert').count(), 0, 'switching ON showed an alert');
        const { body } = await roster.api('GET', `/users/${user.id}?fields=devices`);
        assert.equal(body.response.data.devices.find((d) => d.id === device.id).available, true);

        await page.goto(roster.url('/'));
        await page.locator('#live-status').filter({ hasText: /^\s*Live\s*$/ }).waitFor();
        const listed = userRowDevice(page, user.id, device.id);
        assert.match(await listed.innerText(), /\bfree\b/);
        assert.match(await listed.innerText(), /\bON\b/);
        assert.equal(await presenceOf(page, user.id), 'available');
        const before = page.url();
        await page.evaluate(() => { window.__marker = 1; });

        await roster.cli('calls', 'start', roster.sid, String(device.id));
        await listed.filter({ hasText: /\bbusy\b/ }).waitFor({ timeout: 15_000 });
        await eventually(async () => (await presenceOf(page, user.id)) === 'busy', {
            what: 'the presence cell to read "busy"', timeoutMs: 15_000,
        });
        assert.doesNotMatch(await listed.innerText(), /\bfree\b/);
        assert.equal(await page.evaluate(() => window.__marker), 1, 'the page was reloaded');
        assert.equal(page.url(), before);
        await screenshot(page, 'users-live-busy');

        // And back, still without a reload.
        await roster.cli('calls', 'end', roster.sid, String(device.id));
        await listed.filter({ hasText: /\bfree\b/ }).waitFor({ timeout: 15_000 });
        await eventually(async () => (await presenceOf(page, user.id)) === 'available', {
            what: 'the presence cell to read "available" again', timeoutMs: 15_000,
        });
        assert.equal(await page.evaluate(() => window.__marker), 1, 'the page was reloaded');
        assert.ok(await userRow(page, user.id).isVisible());
    });
});
