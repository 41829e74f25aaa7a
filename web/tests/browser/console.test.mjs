// The console's screens for signed-in people, in Chromium against the real `rollcall serve`:
// organization, pools, the invite dialog with per-entry results, invitations, invite links, member
// removal with a successor, the last-organization-manager protection, settings, SCIM tokens, and
// what a manager and an engineer see. Every screen is checked with axe-core and photographed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, assertNoProblems, checkA11y, launchBrowser, newPage, outbox, screenshot, signIn, startServer, tokenFor } from './harness.mjs';

let server;
let browser;
let page;
let orgId;
let ownerToken;
const pools = {};

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

/** Invites `email` over the API without mail and accepts as them; returns their user id. */
async function member(email, name, assignments) {
  const r = await api(server.base, ownerToken, 'POST', `/orgs/${orgId}/invitations`, {
    invitations: [{ email, name }],
    assignments,
    send_email: false,
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.results[0].result, 'invited', JSON.stringify(r.body));
  const token = new URL(r.body.results[0].accept_url).searchParams.get('token');
  const t = await tokenFor(server.base, email, name);
  const a = await api(server.base, t, 'POST', '/invitations/accept', { token });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  return { id: a.body.user_id, token: t };
}

async function openTab(p, name) {
  await p.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name, exact: true }).click();
  await p.getByRole('heading', { level: 1 }).waitFor();
}

async function createSubPool(parentLabel, name) {
  await page.getByRole('button', { name: `Open ${parentLabel}`, exact: true }).click();
  await page.getByLabel('New sub-pool name').fill(name);
  await page.getByRole('button', { name: 'Create sub-pool' }).click();
  await page.getByText(`Created ${name} under`).waitFor();
}

test('owner creates an organization and pools', async () => {
  await signIn(page, server.base, 'olivia@acme.test', 'Olivia Owner');
  ownerToken = await tokenFor(server.base, 'olivia@acme.test', 'Olivia Owner');
  await page.getByLabel('New organization name').fill('Acme');
  await page.getByRole('button', { name: 'Create organization' }).click();
  await page.waitForURL(/\/console\/orgs\/org_[^/]+\/users$/);
  orgId = page.url().match(/orgs\/(org_[^/]+)/)[1];
  await page.getByRole('cell', { name: /Olivia Owner/ }).or(page.getByRole('rowheader', { name: /Olivia Owner/ })).waitFor();
  await checkA11y(page, 'users');
  await screenshot(page, 'users');

  await openTab(page, 'Pools');
  await createSubPool('Acme', 'Engineering');
  await createSubPool('Acme / Engineering', 'Platform');
  await createSubPool('Acme', 'Sales');
  const r = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}/pools`);
  for (const p of r.body.items) pools[p.name] = p.id;
  assert.deepEqual(Object.keys(pools).sort(), ['Acme', 'Engineering', 'Platform', 'Sales']);
  assert.equal(r.body.items.find((p) => p.name === 'Platform').parent_id, pools.Engineering);
  assertNoProblems(page);
});

test('invite three pasted addresses with a pool role: per-entry results, failures stay in the box', async () => {
  await openTab(page, 'Users');
  // Keyboard only: the dialog opens with Enter, holds the focus, and Escape gives it back.
  const inviteButton = page.getByRole('button', { name: 'Invite', exact: true });
  await inviteButton.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: 'Invite users' });
  await dialog.waitFor();
  for (let i = 0; i < 12; i++) {
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => !!document.activeElement?.closest('dialog') || document.activeElement === document.body), 'focus stays in the dialog');
  }
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Invite', 'focus returns to the Invite button');
  await page.keyboard.press('Enter');
  await dialog.waitFor();
  await dialog.getByLabel('Email addresses').fill('Ana Lima <ana@acme.test>, not-an-email\nolivia@acme.test');
  await dialog.getByText('3 addresses.').waitFor();
  await dialog.getByText('Names and phone numbers (optional)').click();
  assert.equal(await dialog.getByLabel('Name for ana@acme.test').inputValue(), 'Ana Lima', 'the pasted name is kept');
  await dialog.getByLabel('Phone for ana@acme.test').fill('+1 555 0100');
  await dialog.getByRole('button', { name: 'Add role' }).click();
  await dialog.getByLabel('Role 1', { exact: true }).selectOption('engineer');
  await dialog.getByLabel('Pool for role 1').selectOption(pools.Engineering);
  await checkA11y(page, 'invite-dialog');
  await screenshot(page, 'invite-dialog');
  await dialog.getByRole('button', { name: 'Invite', exact: true }).click();
  await dialog.getByRole('heading', { name: /Results: 1 sent, 2 not sent/ }).waitFor();
  const results = dialog.locator('.result-list li');
  assert.equal(await results.count(), 3);
  assert.match(await results.nth(0).innerText(), /ana@acme\.test\s+invited/);
  assert.match(await results.nth(1).innerText(), /not-an-email.*invalid_email/s);
  assert.match(await results.nth(2).innerText(), /olivia@acme\.test.*yourself.*self_invite/s);
  assert.equal(await dialog.getByLabel('Email addresses').inputValue(), 'not-an-email\nolivia@acme.test');
  await checkA11y(page, 'invite-results');
  await screenshot(page, 'invite-results');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });

  const inv = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}/invitations?status=pending`);
  assert.deepEqual(inv.body.items.map((i) => [i.email, i.name, i.phone, i.assignments]), [
    ['ana@acme.test', 'Ana Lima', '+1 555 0100', [{ role: 'engineer', pool_id: pools.Engineering }]],
  ]);
  assertNoProblems(page);
});

