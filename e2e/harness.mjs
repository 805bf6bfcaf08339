// The end-to-end harness: one `roster serve` per test file over a SQLite file in a fresh
// temporary directory, the operator CLI against the same database, and headless Debian
// Chromium driven by playwright-core. Everything listens and connects on loopback only.
//
// Settings (environment, set by scripts/e2e):
//   ROSTER_BIN          the built `roster` binary (required)
//   E2E_CHROMIUM        the browser (default /usr/bin/chromium)
//   E2E_ARTIFACTS       where screenshots go (default ../target/e2e-artifacts)
//   E2E_KEEP=1          keep each test file's temporary directory (database, server log)

import { spawn, execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

export const ARTIFACTS = process.env.E2E_ARTIFACTS
    ? path.resolve(process.env.E2E_ARTIFACTS)
    : path.resolve(here, '..', 'target', 'e2e-artifacts');
const CHROMIUM = process.env.E2E_CHROMIUM || '/usr/bin/chromium';

/// Longest a CLI command, the server's start, or its readiness may take.
const CLI_TIMEOUT_MS = 30_000;
const START_TIMEOUT_MS = 30_000;
/// Default wait for a browser action or expectation; tests stay well inside --test-timeout.
export const UI_TIMEOUT_MS = 10_000;

/// Chromium's flags: headless, no sandbox (root in a container), and nothing that would
/// reach outside the machine on its own (updates, sync, QUIC probes, background fetches).
const CHROMIUM_ARGS = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    // Loopback only: no proxy from the environment may carry the test's requests elsewhere.
    '--no-proxy-server',
];

/// Roster's own settings and proxies that would change the children's behaviour behind
/// the test's back (the same list the Rust tests scrub).
const SCRUBBED = [
    'ROSTER_DATABASE_URL', 'ROSTER_CONFIG', 'ROSTER_LISTEN', 'ROSTER_REGION',
    'ROSTER_LOG_FORMAT', 'ROSTER_TOKEN_PEPPER', 'ROSTER_SIP_REALM', 'ROSTER_OPERATOR_TOKEN',
    'ROSTER_TLS_CERT', 'ROSTER_TLS_KEY', 'ROSTER_REDIS_URL',
    'http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY',
];

function hermeticEnv(extra = {}) {
    const env = { ...process.env };
    for (const name of SCRUBBED) delete env[name];
    return { ...env, ...extra };
}

function rosterBin() {
    const bin = process.env.ROSTER_BIN;
    if (!bin) throw new Error('ROSTER_BIN is not set: run the suite through scripts/e2e');
    if (!existsSync(bin)) throw new Error(`ROSTER_BIN=${bin} does not exist`);
    return bin;
}

/// Runs `roster --database DB ARGS...`; resolves with {stdout, stderr, code}, never throws
/// on a non-zero exit (callers that need success use `cli`).
export function runRoster(database, args, { timeoutMs = CLI_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
        execFile(
            rosterBin(),
            ['--database', database, ...args],
            { env: hermeticEnv({ RUST_LOG: 'warn' }), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 },
            (error, stdout, stderr) => {
                if (error && error.killed) {
                    reject(new Error(`roster ${args.join(' ')} did not finish within ${timeoutMs} ms`));
                    return;
                }
                if (error && typeof error.code !== 'number') {
                    reject(error);
                    return;
                }
                resolve({ stdout, stderr, code: error ? error.code : 0 });
            },
        );
    });
}

/// A unique, valid account sid (letters, digits, '-', '_').
function newSid(label) {
    const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 32);
    return `e2e-${clean}-${process.pid}`;
}

/// Starts a server for one test file. Returns the running `Roster`; call `stop()` in an
/// `after` hook (it is also stopped when the test process exits, whatever happens).
export async function startRoster(label, { voip = false } = {}) {
    const dir = await mkdtemp(path.join(tmpdir(), `roster-e2e-${label}-`));
    const database = path.join(dir, 'roster.db');
    const roster = new Roster(label, dir, database, newSid(label));
    try {
        // A dashboard does many requests per page; the account's default budget is not
        // what these tests are about.
        await roster.cli('accounts', 'create', roster.sid, '--name', `E2E ${label}`,
            '--voip', String(voip), '--rate-limit', '1000000');
        const issued = JSON.parse(await roster.cli('keys', 'create', roster.sid));
        roster.key = issued.api_key;
        roster.token = issued.api_token;
        if (!roster.key || !roster.token) {
            throw new Error(`roster keys create printed no key and token: ${JSON.stringify(issued)}`);
        }
        await roster.start();
    } catch (error) {
        await roster.stop();
        throw error;
    }
    return roster;
}

const running = new Set();
// The last resort: a test process that ends (failure, timeout, signal) never leaves a
// server behind.
process.on('exit', () => {
    for (const child of running) {
        try { child.kill('SIGKILL'); } catch { /* already gone */ }
    }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => process.exit(130));
}

