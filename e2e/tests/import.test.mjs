// The dashboard's CSV import: one bad row creates nothing and is named in the report; a
// dry run checks only; a good file creates the users.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, launchBrowser, withPage, signIn, screenshot } from '../harness.mjs';
import { flash } from '../dashboard.mjs';

let roster;
let browser;

before(async () => {
    roster = await startRoster('import');
    browser = await launchBrowser();
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

const HEADER = 'first_name,last_name,email,device_contact_uri,device_name,role';
const GOOD = [
    'Ishaan,Kapoor,ishaan@example.com,+919845050001,Desk,user',
    'Jaya,Bhatt,jaya@example.com,+919845050002,Desk,supervisor',
    'Kiran,Shetty,kiran@example.com,+919845050003,Desk,admin',
];

function csv(rows) {
    return Buffer.from(`${[HEADER, ...rows].join('\n')}\n`);
}

async function upload(page, name, contents, { dryRun = false } = {}) {
    await page.goto(roster.url('/import'));
    await page.getByRole('heading', { level: 1, name: 'Import users', exact: true }).waitFor();
    await page.getByLabel('CSV file', { exact: true }).setInputFiles({ name, mimeType: 'text/csv', buffer: contents });
    const dry = page.getByLabel('Check only (dry run)', { exact: true });
    if (dryRun) await dry.check(); else await dry.uncheck();
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.waitForLoadState();
}

test('a file with one bad row creates nothing and names the row', async () => {
    await withPage(browser, 'import-bad-row', async (page) => {
        await signIn(page, roster);
        await upload(page, 'bad.csv', csv([GOOD[0], 'Lata,Iyer,not-an-email,+919845050004,Desk,user', GOOD[2]]));
        const alert = page.getByRole('alert');
        await alert.waitFor();
        const items = await alert.getByRole('listitem').allInnerTexts();
        assert.equal(items.length, 1, `one bad row, reported as: ${JSON.stringify(items)}`);
        // Row 2 of the data, on line 3 of the file (after the header).
        assert.match(items[0], /^\s*row 2 \(line 3\): .*invalid email/);
        await screenshot(page, 'import-report');
        assert.equal((await roster.users()).length, 0, 'users were created from a file with a bad row');
    });
});

test('a dry run of a good file checks it and creates nothing', async () => {
    await withPage(browser, 'import-dry-run', async (page) => {
        await signIn(page, roster);
        await upload(page, 'good.csv', csv(GOOD), { dryRun: true });
        await flash(page).filter({ hasText: '3 rows are valid; nothing was created' }).waitFor();
        assert.equal(await page.getByRole('alert').count(), 0);
        assert.equal((await roster.users()).length, 0, 'a dry run created users');
    });
});

test('a good file creates its users', async () => {
    await withPage(browser, 'import-good', async (page) => {
        await signIn(page, roster);
        await upload(page, 'good.csv', csv(GOOD));
        await flash(page).filter({ hasText: 'Imported 3 users' }).waitFor();
        await screenshot(page, 'import-done');
        const users = await roster.users();
        assert.deepEqual(users.map((u) => u.email).sort(), ['ishaan@example.com', 'jaya@example.com', 'kiran@example.com']);
        assert.equal(users.find((u) => u.email === 'jaya@example.com').role, 'supervisor');

        // The same file again clashes with what it created, row by row, and adds nothing.
        await upload(page, 'again.csv', csv(GOOD));
        const items = await page.getByRole('alert').getByRole('listitem').allInnerTexts();
        assert.equal(items.length, 3, JSON.stringify(items));
        items.forEach((item, i) => assert.match(item, new RegExp(`^\\s*row ${i + 1} \\(line ${i + 2}\\): `)));
        assert.equal((await roster.users()).length, 3);
    });
});