test('resend and revoke in the Invitations tab', async () => {
  await openTab(page, 'Invitations');
  const row = page.getByRole('row', { name: /ana@acme\.test/ });
  await row.waitFor();
  assert.match(await row.innerText(), /Engineer · Acme \/ Engineering/);
  await checkA11y(page, 'invitations');
  await screenshot(page, 'invitations');
  const before = (await outbox(server.base)).filter((m) => m.to.includes('ana@acme.test')).length;
  await row.getByRole('button', { name: 'Resend to ana@acme.test' }).click();
  await page.getByText('Resent to ana@acme.test').waitFor();
  assert.equal((await outbox(server.base)).filter((m) => m.to.includes('ana@acme.test')).length, before + 1);
  await page.getByRole('button', { name: 'Revoke invitation to ana@acme.test' }).click();
  await page.getByRole('button', { name: 'Yes, revoke' }).click();
  await page.getByText('Revoked the invitation to ana@acme.test.').waitFor();
  await page.getByText('No invitations with status pending.').waitFor();
  await page.getByLabel('Status', { exact: true }).selectOption('revoked');
  await page.getByRole('row', { name: /ana@acme\.test.*revoked/ }).waitFor();
  assertNoProblems(page);
});

test('a bounced invitation shows its email status, filters, and is resent only on purpose', async () => {
  // The outbox simulates SES: mail to this address bounces for good.
  const sim = await fetch(`${server.base}/_local/outbox/bounces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'gone@acme.test', kind: 'bounce' }),
  });
  assert.equal(sim.status, 200);
  const sent = await api(server.base, ownerToken, 'POST', `/orgs/${orgId}/invitations`, { invitations: [{ email: 'gone@acme.test', name: 'Gone Away' }] });
  assert.equal(sent.body.results[0].result, 'invited');
  // Delivery reports are asynchronous, as SES's are.
  for (let i = 0; i < 100; i++) {
    const r = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}/invitations?email=gone@acme.test`);
    if (r.body.items[0].email_status === 'bounced') break;
    await new Promise((res) => setTimeout(res, 50));
  }
  await page.getByLabel('Status', { exact: true }).selectOption('pending');
  const row = page.getByRole('row', { name: /gone@acme\.test/ });
  await row.getByText('Bounced', { exact: true }).waitFor();
  await page.getByLabel('Email status').selectOption('bounced');
  await page.getByRole('row', { name: /gone@acme\.test/ }).waitFor();
  assert.equal(await page.locator('tbody tr').count(), 1, 'only the bounced invitation');
  await page.getByLabel('Email status').selectOption('delivered');
  await page.getByText('No invitations with status pending with email status Delivered.').waitFor();
  await page.getByLabel('Email status').selectOption('bounced');
  const before = (await outbox(server.base)).filter((m) => m.to === 'gone@acme.test').length;
  await row.getByRole('button', { name: 'Resend to gone@acme.test' }).click();
  const alert = row.getByRole('alert');
  await alert.getByText(/bounced: the address does not exist/).waitFor();
  assert.equal((await outbox(server.base)).filter((m) => m.to === 'gone@acme.test').length, before, 'not mailed yet');
  await checkA11y(page, 'invitations-bounced');
  await screenshot(page, 'invitations-bounced');
  await row.getByRole('button', { name: 'Send anyway to gone@acme.test' }).click();
  await page.getByText('Resent to gone@acme.test').waitFor();
  assert.equal((await outbox(server.base)).filter((m) => m.to === 'gone@acme.test').length, before + 1);
  await page.getByLabel('Email status').selectOption('');
  assertNoProblems(page);
});

