// Firefox for the end-to-end tests: Debian's firefox-esr, headless, with a fresh profile,
// driven by geckodriver through the W3C WebDriver HTTP API. The client is `fetch` and a
// few dozen lines: the tests need navigation, finding elements, clicks, typing, keys, the
// window's size, scripts and screenshots, and nothing of selenium-webdriver's own (it
// would bring a dependency tree and a driver manager that wants to download drivers).
//
// Settings (environment, set by scripts/e2e-firefox):
//   E2E_FIREFOX            the browser (default /usr/bin/firefox-esr)
//   E2E_GECKODRIVER        geckodriver (default ../target/tools/bin/geckodriver)
//   E2E_FIREFOX_ARTIFACTS  where screenshots go (default ../target/e2e-artifacts/firefox)

import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

import { UI_TIMEOUT_MS } from '../harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

export const FIREFOX = process.env.E2E_FIREFOX || '/usr/bin/firefox-esr';
export const GECKODRIVER = process.env.E2E_GECKODRIVER || path.join(repo, 'target', 'tools', 'bin', 'geckodriver');
export const ARTIFACTS = process.env.E2E_FIREFOX_ARTIFACTS
    ? path.resolve(process.env.E2E_FIREFOX_ARTIFACTS)
    : path.join(repo, 'target', 'e2e-artifacts', 'firefox');

/// Longest geckodriver and Firefox may take to start, and any one WebDriver command.
const START_TIMEOUT_MS = 30_000;
const COMMAND_TIMEOUT_MS = 30_000;