export class Roster {
    constructor(label, dir, database, sid) {
        this.label = label;
        this.dir = dir;
        this.database = database;
        this.sid = sid;
        this.key = null;
        this.token = null;
        this.base = null;
        this.child = null;
        this.output = '';
    }

    /// Runs an operator command that must succeed; returns its stdout.
    async cli(...args) {
        const { stdout, stderr, code } = await runRoster(this.database, args);
        if (code !== 0) {
            throw new Error(`roster ${args.join(' ')} exited ${code}:\n${stdout}${stderr}`);
        }
        return stdout;
    }

    /// `cli` whose stdout is JSON.
    async cliJson(...args) {
        return JSON.parse(await this.cli(...args));
    }

    /// Writes a file in this server's temporary directory and returns its path.
    async writeFile(name, contents) {
        const file = path.join(this.dir, name);
        await writeFile(file, contents);
        return file;
    }

    /// Basic-auth headers of the issued key (or another key and token).
    authHeader(key = this.key, token = this.token) {
        return { Authorization: `Basic ${Buffer.from(`${key}:${token}`).toString('base64')}` };
    }

    /// A `/v2` request straight to the API; resolves with {status, body}.
    async api(method, apiPath, { body, key, token } = {}) {
        const headers = this.authHeader(key, token);
        if (body !== undefined) headers['Content-Type'] = 'application/json';
        const response = await fetch(`${this.base}/v2/accounts/${this.sid}${apiPath}`, {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(CLI_TIMEOUT_MS),
        });
        const text = await response.text();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON: left null */ }
        return { status: response.status, body: json, text };
    }

    /// Every user of the account, through the API (with devices).
    async users() {
        const all = [];
        for (let offset = 0; ; offset += 50) {
            const { status, body, text } = await this.api('GET', `/users?fields=devices&limit=50&offset=${offset}`);
            if (status !== 200) throw new Error(`GET /users answered ${status}: ${text}`);
            const page = body.response.map((entry) => entry.data ?? entry);
            all.push(...page);
            if (page.length < 50) return all;
        }
    }

    async start() {
        const child = spawn(
            rosterBin(),
            ['--database', this.database, 'serve', '--listen', '127.0.0.1:0', '--log-format', 'json'],
            { env: hermeticEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
        );
        this.child = child;
        running.add(child);
        child.once('exit', () => running.delete(child));
        const listening = new Promise((resolve, reject) => {
            const timer = setTimeout(
                () => reject(new Error(`roster serve never said where it listens:\n${this.output}`)),
                START_TIMEOUT_MS,
            );
            const look = (chunk) => {
                this.output += chunk;
                const address = listenAddress(this.output);
                if (address) {
                    clearTimeout(timer);
                    resolve(address);
                }
            };
            child.stdout.setEncoding('utf8').on('data', look);
            child.stderr.setEncoding('utf8').on('data', look);
            child.once('exit', (code, signal) => {
                clearTimeout(timer);
                reject(new Error(`roster serve exited (${code ?? signal}) before listening:\n${this.output}`));
            });
        });
        const address = await listening;
        if (!/^127\.0\.0\.1:\d+$/.test(address)) {
            throw new Error(`roster serve listens on ${address}, not on loopback`);
        }
        this.base = `http://${address}`;
        await this.waitReady();
    }

    async waitReady() {
        const deadline = Date.now() + START_TIMEOUT_MS;
        let last = 'no answer';
        while (Date.now() < deadline) {
            try {
                const response = await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(2_000) });
                if (response.status === 200) return;
                last = `${response.status} ${await response.text()}`;
            } catch (error) {
                last = String(error);
            }
            await sleep(100);
        }
        throw new Error(`/readyz never answered 200 (last: ${last}):\n${this.output}`);
    }

    url(p = '/') {
        return `${this.base}${p}`;
    }

    /// Ends the server (SIGTERM, then SIGKILL after 10 s) and removes the temporary
    /// directory unless E2E_KEEP=1. Safe to call more than once.
    async stop() {
        const child = this.child;
        this.child = null;
        if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGTERM');
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            await exited;
            clearTimeout(timer);
        }
        if (process.env.E2E_KEEP === '1') {
            await writeFile(path.join(this.dir, 'server.log'), this.output).catch(() => {});
            console.log(`# kept ${this.dir}`);
        } else {
            await rm(this.dir, { recursive: true, force: true });
        }
    }
}

/// The address on the JSON "roster is serving" line.
function listenAddress(output) {
    for (const line of output.split('\n')) {
        if (!line.includes('roster is serving')) continue;
        try {
            const event = JSON.parse(line);
            if (event.listen) return event.listen;
            if (event.fields && event.fields.listen) return event.fields.listen;
        } catch { /* a partial line: wait for the rest */ }
        const match = /"listen":"([^"]+)"|listen=(\S+)/.exec(line);
        if (match) return match[1] || match[2];
    }
    return null;
}