test('an invite link is shown once, listed and revoked', async () => {
  await openTab(page, 'Invite links');
  await page.getByRole('button', { name: 'Add role' }).click();
  await page.getByLabel('Role 1', { exact: true }).selectOption('engineer');
  await page.getByLabel('Pool for role 1').selectOption(pools.Platform);
  await page.getByLabel(/Max uses/).fill('5');
  await page.getByLabel(/Expires in days/).fill('14');
  await page.getByLabel(/Allowed email domains/).fill('acme.test, @Example.COM');
  await page.getByRole('button', { name: 'Create invite link' }).click();
  const url = await page.getByLabel('Invite link URL').inputValue();
  assert.match(url, new RegExp(`^${server.base.replace(/[.]/g, '\\.')}/join\\?token=rcl_`));
  const row = page.getByRole('row', { name: /active/ });
  assert.match(await row.innerText(), /Engineer · Acme \/ Engineering \/ Platform/);
  assert.match(await row.innerText(), /0 of 5/);
  assert.match(await row.innerText(), /acme\.test, example\.com/);
  await checkA11y(page, 'invite-links');
  await screenshot(page, 'invite-links');
  await page.reload();
  await page.getByRole('row', { name: /active/ }).waitFor();
  assert.equal(await page.getByLabel('Invite link URL').count(), 0, 'the link is not shown again');
  await page.getByRole('button', { name: /^Revoke the link/ }).click();
  await page.getByRole('button', { name: 'Yes, revoke' }).click();
  await page.getByText('Invite link revoked.').waitFor();
  await page.getByRole('row', { name: /revoked/ }).waitFor();
  assertNoProblems(page);
});

test('the last organization manager is protected', async () => {
  const me = await api(server.base, ownerToken, 'GET', '/me');
  await page.goto(`${server.base}/console/orgs/${orgId}/users/${me.body.user.id}`);
  await page.getByRole('heading', { name: 'Leave the organization' }).waitFor();
  await page.getByText('You are the last active organization manager').waitFor();
  await page.getByRole('button', { name: 'Remove role 1' }).click();
  await page.getByRole('button', { name: 'Save direct roles' }).click();
  const alert = page.getByRole('alert').filter({ hasText: 'last_organization_manager' });
  await alert.waitFor();
  assert.match(await alert.innerText(), /Make another member an organization manager first/);
  const r = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}/users/${me.body.user.id}`);
  assert.deepEqual(r.body.assignments, [{ role: 'organization_manager' }], 'nothing changed');
  assertNoProblems(page);
});

test('remove a member with a successor: their pool changes owner', async () => {
  const sam = await member('sam@acme.test', 'Sam Second', [{ role: 'organization_manager' }]);
  const mia = await member('mia@acme.test', 'Mia Manager', [{ role: 'manager', pool_id: pools.Engineering }]);
  assert.equal((await api(server.base, ownerToken, 'PATCH', `/orgs/${orgId}/pools/${pools.Platform}`, { owner_id: mia.id })).status, 200);
  // Mia sends an invitation that will be handed over too.
  await api(server.base, ownerToken, 'PATCH', `/orgs/${orgId}`, { settings: { managers_can_invite: true } });
  const sent = await api(server.base, mia.token, 'POST', `/orgs/${orgId}/invitations`, {
    invitations: [{ email: 'pat@acme.test' }],
    assignments: [{ role: 'engineer', pool_id: pools.Platform }],
    send_email: true,
  });
  assert.equal(sent.body.results[0].result, 'invited');

  await page.goto(`${server.base}/console/orgs/${orgId}/users?q=mia`);
  await page.getByRole('link', { name: 'Mia Manager' }).click();
  await page.getByRole('heading', { name: 'Remove from the organization' }).waitFor();
  await page.getByLabel(/Successor/).selectOption(sam.id);
  await page.getByText('1 pool owned: Acme / Engineering / Platform').waitFor();
  await page.getByText('1 pending invitation sent: pat@acme.test').waitFor();
  await page.getByRole('heading', { name: 'What Sam Second will receive' }).waitFor();
  await checkA11y(page, 'member-detail');
  await screenshot(page, 'member-detail');
  await page.getByRole('button', { name: 'Remove member…' }).click();
  await page.getByRole('button', { name: 'Yes, remove Mia Manager' }).click();
  await page.waitForURL(/\/users$/);

  await openTab(page, 'Pools');
  await page.getByRole('row', { name: /Platform/ }).getByText('Sam Second').waitFor();
  await page.getByRole('button', { name: 'Open Acme / Engineering / Platform' }).click();
  await page.getByText('Owner: Sam Second').waitFor();
  const inv = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}/invitations?status=pending`);
  assert.equal(inv.body.items.find((i) => i.email === 'pat@acme.test').inviter_id, sam.id);
  // A pool with sub-pools cannot be deleted: the server's reason is shown.
  await page.getByRole('button', { name: 'Open Acme / Engineering', exact: true }).click();
  await page.getByRole('button', { name: 'Delete pool…' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.getByRole('alert').filter({ hasText: 'pool_has_children' }).waitFor();
  await checkA11y(page, 'pools');
  await screenshot(page, 'pools');
  assertNoProblems(page);
});

