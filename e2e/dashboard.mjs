// Locators and steps on the dashboard's pages, by the names the UI contract gives them.

import assert from 'node:assert/strict';

/// The row of a user in `<table id="users">`.
export function userRow(page, userId) {
    return page.locator(`#users tr[data-user-id="${userId}"]`);
}

/// A device in a user's row on the users page.
export function userRowDevice(page, userId, deviceId) {
    return userRow(page, userId).locator(`li[data-device-id="${deviceId}"]`);
}

/// The row of a device in `<table id="devices">` on a user's page.
export function deviceRow(page, deviceId) {
    return page.locator(`#devices tr[data-device-id="${deviceId}"]`);
}

/// The presence shown in a user's row: the text of the one cell that reads "available",
/// "busy" or "off" (the contract names the words, not the cell).
export async function presenceOf(page, userId) {
    const cells = await userRow(page, userId).locator('td, th').allInnerTexts();
    const found = cells
        .map((text) => text.trim().toLowerCase())
        .filter((text) => /^[^a-z]*(available|busy|off)[^a-z]*$/.test(text))
        .map((text) => /(available|busy|off)/.exec(text)[1]);
    return found.length === 1 ? found[0] : `no single presence cell in ${JSON.stringify(cells)}`;
}

/// The users page's "Showing A–B of N", as numbers.
export async function showing(page) {
    const text = await page.getByRole('navigation', { name: 'Pages' }).innerText();
    const match = /Showing\s+([\d,]+)\s*[–-]\s*([\d,]+)\s+of\s+([\d,]+)/.exec(text);
    assert.ok(match, `no "Showing A–B of N" in the Pages navigation: ${JSON.stringify(text)}`);
    const number = (s) => Number(s.replace(/,/g, ''));
    return { from: number(match[1]), to: number(match[2]), total: number(match[3]) };
}

/// True when `locator` is the focused element.
export async function isFocused(locator) {
    return locator.evaluate((element) => element === document.activeElement);
}

/// A description of the focused element, for failure messages.
export async function describeFocus(page) {
    return page.evaluate(() => {
        const el = document.activeElement;
        if (!el || el === document.body) return 'body';
        const name = el.getAttribute('aria-label') || el.labels?.[0]?.innerText || el.innerText || el.getAttribute('name') || '';
        return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}> ${JSON.stringify(name.trim().slice(0, 60))}`;
    });
}

/// Fills and submits the "New user" form (fields left undefined are not touched).
export async function fillNewUser(page, { first, last, email, role, number, deviceName }) {
    const field = (label) => page.getByLabel(label, { exact: true });
    if (first !== undefined) await field('First name').fill(first);
    if (last !== undefined) await field('Last name').fill(last);
    if (email !== undefined) await field('Email').fill(email);
    if (role !== undefined) await field('Role').selectOption(role);
    if (number !== undefined) await field('Phone number').fill(number);
    if (deviceName !== undefined) await field('Device name').fill(deviceName);
    await page.getByRole('button', { name: 'Create user', exact: true }).click();
}

/// The text of the flash message (`<p role="status" class="flash">`).
export function flash(page) {
    return page.locator('p.flash[role="status"]');
}