// ---------------------------------------------------------------------------------------
// The browser.

/// Launches Debian's Chromium for one test file. playwright-core gives every launch a
/// fresh, empty user-data directory of its own and removes it on close.
export async function launchBrowser() {
    if (!existsSync(CHROMIUM)) {
        throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (scripts/e2e does)`);
    }
    return chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: CHROMIUM_ARGS,
        env: hermeticEnv(),
        timeout: START_TIMEOUT_MS,
    });
}

/// A fresh context (its own cookies) and page, with bounded default timeouts.
export async function newPage(browser, options = {}) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
    context.setDefaultTimeout(UI_TIMEOUT_MS);
    context.setDefaultNavigationTimeout(UI_TIMEOUT_MS);
    const page = await context.newPage();
    // What the page itself reports is worth seeing when a test fails.
    page.on('pageerror', (error) => console.log(`# page error on ${page.url()}: ${error.message}`));
    return page;
}

/// Saves a full-page screenshot as `NAME.png` in the artifacts directory.
export async function screenshot(page, name) {
    await mkdir(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
}

/// Runs `body(page)` in a fresh page; on failure saves `failed-NAME.png` and the page's
/// HTML, then rethrows. The page's context is always closed.
export async function withPage(browser, name, body, options = {}) {
    const page = await newPage(browser, options);
    try {
        return await body(page);
    } catch (error) {
        try {
            await screenshot(page, `failed-${name}`);
            await writeFile(path.join(ARTIFACTS, `failed-${name}.html`), await page.content());
            console.log(`# failure artifacts: ${path.join(ARTIFACTS, `failed-${name}`)}.{png,html} (at ${page.url()})`);
        } catch { /* the page may be gone; the original error matters */ }
        throw error;
    } finally {
        await page.context().close().catch(() => {});
    }
}

// ---------------------------------------------------------------------------------------
// Accessibility.

const AXE_PATH = require.resolve('axe-core/axe.min.js');
const AXE_FAILING = new Set(['serious', 'critical']);

/// Runs axe-core on the page; prints every violation and returns the serious and critical
/// ones (a test asserts that list is empty).
export async function axeViolations(page, label) {
    const loaded = await page.evaluate(() => typeof window.axe !== 'undefined');
    if (!loaded) {
        try {
            await page.addScriptTag({ path: AXE_PATH });
        } catch (error) {
            // A Content-Security-Policy that forbids inline scripts blocks the tag; evaluate
            // the same source through the DevTools protocol instead, which CSP does not govern.
            const source = await readFile(AXE_PATH, 'utf8');
            await page.evaluate(source);
        }
    }
    const results = await page.evaluate(async () => {
        // eslint-disable-next-line no-undef
        const run = await axe.run(document, { resultTypes: ['violations'] });
        return run.violations.map((v) => ({
            id: v.id,
            impact: v.impact,
            help: v.help,
            nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
        }));
    });
    for (const v of results) {
        console.log(`# axe ${label}: [${v.impact}] ${v.id}: ${v.help}`);
        for (const n of v.nodes.slice(0, 5)) {
            console.log(`#     ${n.target}: ${(n.summary || '').replace(/\s+/g, ' ').slice(0, 300)}`);
        }
    }
    if (results.length === 0) console.log(`# axe ${label}: no violations`);
    return results.filter((v) => AXE_FAILING.has(v.impact));
}

// ---------------------------------------------------------------------------------------
// Dashboard steps shared by the tests (names from the UI contract).

/// Signs in through the form and waits for the users page.
export async function signIn(page, roster, { key = roster.key, token = roster.token } = {}) {
    await page.goto(roster.url('/signin'));
    await page.getByLabel('API key', { exact: true }).fill(key);
    await page.getByLabel('API token', { exact: true }).fill(token);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/');
    await page.getByRole('heading', { level: 1, name: 'Users', exact: true }).waitFor();
}

/// Creates a user through the API with a phone; returns the created user (with devices).
export async function createUserViaApi(roster, fields) {
    const { status, body, text } = await roster.api('POST', '/users', { body: fields });
    if (status !== 200 && status !== 201) throw new Error(`POST /users answered ${status}: ${text}`);
    return body.response.data;
}

/// Adds a device to a user through the API; returns it.
export async function addDeviceViaApi(roster, userId, fields) {
    const { status, body, text } = await roster.api('POST', `/users/${userId}/devices`, { body: fields });
    if (status !== 200 && status !== 201) throw new Error(`POST /users/${userId}/devices answered ${status}: ${text}`);
    return body.response.data;
}

/// Polls `check` until it returns a truthy value or `timeoutMs` passes.
export async function eventually(check, { timeoutMs = UI_TIMEOUT_MS, what = 'condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    let last;
    while (Date.now() < deadline) {
        try {
            const value = await check();
            if (value) return value;
        } catch (error) {
            last = error;
        }
        await sleep(200);
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}