test('settings: bounds checked per field, server errors on their field, saved', async () => {
  await openTab(page, 'Settings');
  const perHour = page.getByLabel('Invitations per hour');
  await perHour.fill('0');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Invitations per hour must be between 1 and 10000.').waitFor();
  assert.equal(await perHour.getAttribute('aria-invalid'), 'true');
  await perHour.fill('250');
  await page.getByLabel(/^Allowed email domains/).fill('not_a_domain');
  await page.getByRole('button', { name: 'Save settings' }).click();
  const fieldErr = page.locator('#set-allowed_email_domains-err');
  await fieldErr.waitFor();
  await page.getByRole('alert').filter({ hasText: 'validation_error' }).waitFor();
  await page.getByLabel(/^Allowed email domains/).fill('');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByText('Settings saved.').waitFor();
  const org = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}`);
  assert.equal(org.body.settings.invitations_per_hour, 250);
  await checkA11y(page, 'settings');
  await screenshot(page, 'settings');
  assertNoProblems(page);
});

test('a SCIM token is shown once', async () => {
  await openTab(page, 'SCIM');
  assert.equal(await page.getByLabel('SCIM base URL').inputValue(), `${server.base}/scim/v2`);
  await page.getByLabel(/^Description/).fill('Okta production');
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = await page.getByLabel('SCIM token', { exact: true }).inputValue();
  assert.match(token, /^rcs_/);
  const scim = await fetch(`${server.base}/scim/v2/Users?count=1`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(scim.status, 200, 'the token shown works');
  await page.getByRole('row', { name: /Okta production/ }).waitFor();
  await checkA11y(page, 'scim');
  await screenshot(page, 'scim');
  await page.reload();
  await page.getByRole('row', { name: /Okta production/ }).waitFor();
  assert.equal(await page.getByLabel('SCIM token', { exact: true }).count(), 0, 'not shown again');
  assert.equal((await page.content()).includes(token), false);
  await page.getByRole('row', { name: /Okta production/ }).getByText(/Never|,|:/).first().waitFor();
  assertNoProblems(page);
});

test('a manager and an engineer see only what they may', async () => {
  await member('max@acme.test', 'Max Manager', [{ role: 'manager', pool_id: pools.Engineering }]);
  await member('eve@acme.test', 'Eve Engineer', [{ role: 'engineer', pool_id: pools.Engineering }]);
  // The owner gives Eve a second role on Sales, from a pool picker, and filters the list by it.
  await page.goto(`${server.base}/console/orgs/${orgId}/users`);
  await page.getByRole('link', { name: 'Eve Engineer' }).click();
  await page.getByRole('button', { name: 'Add role' }).click();
  await page.getByLabel('Role 2', { exact: true }).selectOption('engineer');
  await page.getByLabel('Pool for role 2').selectOption(pools.Sales);
  await page.getByRole('button', { name: 'Save direct roles' }).click();
  await page.getByText('Direct roles saved.').waitFor();
  const eve = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}/users?q=eve`);
  assert.deepEqual(eve.body.items[0].assignments.map((a) => a.pool_id).sort(), [pools.Engineering, pools.Sales].sort());
  await page.getByRole('link', { name: '← All users' }).click();
  await page.getByLabel('Pool', { exact: true }).selectOption(pools.Sales);
  await page.getByText('Page 1: 1 member, end of the list.').waitFor();
  await page.getByRole('link', { name: 'Eve Engineer' }).waitFor();
  await page.getByLabel('Pool', { exact: true }).selectOption('');
  await page.getByLabel('Role', { exact: true }).selectOption('manager');
  await page.getByText('Page 1: 1 member, end of the list.').waitFor();
  await page.getByRole('link', { name: 'Max Manager' }).waitFor();
  assert.match(page.url(), /role=manager/, 'filters are kept in the address');

  const tabsOf = async (p) => (await p.getByRole('navigation', { name: 'Organization' }).getByRole('link').allInnerTexts()).map((t) => t.trim());

  const mp = await newPage(browser);
  mp.setDefaultTimeout(10000);
  await signIn(mp, server.base, 'max@acme.test', 'Max Manager');
  await mp.goto(`${server.base}/console/orgs/${orgId}/users`);
  await mp.getByRole('link', { name: 'Max Manager' }).waitFor();
  assert.deepEqual(await tabsOf(mp), ['Users', 'Invitations', 'Pools'], 'managers_can_invite is on');
  await mp.getByRole('button', { name: 'Invite', exact: true }).waitFor();
  await checkA11y(mp, 'users (manager)');
  // The invite dialog offers only manager/engineer roles on their pools.
  await mp.getByRole('button', { name: 'Invite', exact: true }).click();
  const roleOpts = await mp.getByLabel('Role 1', { exact: true }).locator('option').allInnerTexts();
  assert.deepEqual(roleOpts, ['Manager', 'Engineer']);
  const poolOpts = (await mp.getByLabel('Pool for role 1').locator('option').allInnerTexts()).map((t) => t.trim());
  assert.deepEqual(poolOpts, ['Choose a pool…', 'Engineering', 'Platform']);
  await mp.keyboard.press('Escape');
  await openTab(mp, 'Pools');
  await mp.getByRole('button', { name: 'Open Acme / Engineering', exact: true }).click();
  await mp.getByLabel('New sub-pool name').waitFor();
  assert.equal(await mp.getByRole('button', { name: 'Rename' }).count(), 0, 'not the pool they were given');
  await mp.getByRole('button', { name: 'Open Acme / Engineering / Platform' }).click();
  await mp.getByRole('button', { name: 'Rename' }).waitFor();
  await mp.getByRole('button', { name: 'Open Acme / Sales' }).click();
  await mp.getByText('Your roles let you read this pool, not change it.').waitFor();
  await checkA11y(mp, 'pools (manager)');
  await mp.goto(`${server.base}/console/orgs/${orgId}/settings`);
  await mp.getByText('Your roles in Acme do not include this page.').waitFor();
  assertNoProblems(mp);

  const ep = await newPage(browser);
  ep.setDefaultTimeout(10000);
  await signIn(ep, server.base, 'eve@acme.test', 'Eve Engineer');
  await ep.goto(`${server.base}/console/orgs/${orgId}/users`);
  await ep.getByRole('link', { name: 'Eve Engineer' }).waitFor();
  assert.deepEqual(await tabsOf(ep), ['Users', 'Pools']);
  assert.equal(await ep.getByRole('button', { name: 'Invite', exact: true }).count(), 0, 'no invite button');
  await ep.getByRole('link', { name: 'Olivia Owner' }).click();
  await ep.getByText('Only organization managers change roles.').waitFor();
  assert.equal(await ep.getByRole('button', { name: /Remove member/ }).count(), 0);
  await checkA11y(ep, 'member-detail (engineer)');
  await ep.goto(`${server.base}/console/orgs/${orgId}/settings`);
  await ep.getByText('Your roles in Acme do not include this page.').waitFor();
  await ep.goto(`${server.base}/console/orgs/${orgId}/pools`);
  await ep.getByRole('button', { name: 'Open Acme / Engineering', exact: true }).click();
  await ep.getByText('Your roles let you read this pool, not change it.').waitFor();
  assert.equal(await ep.getByLabel('New sub-pool name').count(), 0);
  await checkA11y(ep, 'pools (engineer)');
  await screenshot(ep, 'pools-engineer');
  assertNoProblems(ep);
});
