// The audit log in Chromium against the real `rollcall serve`: an owner's changes and an identity
// provider's SCIM writes appear newest first with who made them and from where; the action and
// actor filters narrow the list; a plain member does not get the tab. Every screen is checked
// with axe-core and photographed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, assertNoProblems, checkA11y, launchBrowser, newPage, screenshot, signIn, startServer, tokenFor } from './harness.mjs';

let server;
let browser;
let page;
let orgId;
let ownerToken;
let scimTokenId;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  page = await newPage(browser);
  page.setDefaultTimeout(10000);
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the owner and the identity provider make changes', async () => {
  ownerToken = await tokenFor(server.base, 'olivia@acme.test', 'Olivia Owner');
  const org = await api(server.base, ownerToken, 'POST', '/orgs', { name: 'Acme' });
  assert.equal(org.status, 201);
  orgId = org.body.id;
  assert.equal((await api(server.base, ownerToken, 'POST', `/orgs/${orgId}/pools`, { name: 'Engineering' })).status, 201);
  const made = await api(server.base, ownerToken, 'POST', `/orgs/${orgId}/scim-tokens`, { description: 'Okta' });
  assert.equal(made.status, 201);
  scimTokenId = made.body.id;
  const res = await fetch(`${server.base}/scim/v2/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${made.body.token}`, 'content-type': 'application/scim+json', 'user-agent': 'Okta SCIM Client 1.0.0' },
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'ada@acme.test',
      displayName: 'Ada Lovelace',
      emails: [{ value: 'ada@acme.test', primary: true }],
    }),
  });
  assert.equal(res.status, 201);
  const inv = await api(server.base, ownerToken, 'POST', `/orgs/${orgId}/invitations`, {
    invitations: [{ email: 'ben@acme.test' }],
    send_email: false,
  });
  assert.equal(inv.status, 200);
});

test('the Audit log tab lists the changes newest first with who and from where', async () => {
  await signIn(page, server.base, 'olivia@acme.test', 'Olivia Owner');
  await page.goto(`${server.base}/console/orgs/${orgId}/users`);
  await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Audit log', exact: true }).click();
  await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
  await page.getByText('Page 1: 5 entries, end of the log.').waitFor();
  const rows = page.getByRole('table').getByRole('row');
  // Header + 5 entries, newest first.
  assert.equal(await rows.count(), 6);
  assert.match(await rows.nth(1).innerText(), /olivia@acme\.test[\s\S]*Invitation sent[\s\S]*invitation\.created/);
  assert.match(await rows.nth(2).innerText(), new RegExp(`Identity provider \\(SCIM token ${scimTokenId}\\)[\\s\\S]*Provisioned over SCIM`));
  assert.match(await rows.nth(5).innerText(), /Organization created/);
  assert.match(await rows.nth(1).innerText(), /from 127\.0\.0\.1/);
  // The details of an entry open in place.
  await rows.nth(2).getByText('Show').click();
  assert.match(await rows.nth(2).innerText(), /"user_name": "ada@acme\.test"[\s\S]*Okta SCIM Client 1\.0\.0/);
  await checkA11y(page, 'audit-log');
  await screenshot(page, 'audit-log');
  assertNoProblems(page);
});

test('filters narrow the log', async () => {
  await page.getByLabel('Action').selectOption('pool.created');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('Page 1: 1 entry, end of the log.').waitFor();
  assert.match(await page.getByRole('table').innerText(), /Pool created/);
  await page.getByRole('button', { name: 'Clear' }).click();
  await page.getByText('Page 1: 5 entries, end of the log.').waitFor();
  await page.getByLabel('Actor id').fill(scimTokenId);
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('Page 1: 1 entry, end of the log.').waitFor();
  await page.getByLabel('Actor id').fill('system');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await page.getByText('No entries match these filters.').waitFor();
  await checkA11y(page, 'audit-log-filtered');
  await screenshot(page, 'audit-log-filtered');
  assertNoProblems(page);
});

test('the retention setting is on the Settings page', async () => {
  await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Settings', exact: true }).click();
  const field = page.getByLabel('Audit log retention (days)');
  assert.equal(await field.inputValue(), '365');
  await field.fill('90');
  await page.getByRole('button', { name: /Save/ }).click();
  await page.getByText('Settings saved.').waitFor();
  const org = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}`);
  assert.equal(org.body.settings.audit_retention_days, 90);
  assertNoProblems(page);
});
