// The dashboard in Firefox by keyboard only.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, createUserViaApi } from '../harness.mjs';
import { launchFirefox, KEYS } from './webdriver.mjs';
import { openUsers } from './steps.mjs';

let roster;
let driver;

before(async () => {
    roster = await startRoster('firefox-keyboard');
    await createUserViaApi(roster, {
        first_name: 'Ishaan', last_name: 'Chattopadhyay', email: 'ishaan.chattopadhyay@example.com',
        device_contact_uri: '+919845072001',
    });
    await createUserViaApi(roster, { first_name: 'Jaya', last_name: 'Pillai', device_contact_uri: '+919845072002' });
    driver = await launchFirefox();
});

after(async () => {
    await driver?.quit();
    await roster?.stop();
});

test('keyboard only: Tab reaches "New user", Enter opens it', async () => {
    await driver.step('keyboard', async () => {
        await openUsers(driver, roster);
        const newUser = await driver.byRole('link', 'New user');
        // openUsers has just loaded the page: nothing has focus, Tab starts at the top.
        assert.equal(await driver.describeFocus(), 'body');
        const limit = 25;
        const path = [];
        let reached = false;
        for (let i = 0; i < limit && !reached; i += 1) {
            await driver.press(KEYS.tab);
            reached = await driver.isFocused(newUser);
            if (!reached) path.push(await driver.describeFocus());
        }
        assert.ok(reached, `"New user" not reached in ${limit} Tabs; focus went: ${path.join(' → ')}`);
        await driver.press(KEYS.enter);
        await driver.waitForPath('/users/new');
        await driver.byLabel('First name');
    });
});
