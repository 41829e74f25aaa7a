// Groups in Chromium against the real `rollcall serve`: an identity provider provisions two users
// and a group with them over SCIM; the owner maps the group to a role in the console, and the
// Users page, the group's page and the member's page show the role with where it comes from. A
// group change that would leave no organization manager shows up as a conflict with its
// explanation. Every screen is checked with axe-core and photographed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, assertNoProblems, checkA11y, launchBrowser, newPage, screenshot, signIn, startServer, tokenFor } from './harness.mjs';

let server;
let browser;
let page;
let orgId;
let ownerToken;
let ownerId;
let scimToken;
let engineering;
const users = {};
let groupId;

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

/** One SCIM request with the organization's SCIM token; returns { status, body }. */
async function scim(method, path, body) {
  const res = await fetch(`${server.base}/scim/v2${path}`, {
    method,
    headers: { authorization: `Bearer ${scimToken}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function openTab(p, name) {
  await p.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name, exact: true }).click();
  await p.getByRole('heading', { level: 1 }).waitFor();
}

test('the identity provider provisions two users and a group with them', async () => {
  ownerToken = await tokenFor(server.base, 'olivia@acme.test', 'Olivia Owner');
  const org = await api(server.base, ownerToken, 'POST', '/orgs', { name: 'Acme' });
  assert.equal(org.status, 201);
  orgId = org.body.id;
  ownerId = (await api(server.base, ownerToken, 'GET', '/me')).body.user.id;
  const pool = await api(server.base, ownerToken, 'POST', `/orgs/${orgId}/pools`, { name: 'Engineering' });
  assert.equal(pool.status, 201);
  engineering = pool.body.id;
  const made = await api(server.base, ownerToken, 'POST', `/orgs/${orgId}/scim-tokens`, { description: 'Okta' });
  assert.equal(made.status, 201);
  scimToken = made.body.token;

  for (const [key, name, email] of [
    ['ada', 'Ada Lovelace', 'ada@acme.test'],
    ['ben', 'Ben Baker', 'ben@acme.test'],
  ]) {
    const r = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: email,
      displayName: name,
      emails: [{ value: email, primary: true }],
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    users[key] = r.body.id;
  }
  const g = await scim('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Platform engineers',
    externalId: 'okta-grp-42',
    members: [{ value: users.ada }, { value: users.ben }],
  });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  groupId = g.body.id;
});

test('the owner maps the group to a role on its page', async () => {
  await signIn(page, server.base, 'olivia@acme.test', 'Olivia Owner');
  await page.goto(`${server.base}/console/orgs/${orgId}/users`);
  await openTab(page, 'Groups');
  const row = page.getByRole('row', { name: /Platform engineers/ });
  await row.waitFor();
  assert.match(await row.innerText(), /okta-grp-42\s+2\s+No roles mapped/);
  await checkA11y(page, 'groups');
  await screenshot(page, 'groups');

  await row.getByRole('link', { name: 'Platform engineers' }).click();
  await page.getByRole('heading', { name: 'Roles this group gives' }).waitFor();
  await page.getByText('Page 1: 2 members, end of the list.').waitFor();
  await page.getByRole('link', { name: 'Ada Lovelace' }).waitFor();
  await page.getByRole('link', { name: 'Ben Baker' }).waitFor();
  await page.getByRole('button', { name: 'Add role' }).click();
  await page.getByLabel('Role 1', { exact: true }).selectOption('engineer');
  await page.getByLabel('Pool for role 1').selectOption(engineering);
  await page.getByRole('button', { name: 'Save group roles' }).click();
  await page.getByText("Roles saved: the group's 2 members now hold them.").waitFor();
  // The members' roles follow at once, with where they come from.
  const ada = page.getByRole('row', { name: /Ada Lovelace/ });
  await ada.getByText('via Platform engineers').waitFor();
  assert.match(await ada.innerText(), /Engineer · Acme \/ Engineering \(via Platform engineers\)/);
  await checkA11y(page, 'group-detail');
  await screenshot(page, 'group-detail');

  const r = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}/groups/${groupId}`);
  assert.deepEqual(r.body.assignments, [{ role: 'engineer', pool_id: engineering }]);
  await page.getByRole('link', { name: '← All groups' }).click();
  assert.match(await page.getByRole('row', { name: /Platform engineers/ }).innerText(), /Engineer · Acme \/ Engineering/);
  assertNoProblems(page);
});

test('the Users page shows the role with its source', async () => {
  await openTab(page, 'Users');
  const ada = page.getByRole('row', { name: /Ada Lovelace/ });
  await ada.waitFor();
  assert.match(await ada.innerText(), /Engineer · Acme \/ Engineering \(via Platform engineers\)/);
  assert.match(await page.getByRole('row', { name: /Ben Baker/ }).innerText(), /Engineer · Acme \/ Engineering \(via Platform engineers\)/);
  // The owner has no group: their roles are shown as before.
  assert.doesNotMatch(await page.getByRole('row', { name: /Olivia Owner/ }).innerText(), /\((via|direct)/);
  await checkA11y(page, 'users-with-groups');
  await screenshot(page, 'users-with-groups');
  // The role filter reads the effective roles: the group's members are engineers.
  await page.getByLabel('Role', { exact: true }).selectOption('engineer');
  await page.getByText('Page 1: 2 members, end of the list.').waitFor();
  assertNoProblems(page);
});

test("a member's page shows where each role comes from and edits direct roles only", async () => {
  await page.getByRole('link', { name: 'Ada Lovelace' }).click();
  const roles = page.getByRole('table', { name: 'Roles and where they come from' });
  await roles.waitFor();
  assert.match(await roles.getByRole('row', { name: /^Engineer / }).innerText(), /Engineer\s+Acme \/ Engineering\s+Group Platform engineers/);
  // The editor holds the direct roles (none but Member), not the group's.
  await page.getByText('No direct role: only what their groups give, and Member.').waitFor();
  await page.getByRole('button', { name: 'Add role' }).click();
  await page.getByLabel('Role 1', { exact: true }).selectOption('manager');
  await page.getByLabel('Pool for role 1').selectOption(engineering);
  await page.getByRole('button', { name: 'Save direct roles' }).click();
  await page.getByText('Direct roles saved.').waitFor();
  assert.match(await roles.getByRole('row', { name: /^Manager / }).innerText(), /Manager\s+Acme \/ Engineering\s+Direct/);
  assert.match(await roles.getByRole('row', { name: /^Engineer / }).innerText(), /Group Platform engineers/);
  const r = await api(server.base, ownerToken, 'GET', `/orgs/${orgId}/users/${users.ada}`);
  assert.deepEqual(r.body.direct_assignments, [{ role: 'manager', pool_id: engineering }]);
  assert.deepEqual(r.body.assignments, [
    { role: 'manager', pool_id: engineering },
    { role: 'engineer', pool_id: engineering },
  ]);
  await checkA11y(page, 'member-role-sources');
  await screenshot(page, 'member-role-sources');
  assertNoProblems(page);
});

test('a group change that would leave no organization manager is shown as a conflict', async () => {
  // The owner is in an "Admins" group mapped to Organization manager, and holds the role only
  // through it; then the identity provider takes them out of the group.
  const g = await scim('POST', '/Groups', {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
    displayName: 'Admins',
    members: [{ value: ownerId }],
  });
  assert.equal(g.status, 201, JSON.stringify(g.body));
  const admins = g.body.id;
  assert.equal((await api(server.base, ownerToken, 'PUT', `/orgs/${orgId}/groups/${admins}/assignments`, { assignments: [{ role: 'organization_manager' }] })).status, 200);
  assert.equal((await api(server.base, ownerToken, 'PUT', `/orgs/${orgId}/users/${ownerId}/assignments`, { assignments: [] })).status, 200);
  const removed = await scim('PATCH', `/Groups/${admins}`, {
    schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
    Operations: [{ op: 'remove', path: `members[value eq "${ownerId}"]` }],
  });
  assert.ok(removed.status === 204 || removed.status === 200, `the identity provider's request succeeds: ${removed.status}`);

  await page.goto(`${server.base}/console/orgs/${orgId}/groups`);
  const row = page.getByRole('row', { name: /Admins/ });
  await row.getByText('1 conflict').waitFor();
  await row.getByRole('link', { name: 'Admins' }).click();
  const conflicts = page.getByRole('region', { name: 'Conflicts' });
  await conflicts.waitFor();
  await conflicts.getByText('would have left Acme without an active organization manager').waitFor();
  const c = conflicts.getByRole('row', { name: /Olivia Owner/ });
  await c.waitFor();
  assert.match(await c.innerText(), /Organization manager/);
  await page.getByText('No members in this group.').waitFor();
  await checkA11y(page, 'group-conflicts');
  await screenshot(page, 'group-conflicts');

  await c.getByRole('link', { name: 'Olivia Owner' }).click();
  const roles = page.getByRole('table', { name: 'Roles and where they come from' });
  assert.match(await roles.getByRole('row', { name: /Organization manager/ }).innerText(), /Direct/);
  assertNoProblems(page);
});
