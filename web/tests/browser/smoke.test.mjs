// The console is served by rollcall serve with its security headers, and a person can sign in
// locally and create an organization.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoProblems, checkA11y, launchBrowser, newPage, screenshot, signIn, startServer } from './harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('console pages carry the security headers', async () => {
  for (const path of ['/', '/console', '/accept?token=x', '/join?token=y', '/signin']) {
    const res = await fetch(`${server.base}${path}`);
    assert.equal(res.status, 200, path);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/, `${path}: no inline script allowed`);
    assert.match(csp, /frame-ancestors 'none'/, path);
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path);
  }
});

test('sign in locally and create an organization', async () => {
  const page = await newPage(browser);
  await page.goto(`${server.base}/console`);
  await page.waitForURL(/\/signin$/);
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await checkA11y(page, 'sign-in');
  await screenshot(page, 'signin');
  await signIn(page, server.base, 'olivia@acme.test', 'Olivia Owner');
  await page.getByLabel('New organization name').fill('Acme');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.waitForURL(/\/console\/orgs\/org_[^/]+\/users$/);
  assertNoProblems(page);
});
