// Searching the users page by part of a name and part of a number, and paging through
// more users than one page holds (made with the CLI's CSV import).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startRoster, launchBrowser, withPage, signIn, screenshot } from '../harness.mjs';
import { showing } from '../dashboard.mjs';

/// More users than any sensible page holds, so there are at least two pages.
const MANY = 120;

let roster;
let browser;

before(async () => {
    roster = await startRoster('search');
    browser = await launchBrowser();
    const rows = ['first_name,last_name,email,device_contact_uri,device_name,role'];
    for (let i = 1; i <= MANY; i += 1) {
        const n = String(i).padStart(3, '0');
        rows.push(`Agent,Number ${n},agent${n}@example.com,+9198450${String(40000 + i)},Desk,user`);
    }
    rows.push('Zebulon,Quill,zq@example.com,+919123456789,Desk,supervisor');
    rows.push('Zara,Quint,zara@example.com,+918000000001,Desk,user');
    const file = await roster.writeFile('users.csv', `${rows.join('\n')}\n`);
    const imported = await roster.cliJson('users', 'import', roster.sid, file);
    assert.equal(imported.created, MANY + 2);
});

after(async () => {
    await browser?.close();
    await roster?.stop();
});

/// Searches from the users page's search form; returns the full names listed.
async function search(page, query) {
    const form = page.getByRole('search');
    const box = form.getByLabel('Search', { exact: true });
    assert.equal(await box.getAttribute('type'), 'search');
    await box.fill(query);
    await form.getByRole('button', { name: 'Search', exact: true }).click();
    await page.waitForURL((url) => url.searchParams.get('q') === query);
    return names(page);
}

async function names(page) {
    return (await page.locator('#users tr[data-user-id]').evaluateAll((rows) =>
        rows.map((row) => row.querySelector('a[href^="/users/"]')?.textContent.trim())));
}

test('search finds users by part of a name, case aside', async () => {
    await withPage(browser, 'search-name', async (page) => {
        await signIn(page, roster);
        assert.deepEqual(await search(page, 'quil'), ['Zebulon Quill']);
        assert.deepEqual((await search(page, 'Qui')).sort(), ['Zara Quint', 'Zebulon Quill']);
        // The box keeps the query, so the user sees what was searched.
        assert.equal(await page.getByRole('search').getByLabel('Search', { exact: true }).inputValue(), 'Qui');
        await screenshot(page, 'users-search');
        assert.deepEqual(await search(page, 'nobody-has-this-name'), []);
    });
});

test('search finds users by part of a number and by email', async () => {
    await withPage(browser, 'search-number', async (page) => {
        await signIn(page, roster);
        // The national part without the country code, as people say their numbers.
        assert.deepEqual(await search(page, '9123456789'), ['Zebulon Quill']);
        assert.deepEqual(await search(page, '23456'), ['Zebulon Quill']);
        assert.deepEqual(await search(page, 'zara@example'), ['Zara Quint']);
    });
});

test('paging walks through every user once', async () => {
    await withPage(browser, 'paging', async (page) => {
        await signIn(page, roster);
        const pages = page.getByRole('navigation', { name: 'Pages' });
        let range = await showing(page);
        assert.equal(range.from, 1);
        assert.equal(range.total, MANY + 2);
        assert.ok(range.to < range.total, `one page holds all ${range.total} users`);
        assert.equal(await pages.getByRole('link', { name: 'Previous page', exact: true }).count(), 0,
            'the first page links to a previous page');
        const size = range.to - range.from + 1;
        const seen = new Set(await page.locator('#users tr[data-user-id]').evaluateAll((rows) => rows.map((r) => r.dataset.userId)));
        assert.equal(seen.size, size, 'the rows shown differ from "Showing A–B"');

        for (let turn = 0; range.to < range.total; turn += 1) {
            assert.ok(turn < MANY, 'paging never ends');
            await pages.getByRole('link', { name: 'Next page', exact: true }).click();
            await page.waitForLoadState();
            const next = await showing(page);
            assert.equal(next.from, range.to + 1, `page after ${range.from}–${range.to} starts at ${next.from}`);
            assert.equal(next.total, range.total);
            range = next;
            const ids = await page.locator('#users tr[data-user-id]').evaluateAll((rows) => rows.map((r) => r.dataset.userId));
            assert.equal(ids.length, range.to - range.from + 1);
            for (const id of ids) {
                assert.ok(!seen.has(id), `user ${id} shown on two pages`);
                seen.add(id);
            }
        }
        assert.equal(seen.size, MANY + 2);
        assert.equal(await pages.getByRole('link', { name: 'Next page', exact: true }).count(), 0,
            'the last page links to a next page');
        await screenshot(page, 'users-last-page');

        await pages.getByRole('link', { name: 'Previous page', exact: true }).click();
        await page.waitForLoadState();
        const back = await showing(page);
        assert.equal(back.to, range.from - 1);
        assert.equal(back.to - back.from + 1, size);
    });
});

test('paging keeps the search', async () => {
    await withPage(browser, 'paging-search', async (page) => {
        await signIn(page, roster);
        await search(page, 'Agent');
        const first = await showing(page);
        assert.equal(first.total, MANY);
        await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Next page', exact: true }).click();
        await page.waitForLoadState();
        assert.equal(new URL(page.url()).searchParams.get('q'), 'Agent');
        const second = await showing(page);
        assert.equal(second.total, MANY);
        assert.equal(second.from, first.to + 1);
        for (const name of await names(page)) assert.match(name, /^Agent Number \d{3}$/);
    });
});
