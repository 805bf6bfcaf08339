// Dashboard steps in Firefox, by the names the dashboard's UI contract gives (labels,
// accessible names, the few ids and data- attributes it promises).

import assert from 'node:assert/strict';

/// Signs in through the form and waits for the users page (h1 "Users").
export async function signIn(driver, roster) {
    await driver.goto(roster.url('/signin'));
    await driver.fill(await driver.byLabel('API key'), roster.key);
    await driver.fill(await driver.byLabel('API token'), roster.token);
    await driver.click(await driver.byRole('button', 'Sign in'));
    await driver.waitForPath('/');
    await usersHeading(driver);
}

/// Opens `/` signed in, signing in first when the session is gone (a test that failed
/// before may have left the browser anywhere).
export async function openUsers(driver, roster) {
    await driver.goto(roster.url('/'));
    if (new URL(await driver.url()).pathname === '/signin') {
        await signIn(driver, roster);
    } else {
        await usersHeading(driver);
    }
}

/// The users page's h1, which must read "Users".
export async function usersHeading(driver) {
    const heading = await driver.byRole('heading', 'Users');
    assert.equal(await driver.execute((el) => el.tagName, heading), 'H1');
    return heading;
}

/// Waits until `#live-status` reads "Live": the page's EventSource is open. Firefox fires
/// `open` on the stream's first bytes, not its headers; 5 s is well under the server's
/// 15 s keep-alive, so a stream that sends nothing at first fails here.
export async function waitLive(driver, timeoutMs = 5_000) {
    const status = await driver.find('#live-status');
    const started = Date.now();
    await driver.waitFor(async () => (await driver.text(status)).trim() === 'Live',
        '#live-status to read "Live"', timeoutMs);
    console.log(`# live after ${Date.now() - started} ms`);
}

/// The text of the flash message (`<p role="status" class="flash">`), waited for.
export async function flashText(driver) {
    return driver.text(await driver.find('p.flash[role="status"]'));
}