/// Preferences that keep Firefox from opening any connection of its own, so the only
/// traffic is the test's, to the loopback server. geckodriver adds its own defaults (no
/// normandy, no app update, remote settings pointed at a data: URL...); these say the rest
/// explicitly, grouped as docs/e2e.md lists them.
export const PREFS = {
    // Updates: the application, add-ons, system add-ons, search engines, media plugins.
    'app.update.auto': false,
    'app.update.checkInstallTime': false,
    'app.update.disabledForTesting': true,
    'extensions.update.enabled': false,
    'extensions.update.autoUpdateDefault': false,
    'extensions.systemAddon.update.enabled': false,
    'extensions.systemAddon.update.url': '',
    'extensions.getAddons.cache.enabled': false,
    'extensions.getAddons.showPane': false,
    'extensions.htmlaboutaddons.recommendations.enabled': false,
    'extensions.blocklist.enabled': false,
    'browser.search.update': false,
    'browser.search.suggest.enabled': false,
    'media.gmp-manager.updateEnabled': false,
    'media.gmp-manager.url': '',
    'media.gmp-gmpopenh264.enabled': false,
    'media.gmp-widevinecdm.enabled': false,
    // Telemetry and data reporting, crash reports.
    'toolkit.telemetry.enabled': false,
    'toolkit.telemetry.unified': false,
    'toolkit.telemetry.archive.enabled': false,
    'toolkit.telemetry.server': '',
    'toolkit.telemetry.newProfilePing.enabled': false,
    'toolkit.telemetry.firstShutdownPing.enabled': false,
    'toolkit.telemetry.shutdownPingSender.enabled': false,
    'toolkit.telemetry.updatePing.enabled': false,
    'toolkit.telemetry.bhrPing.enabled': false,
    'toolkit.telemetry.reportingpolicy.firstRun': false,
    'toolkit.telemetry.coverage.opt-out': true,
    'toolkit.coverage.endpoint.base': '',
    'datareporting.healthreport.uploadEnabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.policy.dataSubmissionPolicyBypassNotification': true,
    'datareporting.usage.uploadEnabled': false,
    'browser.ping-centre.telemetry': false,
    'browser.tabs.crashReporting.sendReport': false,
    'browser.crashReports.unsubmittedCheck.autoSubmit2': false,
    'breakpad.reportURL': '',
    // Safe browsing and tracking-protection lists (downloaded and looked up remotely).
    'browser.safebrowsing.malware.enabled': false,
    'browser.safebrowsing.phishing.enabled': false,
    'browser.safebrowsing.blockedURIs.enabled': false,
    'browser.safebrowsing.downloads.enabled': false,
    'browser.safebrowsing.downloads.remote.enabled': false,
    'browser.safebrowsing.downloads.remote.url': '',
    'browser.safebrowsing.passwords.enabled': false,
    'browser.safebrowsing.provider.google.updateURL': '',
    'browser.safebrowsing.provider.google.gethashURL': '',
    'browser.safebrowsing.provider.google4.updateURL': '',
    'browser.safebrowsing.provider.google4.gethashURL': '',
    'browser.safebrowsing.provider.mozilla.updateURL': '',
    'browser.safebrowsing.provider.mozilla.gethashURL': '',
    'privacy.trackingprotection.enabled': false,
    // Captive portal and connectivity checks.
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'captivedetect.canonicalURL': '',
    // Remote settings (and what feeds on them: certificate lists, breach alerts,
    // translations models, top sites). A release build honours another server only with
    // MOZ_DISABLE_NONLOCAL_CONNECTIONS set (see isolatedEnv), and skips all remote activity
    // only for this exact value.
    'services.settings.server': 'data:,#remote-settings-dummy/v1',
    'security.remote_settings.crlite_filters.enabled': false,
    'security.remote_settings.intermediates.enabled': false,
    'signon.management.page.breach-alerts.enabled': false,
    'browser.translations.enable': false,
    'browser.ml.enable': false,
    'browser.topsites.useRemoteSetting': false,
    'browser.topsites.contile.enabled': false,
    // Normandy, Shield studies, experiments and messaging.
    'app.normandy.enabled': false,
    'app.normandy.api_url': '',
    'app.shield.optoutstudies.enabled': false,
    'messaging-system.rsexperimentloader.enabled': false,
    'browser.discovery.enabled': false,
    // Pocket and the new-tab page's feeds.
    'extensions.pocket.enabled': false,
    'browser.newtabpage.enabled': false,
    'browser.newtab.preload': false,
    'browser.newtabpage.activity-stream.feeds.section.topstories': false,
    'browser.newtabpage.activity-stream.feeds.system.topstories': false,
    'browser.newtabpage.activity-stream.feeds.telemetry': false,
    'browser.newtabpage.activity-stream.telemetry': false,
    'browser.newtabpage.activity-stream.showSponsored': false,
    'browser.newtabpage.activity-stream.showSponsoredTopSites': false,
    'browser.newtabpage.activity-stream.default.sites': '',
    'browser.urlbar.quicksuggest.enabled': false,
    'browser.urlbar.suggest.quicksuggest.sponsored': false,
    'browser.urlbar.suggest.quicksuggest.nonsponsored': false,
    'browser.vpn_promo.enabled': false,
    // Region and location lookups.
    'browser.region.network.url': '',
    'browser.region.update.enabled': false,
    'browser.search.region': 'US',
    'geo.enabled': false,
    'geo.provider.network.url': '',
    'geo.provider.use_geoclue': false,
    'geo.provider.use_gpsd': false,
    // DNS over HTTPS: off by choice (mode 5), and the rollout that would turn it on.
    'network.trr.mode': 5,
    'network.trr.uri': '',
    'network.trr.confirmationNS': 'skip',
    'doh-rollout.disable-heuristics': true,
    // Web push.
    'dom.push.enabled': false,
    'dom.push.connection.enabled': false,
    'dom.push.serverURL': '',
    // Prefetching and speculative connections.
    'network.prefetch-next': false,
    'network.dns.disablePrefetch': true,
    'network.dns.disablePrefetchFromHTTPS': true,
    'network.predictor.enabled': false,
    'network.predictor.enable-prefetch': false,
    'network.http.speculative-parallel-limit': 0,
    'browser.urlbar.speculativeConnect.enabled': false,
    'browser.places.speculativeConnect.enabled': false,
    // Everything else that would reach out: accounts and sync, HTTP/3, OCSP, the MITM
    // probe, first-run and what's-new pages.
    'identity.fxaccounts.enabled': false,
    'network.http.http3.enable': false,
    'security.OCSP.enabled': 0,
    'security.certerrors.mitm.priming.enabled': false,
    'browser.aboutwelcome.enabled': false,
    'browser.startup.page': 0,
    'browser.startup.homepage': 'about:blank',
    'browser.startup.homepage_override.mstone': 'ignore',
    'startup.homepage_welcome_url': 'about:blank',
    'startup.homepage_welcome_url.additional': '',
    'browser.shell.checkDefaultBrowser': false,
    'browser.uitour.enabled': false,
    // No proxy from anywhere: the test's requests go straight to loopback.
    'network.proxy.type': 0,
    // Not network: the key and token typed into the sign-in form are no password to save,
    // and a "save password?" panel must not take the keyboard's focus.
    'signon.rememberSignons': false,
};

