// Browser-test harness: starts the real `rollcall serve` (embedded store, local outbox) on a free
// loopback port, drives Debian's Chromium through playwright-core, checks every screen with
// axe-core and writes screenshots to web/test-results/screenshots/.
//
// Env: ROLLCALL_BIN (default ../target/debug/rollcall), CHROMIUM (default /usr/bin/chromium).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const webRoot = resolve(here, '../..');
export const screenshotDir = join(webRoot, 'test-results/screenshots');
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** A running `rollcall serve` with its own data directory; `stop()` ends it and removes the data.
 * `opts.dataDir` reuses a directory instead (a restart on the same data, e.g. with
 * ROLLCALL_LOCAL_CLOCK_OFFSET_SECS in `env`); `stop({ keepData: true })` leaves it in place. */
export async function startServer(extraArgs = [], env = {}, opts = {}) {
  const bin = process.env.ROLLCALL_BIN || resolve(webRoot, '../target/debug/rollcall');
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'rollcall-browser-'));
  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0', '--data-dir', dataDir, ...extraArgs], {
    env: { ...process.env, ROLLCALL_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const base = await new Promise((resolveBase, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`rollcall did not start:\n${stderr}`)), 20000);
    child.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolveBase(m[1]);
      }
    });
    child.on('exit', (code) => reject(new Error(`rollcall exited ${code}:\n${stderr}`)));
  });
  return {
    base,
    dataDir,
    async stop({ keepData = false } = {}) {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Headless Chromium (Debian's package; Playwright's own download is not used). */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

/** A new page that fails the test on a CSP violation, an uncaught error or a console error. */
export async function newPage(browser, opts = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, ...opts });
  const page = await context.newPage();
  page.problems = [];
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of (4\d\d)/.test(m.text())) {
      page.problems.push(`console error: ${m.text()}`);
    }
  });
  return page;
}

/** Asserts that nothing went wrong in the page so far (CSP violations show as console errors). */
export function assertNoProblems(page) {
  assert.deepEqual(page.problems, [], 'the page logged no errors');
}

/** Runs axe-core on the page: no serious or critical violations. */
export async function checkA11y(page, screen) {
  // Evaluated through the DevTools protocol, so the page's CSP (no inline script) stays on.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }));
  });
  const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(bad, [], `axe: no serious or critical violations on ${screen}`);
}

/** Writes a full-page screenshot to web/test-results/screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true });
}

/** A local token for `email` (as the sign-in page gets it), for setting up data over the API. */
export async function tokenFor(base, email, name) {
  const res = await fetch(`${base}/_local/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, name }),
  });
  assert.equal(res.status, 200, `local token for ${email}`);
  return (await res.json()).token;
}

/** One API call; returns { status, body }. */
export async function api(base, token, method, path, body) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Signs in through the local sign-in page, as a person would. */
export async function signIn(page, base, email, name = '') {
  await page.goto(`${base}/signin`);
  await page.getByLabel('Email').fill(email);
  if (name) await page.getByLabel(/^Name/).fill(name);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => !u.pathname.startsWith('/signin'));
}

/** The local outbox's mails (newest last). */
export async function outbox(base) {
  const res = await fetch(`${base}/_local/outbox`);
  assert.equal(res.status, 200);
  return res.json();
}
