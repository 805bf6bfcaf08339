// The dashboard in Firefox at a phone's width: 375 x 740, no sideways scrolling.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, createUserViaApi } from '../harness.mjs';
import { launchFirefox, PHONE_PREFS } from './webdriver.mjs';
import { openUsers } from './steps.mjs';

let roster;
let driver;

before(async () => {
    roster = await startRoster('firefox-phone');
    // Rows with long names, an email and devices: what is most likely to overflow.
    await createUserViaApi(roster, {
        first_name: 'Ishaan', last_name: 'Chattopadhyay', email: 'ishaan.chattopadhyay@example.com',
        device_contact_uri: '+919845073001',
    });
    await createUserViaApi(roster, { first_name: 'Jaya', last_name: 'Pillai', device_contact_uri: '+919845073002' });
    driver = await launchFirefox({ prefs: PHONE_PREFS });
});

after(async () => {
    await driver?.quit();
    await roster?.stop();
});

test('at phone width the users page does not scroll sideways', async () => {
    await driver.step('phone-users', async () => {
        await driver.openPhoneWindow(375, 740);
        await openUsers(driver, roster);
        const rows = await driver.waitFor(async () => (await driver.findAll('#users tr[data-user-id]')).length,
            'the users table');
        assert.equal(rows, 2, 'the users table does not list the two users');
        const { inner, client, scroll } = await driver.execute(() => ({
            inner: window.innerWidth,
            client: document.documentElement.clientWidth,
            scroll: document.documentElement.scrollWidth,
        }));
        // The check means something only if the viewport really is a phone's.
        assert.equal(inner, 375, `the viewport is ${inner}px wide, not a phone's 375px`);
        assert.ok(scroll <= inner, `the page is ${scroll}px wide in a ${inner}px viewport`);
        // Headless Firefox draws a classic vertical scrollbar, which takes its width from
        // the layout: the page must fit what is left, or a sideways scrollbar appears.
        assert.ok(scroll <= client, `the page is ${scroll}px wide in ${client}px beside the scrollbar`);
        assert.ok(await driver.displayed(await driver.byRole('link', 'New user')), '"New user" is not visible');
        await driver.screenshot('phone-users');
    });
});