/// For `openPhoneWindow`: a script may open a popup without a click.
export const PHONE_PREFS = { 'dom.disable_open_during_load': false };

/// A free loopback port: bound, read and released, for geckodriver to bind next.
async function freePort() {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

/// What the children see: no proxies, no display, no user configuration; their own home
/// and temporary directory, removed afterwards.
function isolatedEnv(home) {
    return {
        PATH: process.env.PATH || '/usr/bin:/bin',
        HOME: home,
        TMPDIR: home,
        LANG: 'C.UTF-8',
        MOZ_HEADLESS: '1',
        MOZ_CRASHREPORTER_DISABLE: '1',
        // Firefox's own switch, as Mozilla's test harnesses use it: connections to
        // anything but loopback are refused, and the remote settings preferences above
        // are honoured (without it a release build still resolves its settings server).
        MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1',
    };
}

/// Sends `signal` to geckodriver's process group: Firefox and its content processes are in
/// it, so none outlives a geckodriver that is stopped before it ended the session.
function signalGroup(child, signal) {
    try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}

const running = new Set();
process.on('exit', () => {
    for (const child of running) signalGroup(child, 'SIGKILL');
});

/// A WebDriver error answer, with its W3C error code.
export class WebDriverError extends Error {
    constructor(code, message, command) {
        super(`${command}: ${code}: ${message}`);
        this.code = code;
    }
}

/// Starts geckodriver on a free loopback port and a Firefox session behind it. Call
/// `quit()` in an `after` hook.
export async function launchFirefox({ width = 1280, height = 900, prefs = {} } = {}) {
    for (const [what, file] of [['Firefox', FIREFOX], ['geckodriver', GECKODRIVER]]) {
        if (!existsSync(file)) {
            throw new Error(`${what} is missing at ${file}: run the suite through scripts/e2e-firefox`);
        }
    }
    const home = await mkdtemp(path.join(tmpdir(), 'roster-e2e-firefox-'));
    const driver = new Driver(home);
    try {
        await driver.start();
        await driver.newSession(prefs);
        await driver.setWindowSize(width, height);
    } catch (error) {
        await driver.quit();
        throw error;
    }
    return driver;
}

export class Driver {
    constructor(home) {
        this.home = home;
        this.child = null;
        this.base = null;
        this.session = null;
        this.output = '';
    }

    async start() {
        // A port taken between freePort() and geckodriver's bind makes it exit; try again.
        let last;
        for (let attempt = 0; attempt < 3; attempt += 1) {
            const port = await freePort();
            try {
                await this.spawnOn(port);
                return;
            } catch (error) {
                last = error;
                await this.stopDriver();
            }
        }
        throw last;
    }

    async spawnOn(port) {
        const child = spawn(
            GECKODRIVER,
            ['--host', '127.0.0.1', '--port', String(port), '--profile-root', this.home, '--log', 'warn'],
            { env: isolatedEnv(this.home), stdio: ['ignore', 'pipe', 'pipe'], detached: true },
        );
        this.child = child;
        running.add(child);
        child.once('exit', () => running.delete(child));
        child.once('error', (error) => { this.output += `\n${error.message}`; });
        const collect = (chunk) => {
            // Firefox's own console is chatty; the last part is what explains a failure.
            this.output = (this.output + chunk).slice(-20_000);
        };
        child.stdout.setEncoding('utf8').on('data', collect);
        child.stderr.setEncoding('utf8').on('data', collect);
        this.base = `http://127.0.0.1:${port}`;
        const deadline = Date.now() + START_TIMEOUT_MS;
        while (Date.now() < deadline) {
            if (child.exitCode !== null || child.signalCode !== null) {
                throw new Error(`geckodriver exited (${child.exitCode ?? child.signalCode}):\n${this.output}`);
            }
            try {
                const response = await fetch(`${this.base}/status`, { signal: AbortSignal.timeout(2_000) });
                const body = await response.json();
                if (body.value && body.value.ready) return;
            } catch { /* not listening yet */ }
            await sleep(100);
        }
        throw new Error(`geckodriver never answered /status on ${this.base}:\n${this.output}`);
    }

    async newSession(extraPrefs = {}) {
        const value = await this.request('POST', '/session', {
            capabilities: {
                alwaysMatch: {
                    browserName: 'firefox',
                    acceptInsecureCerts: false,
                    pageLoadStrategy: 'normal',
                    timeouts: { implicit: 0, pageLoad: UI_TIMEOUT_MS, script: UI_TIMEOUT_MS },
                    'moz:firefoxOptions': {
                        binary: FIREFOX,
                        args: ['-headless', '-no-remote'],
                        prefs: { ...PREFS, ...extraPrefs },
                        env: { MOZ_CRASHREPORTER_DISABLE: '1', MOZ_DISABLE_NONLOCAL_CONNECTIONS: '1' },
                        log: { level: 'error' },
                    },
                },
            },
        }, START_TIMEOUT_MS);
        this.session = value.sessionId;
        this.capabilities = value.capabilities;
    }

    /// Firefox's version as the session reports it.
    get browserVersion() {
        return this.capabilities?.browserVersion;
    }

    /// One WebDriver command; resolves with its `value`, throws a `WebDriverError`.
    async request(method, route, body, timeoutMs = COMMAND_TIMEOUT_MS) {
        const command = `${method} ${route}`;
        let response;
        try {
            response = await fetch(`${this.base}${route}`, {
                method,
                headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
                body: body === undefined ? undefined : JSON.stringify(body),
                signal: AbortSignal.timeout(timeoutMs),
            });
        } catch (error) {
            throw new Error(`${command}: ${error.message}\n${this.output.slice(-4_000)}`);
        }
        const text = await response.text();
        let parsed;
        try {
            parsed = JSON.parse(text);
        } catch {
            throw new Error(`${command}: ${response.status}, not JSON: ${text.slice(0, 500)}`);
        }
        const value = parsed.value;
        if (!response.ok || (value && typeof value === 'object' && 'error' in value && response.status >= 400)) {
            throw new WebDriverError(value?.error ?? String(response.status), value?.message ?? text, command);
        }
        return value;
    }

    /// A command in this session.
    cmd(method, route, body, timeoutMs) {
        if (!this.session) throw new Error('no WebDriver session');
        return this.request(method, `/session/${this.session}${route}`, body, timeoutMs);
    }

    // -----------------------------------------------------------------------------------
    // Navigation, window, scripts.

    goto(url) { return this.cmd('POST', '/url', { url }); }
    url() { return this.cmd('GET', '/url'); }
    title() { return this.cmd('GET', '/title'); }
    source() { return this.cmd('GET', '/source'); }

    setWindowSize(width, height) {
        return this.cmd('POST', '/window/rect', { width, height });
    }

    /// Opens a popup window of `width` x `height` (no toolbars, as on a phone) and makes it
    /// the current one. A normal Firefox window cannot be narrower than its toolbars allow
    /// (500 px in 153 ESR), so a phone's 375 px needs a popup. The session needs
    /// `PHONE_PREFS` (a popup opened by a script is otherwise blocked).
    async openPhoneWindow(width, height) {
        const before = await this.cmd('GET', '/window/handles');
        await this.execute((w, h) => {
            window.open('about:blank', 'phone', `popup,width=${w},height=${h}`);
        }, width, height);
        const handle = await this.waitFor(async () => {
            const after = await this.cmd('GET', '/window/handles');
            return after.find((candidate) => !before.includes(candidate));
        }, 'the phone window to open');
        await this.cmd('POST', '/window', { handle });
        await this.setWindowSize(width, height);
        return handle;
    }

    /// Runs `fn` (its source) in the page with `args`; elements in and out are references.
    execute(fn, ...args) {
        return this.cmd('POST', '/execute/sync', { script: `return (${fn}).apply(null, arguments);`, args });
    }

    // -----------------------------------------------------------------------------------
    // Elements. An element is the W3C reference object `{ [ELEMENT_KEY]: id }`.

    async findAll(css, from = null) {
        const route = from ? `/element/${elementId(from)}/elements` : '/elements';
        return this.cmd('POST', route, { using: 'css selector', value: css });
    }

    /// The one element matching `css`, waited for; fails when there is none or several.
    async find(css, { timeoutMs = UI_TIMEOUT_MS, from = null } = {}) {
        return this.waitFor(async () => {
            const found = await this.findAll(css, from);
            if (found.length > 1) throw new Error(`${found.length} elements match ${css}`);
            return found[0];
        }, `an element matching ${css}`, timeoutMs);
    }

    /// The element with `role` whose accessible name is `name`, as Firefox's accessibility
    /// engine computes them (WebDriver's computed role and label), waited for.
    async byRole(role, name, { timeoutMs = UI_TIMEOUT_MS, from = null } = {}) {
        const css = ROLE_SELECTORS[role];
        if (!css) throw new Error(`no selector for role ${role}`);
        return this.waitFor(async () => {
            const matches = [];
            for (const element of await this.findAll(css, from)) {
                const [actual, label] = await Promise.all([
                    this.cmd('GET', `/element/${elementId(element)}/computedrole`),
                    this.cmd('GET', `/element/${elementId(element)}/computedlabel`),
                ]);
                if (actual === role && label.trim() === name) matches.push(element);
            }
            if (matches.length > 1) throw new Error(`${matches.length} ${role}s named ${JSON.stringify(name)}`);
            return matches[0];
        }, `a ${role} named ${JSON.stringify(name)}`, timeoutMs);
    }

    /// The form control whose `<label>` reads `text` exactly, waited for.
    async byLabel(text, { timeoutMs = UI_TIMEOUT_MS } = {}) {
        return this.waitFor(() => this.execute((wanted) => {
            const labels = Array.from(document.querySelectorAll('label'))
                .filter((label) => label.textContent.replace(/\s+/g, ' ').trim() === wanted && label.control);
            return labels.length === 1 ? labels[0].control : null;
        }, text), `a field labelled ${JSON.stringify(text)}`, timeoutMs);
    }

    click(element) { return this.cmd('POST', `/element/${elementId(element)}/click`, {}); }
    clear(element) { return this.cmd('POST', `/element/${elementId(element)}/clear`, {}); }
    text(element) { return this.cmd('GET', `/element/${elementId(element)}/text`); }
    displayed(element) { return this.cmd('GET', `/element/${elementId(element)}/displayed`); }
    attribute(element, name) { return this.cmd('GET', `/element/${elementId(element)}/attribute/${name}`); }

    async fill(element, value) {
        await this.clear(element);
        await this.cmd('POST', `/element/${elementId(element)}/value`, { text: value });
    }

    /// Presses keys (WebDriver key codes, such as KEYS.tab) one after another.
    async press(...keys) {
        const actions = [];
        for (const key of keys) {
            actions.push({ type: 'keyDown', value: key }, { type: 'keyUp', value: key });
        }
        await this.cmd('POST', '/actions', { actions: [{ type: 'key', id: 'keyboard', actions }] });
        await this.cmd('DELETE', '/actions');
    }

    /// True when `element` has the keyboard's focus.
    async isFocused(element) {
        return this.execute((el) => el === document.activeElement, element);
    }

    /// The focused element, described for failure messages.
    async describeFocus() {
        return this.execute(() => {
            const el = document.activeElement;
            if (!el || el === document.body) return 'body';
            const name = el.getAttribute('aria-label') || el.innerText || el.getAttribute('name') || '';
            return `<${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}> ${JSON.stringify(name.trim().slice(0, 60))}`;
        });
    }

    /// Polls `check` until it returns a truthy value; errors thrown meanwhile are retried
    /// and the last one is reported if time runs out.
    async waitFor(check, what, timeoutMs = UI_TIMEOUT_MS) {
        const deadline = Date.now() + timeoutMs;
        let last;
        for (;;) {
            try {
                const value = await check();
                if (value) return value;
                last = undefined;
            } catch (error) {
                last = error;
            }
            if (Date.now() >= deadline) break;
            await sleep(150);
        }
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    }

    /// Waits until the page's path is `pathname` and its document has loaded.
    async waitForPath(pathname, timeoutMs = UI_TIMEOUT_MS) {
        return this.waitFor(async () => {
            const current = new URL(await this.url());
            return current.pathname === pathname
                && (await this.execute(() => document.readyState)) === 'complete';
        }, `the page ${pathname}`, timeoutMs);
    }

    // -----------------------------------------------------------------------------------
    // Screenshots and the end.

    /// Saves the whole page as `NAME.png` in the artifacts directory (Firefox's full-page
    /// screenshot; the viewport's where that is not offered).
    async screenshot(name) {
        let data;
        try {
            data = await this.cmd('GET', '/moz/screenshot/full');
        } catch (error) {
            if (!(error instanceof WebDriverError)) throw error;
            data = await this.cmd('GET', '/screenshot');
        }
        await mkdir(ARTIFACTS, { recursive: true });
        const file = path.join(ARTIFACTS, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
        await writeFile(file, Buffer.from(data, 'base64'));
        return file;
    }

    /// Runs `body()`; on failure saves `failed-NAME.png` and the page's HTML, then rethrows.
    async step(name, body) {
        try {
            return await body();
        } catch (error) {
            try {
                await this.screenshot(`failed-${name}`);
                await writeFile(path.join(ARTIFACTS, `failed-${name}.html`), await this.source());
                console.log(`# failure artifacts: ${path.join(ARTIFACTS, `failed-${name}`)}.{png,html} (at ${await this.url()})`);
            } catch { /* the session may be gone; the original error matters */ }
            throw error;
        }
    }

    /// Ends the session (Firefox), then geckodriver, and removes the profile and home.
    /// Safe to call more than once.
    async quit() {
        if (this.session) {
            try {
                await this.request('DELETE', `/session/${this.session}`, undefined, START_TIMEOUT_MS);
            } catch (error) {
                console.log(`# ending the Firefox session: ${error.message}`);
            }
            this.session = null;
        }
        await this.stopDriver();
        await rm(this.home, { recursive: true, force: true });
    }

    async stopDriver() {
        const child = this.child;
        this.child = null;
        if (child && child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            signalGroup(child, 'SIGTERM');
            const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000);
            await exited;
            clearTimeout(timer);
        }
        // Whatever geckodriver left in its group (a Firefox it had no time to close).
        if (child) signalGroup(child, 'SIGKILL');
    }
}

/// The W3C key under which an element reference travels.
const ELEMENT_KEY = 'element-6066-11e4-a52e-4f735466cecf';

function elementId(element) {
    const id = element && element[ELEMENT_KEY];
    if (!id) throw new Error(`not an element reference: ${JSON.stringify(element)}`);
    return id;
}

/// Candidates for a role; the computed role then decides.
const ROLE_SELECTORS = {
    button: 'button, input[type="submit"], input[type="button"], [role="button"]',
    link: 'a[href], [role="link"]',
    heading: 'h1, h2, h3, h4, h5, h6, [role="heading"]',
};

/// WebDriver's codes for the keys the tests press.
export const KEYS = { tab: '\uE004', enter: '\uE007' };
