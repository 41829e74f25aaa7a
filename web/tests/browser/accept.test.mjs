// The invitee's side in a real browser: the accept page from the outbox, a wrong account, decline,
// revoked and expired links, an invite link joined by a second person, and "your invitations".
// Data is set up over the API; every screen is checked with axe-core and photographed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  api,
  assertNoProblems,
  checkA11y,
  launchBrowser,
  newPage,
  outbox,
  screenshot,
  signIn,
  startServer,
  tokenFor,
} from './harness.mjs';

let server;
let browser;
let owner; // Olivia's token
let org; // Acme
let research; // a pool of Acme

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
  owner = await tokenFor(server.base, 'olivia@acme.test', 'Olivia Owner');
  org = (await api(server.base, owner, 'POST', '/orgs', { name: 'Acme' })).body;
  research = (await api(server.base, owner, 'POST', `/orgs/${org.id}/pools`, { name: 'Research' })).body;
  assert.ok(research.id, 'pool created');
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

/** Invites `email` to Acme as an engineer of Research; returns the invitation. */
async function invite(email, extra = {}) {
  const r = await api(server.base, owner, 'POST', `/orgs/${org.id}/invitations`, {
    invitations: [{ email }],
    assignments: [{ role: 'engineer', pool_id: research.id }],
    ...extra,
  });
  assert.equal(r.status, 200);
  assert.equal(r.body.results[0].result, 'invited', JSON.stringify(r.body));
  return r.body.results[0].invitation;
}

/** The accept link of the newest mail to `email`. */
async function acceptLink(email) {
  const mails = (await outbox(server.base)).filter((m) => m.to === email);
  const m = mails.at(-1)?.text.match(/https?:\/\/\S+\/accept\?token=[\w-]+/);
  assert.ok(m, `a mail with an accept link to ${email}`);
  return m[0];
}

async function invitationStatus(email) {
  const r = await api(server.base, owner, 'GET', `/orgs/${org.id}/invitations?email=${encodeURIComponent(email)}`);
  assert.equal(r.status, 200);
  return r.body.items[0]?.status;
}

const heading = (page, name) => page.getByRole('heading', { level: 1, name }).waitFor();
const noTokenInAddress = (page) => assert.doesNotMatch(page.url(), /token=/, 'the token left the address bar');

test('the invitee opens the link from the outbox, signs in, accepts and lands in the organization', async () => {
  await invite('kate@acme.test');
  const page = await newPage(browser);
  await page.goto(`${server.base}/outbox`);
  await heading(page, 'Outbox');
  await checkA11y(page, 'outbox');
  await screenshot(page, 'outbox');
  await page.getByRole('link', { name: 'Accept invitation (kate@acme.test)' }).first().click();

  await heading(page, 'Join Acme');
  noTokenInAddress(page);
  assert.equal(new URL(page.url()).pathname, '/accept');
  const facts = page.locator('dl.facts');
  await facts.getByText('Olivia Owner').waitFor();
  await facts.getByText('kate@acme.test').waitFor();
  await facts.getByText('Engineer of the pool “Research” and its sub-pools').waitFor();
  await checkA11y(page, 'accept');
  await screenshot(page, 'accept');

  await page.getByRole('button', { name: 'Sign in to accept' }).click();
  await page.waitForURL((u) => u.pathname === '/signin');
  assert.equal(await page.getByLabel('Email').inputValue(), 'kate@acme.test', 'the sign-in is prefilled with the invited address');
  await page.getByLabel(/^Name/).fill('Kate Invitee');
  await page.getByRole('button', { name: 'Sign in' }).click();

  await page.waitForURL((u) => u.pathname === '/accept');
  await heading(page, 'Join Acme');
  noTokenInAddress(page);
  await checkA11y(page, 'accept-signed-in');
  await screenshot(page, 'accept-signed-in');
  // Keyboard alone: Tab to the Accept button (its focus is visible), Enter.
  let focused = '';
  for (let i = 0; i < 20 && focused !== 'Accept invitation'; i++) {
    await page.keyboard.press('Tab');
    focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
  }
  assert.equal(focused, 'Accept invitation', 'the Accept button is reachable with Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused button shows its focus');
  await page.keyboard.press('Enter');
  await page.waitForURL((u) => u.pathname === `/console/orgs/${org.id}/users`);
  assert.equal(await invitationStatus('kate@acme.test'), 'accepted');
  const users = await api(server.base, owner, 'GET', `/orgs/${org.id}/users?q=kate`);
  assert.deepEqual(users.body.items[0].assignments, [{ role: 'engineer', pool_id: research.id }]);
  // The owner sees Kate on the Users page with her role on the pool, by name.
  const ownerPage = await newPage(browser);
  await signIn(ownerPage, server.base, 'olivia@acme.test', 'Olivia Owner');
  await ownerPage.goto(`${server.base}/console/orgs/${org.id}/users`);
  const row = ownerPage.getByRole('row', { name: /kate@acme\.test/ });
  await row.waitFor();
  assert.match(await row.innerText(), /Engineer[\s\S]*Research/, 'the role on the pool, by name');
  assertNoProblems(ownerPage);
  await ownerPage.context().close();
  // The token is gone from the tab's history too: back leads to the token-less /accept.
  assertNoProblems(page);
  await page.context().close();
});

test('a wrong signed-in account sees both addresses and the invitation stays pending; then switch and decline', async () => {
  await invite('lena@acme.test');
  const link = await acceptLink('lena@acme.test');
  const page = await newPage(browser);
  await signIn(page, server.base, 'bob@other.test', 'Bob');
  await page.goto(link);
  await heading(page, 'This invitation is for another address');
  noTokenInAddress(page);
  const notice = page.locator('.notice');
  assert.match(await notice.innerText(), /signed in as bob@other\.test; this invitation is for lena@acme\.test/);
  await checkA11y(page, 'accept-wrong-account');
  await screenshot(page, 'accept-wrong-account');
  assert.equal(await invitationStatus('lena@acme.test'), 'pending', 'the invitation survives a wrong account');

  await page.getByRole('button', { name: 'Switch account' }).click();
  await page.waitForURL((u) => u.pathname === '/signin');
  assert.equal(await page.getByLabel('Email').inputValue(), 'lena@acme.test');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/accept');
  await heading(page, 'Join Acme');
  await page.getByRole('button', { name: 'Decline' }).click();
  await page.getByRole('button', { name: 'Yes, decline' }).click();
  await heading(page, 'You declined the invitation');
  await checkA11y(page, 'accept-declined');
  await screenshot(page, 'accept-declined');
  assert.equal(await invitationStatus('lena@acme.test'), 'declined');
  assertNoProblems(page);
  await page.context().close();
});

test('a revoked link: a stranger learns nothing, the invitee signs in and sees it is withdrawn', async () => {
  const inv = await invite('mia@acme.test');
  const link = await acceptLink('mia@acme.test');
  assert.equal((await api(server.base, owner, 'DELETE', `/orgs/${org.id}/invitations/${inv.id}`)).status, 204);
  const page = await newPage(browser);
  await page.goto(link);
  await heading(page, 'This invitation link does not work');
  noTokenInAddress(page);
  await checkA11y(page, 'accept-not-found');
  await screenshot(page, 'accept-not-found');
  await page.getByRole('button', { name: 'Sign in to see why' }).click();
  await page.waitForURL((u) => u.pathname === '/signin');
  await page.getByLabel('Email').fill('mia@acme.test');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/accept');
  await heading(page, 'This invitation is no longer open');
  await checkA11y(page, 'accept-revoked');
  await screenshot(page, 'accept-revoked');
  assert.equal(await invitationStatus('mia@acme.test'), 'revoked');
  assertNoProblems(page);
  await page.context().close();
});

test('an invite link joined by a second person; again: already a member; a domain the link does not allow; revoked', async () => {
  const link = await api(server.base, owner, 'POST', `/orgs/${org.id}/invite-links`, {
    assignments: [{ role: 'engineer', pool_id: research.id }],
    max_uses: 5,
  });
  assert.equal(link.status, 201);
  const page = await newPage(browser);
  await page.goto(`${server.base}/join?token=${link.body.token}`);
  await heading(page, 'Join Acme');
  noTokenInAddress(page);
  // The link's public preview: the roles by pool name, and who may join.
  await page.getByText('Engineer of the pool “Research” and its sub-pools').waitFor();
  await page.getByText('Anyone with a verified email address').waitFor();
  await checkA11y(page, 'join');
  await screenshot(page, 'join');
  await page.getByRole('button', { name: 'Sign in to join' }).click();
  await page.waitForURL((u) => u.pathname === '/signin');
  await page.getByLabel('Email').fill('paul@partner.test');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.pathname === '/join');
  await page.getByText('You will join as paul@partner.test').waitFor();
  await checkA11y(page, 'join-signed-in');
  await page.getByRole('button', { name: 'Join the organization' }).click();
  await page.waitForURL((u) => u.pathname === `/console/orgs/${org.id}/users`);
  const users = await api(server.base, owner, 'GET', `/orgs/${org.id}/users?q=paul`);
  assert.equal(users.body.items[0].source, 'invite_link');

  await page.goto(`${server.base}/join?token=${link.body.token}`);
  await page.getByRole('button', { name: 'Join the organization' }).click();
  await heading(page, 'You are already a member');
  await checkA11y(page, 'join-already-member');

  const narrow = await api(server.base, owner, 'POST', `/orgs/${org.id}/invite-links`, { allowed_domains: ['acme.test'] });
  const other = await newPage(browser);
  await signIn(other, server.base, 'rita@gmail.test', 'Rita');
  await other.goto(`${server.base}/join?token=${narrow.body.token}`);
  await other.getByText(/Only addresses at acme\.test/).waitFor();
  await other.getByRole('button', { name: 'Join the organization' }).click();
  await heading(other, 'Your email domain is not allowed here');
  await other.getByText(/accepts only addresses from certain email domains/).waitFor();
  await checkA11y(other, 'join-domain-not-allowed');
  await screenshot(other, 'join-domain-not-allowed');

  assert.equal((await api(server.base, owner, 'DELETE', `/orgs/${org.id}/invite-links/${link.body.id}`)).status, 204);
  // A revoked link says so at once: its preview is 410.
  await other.goto(`${server.base}/join?token=${link.body.token}`);
  await heading(other, 'This invite link can no longer be used');
  await checkA11y(other, 'join-unusable');
  assertNoProblems(page);
  assertNoProblems(other);
  await page.context().close();
  await other.context().close();
});

test('my invitations: accept an invitation, decline another, accept a membership provisioned over SCIM', async () => {
  await invite('quinn@acme.test');
  const beta = (await api(server.base, owner, 'POST', '/orgs', { name: 'Beta' })).body;
  const r = await api(server.base, owner, 'POST', `/orgs/${beta.id}/invitations`, { invitations: [{ email: 'quinn@acme.test' }] });
  assert.equal(r.body.results[0].result, 'invited');
  // Gamma provisions Quinn over SCIM after Quinn's account exists: an offer to accept.
  const quinn = await tokenFor(server.base, 'quinn@acme.test', 'Quinn');
  assert.equal((await api(server.base, quinn, 'GET', '/me')).status, 200);
  const gamma = (await api(server.base, owner, 'POST', '/orgs', { name: 'Gamma' })).body;
  const scim = (await api(server.base, owner, 'POST', `/orgs/${gamma.id}/scim-tokens`, { description: 'IdP' })).body;
  const provisioned = await fetch(`${server.base}/scim/v2/Users`, {
    method: 'POST',
    headers: { authorization: `Bearer ${scim.token}`, 'content-type': 'application/scim+json' },
    body: JSON.stringify({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'quinn@acme.test',
      emails: [{ value: 'quinn@acme.test', primary: true }],
      active: true,
    }),
  });
  assert.equal(provisioned.status, 201, await provisioned.text());

  const page = await newPage(browser);
  await signIn(page, server.base, 'quinn@acme.test', 'Quinn');
  await page.getByRole('link', { name: 'See your open invitations' }).click();
  await heading(page, 'Your invitations');
  await page.getByRole('heading', { level: 2, name: 'Acme' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'Beta' }).waitFor();
  await page.getByText('Membership the organization set up for quinn@acme.test').waitFor();
  await checkA11y(page, 'my-invitations');
  await screenshot(page, 'my-invitations');
  await page.getByRole('button', { name: 'Accept Acme' }).click();
  await page.getByText('You joined Acme.').waitFor();
  await page.getByRole('button', { name: 'Decline Beta' }).click();
  await page.getByText('You declined Beta.').waitFor();
  await page.getByRole('button', { name: 'Accept Gamma' }).click();
  await page.getByText('You joined Gamma.').waitFor();
  const me = await api(server.base, quinn, 'GET', '/me');
  assert.ok(me.body.memberships.some((m) => m.org.id === gamma.id), 'the provisioned membership is now Quinn\'s');
  await checkA11y(page, 'my-invitations-done');
  assert.equal(await invitationStatus('quinn@acme.test'), 'accepted');
  const betaInv = await api(server.base, owner, 'GET', `/orgs/${beta.id}/invitations?email=quinn%40acme.test`);
  assert.equal(betaInv.body.items[0].status, 'declined');
  await page.getByRole('link', { name: 'Open Acme' }).click();
  await page.waitForURL((u) => u.pathname === `/console/orgs/${org.id}/users`);
  assertNoProblems(page);
  await page.context().close();
});

test('an unverified address is told to verify it, and the invitation stays pending', async () => {
  await invite('uma@acme.test');
  const link = await acceptLink('uma@acme.test');
  // The local sign-in page always vouches for the address; `rollcall token --unverified` does not.
  const bin = process.env.ROLLCALL_BIN || fileURLToPath(new URL('../../../target/debug/rollcall', import.meta.url));
  const token = execFileSync(bin, ['token', '--email', 'uma@acme.test', '--unverified', '--data-dir', server.dataDir]).toString().trim();
  const page = await newPage(browser);
  await page.goto(`${server.base}/console-config.json`);
  await page.evaluate((t) => {
    const c = JSON.parse(atob(t.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
    sessionStorage.setItem('rollcall.session', JSON.stringify({ token: t, email: c.email, name: null, expiresAt: c.exp }));
  }, token);
  await page.goto(link);
  await heading(page, 'Join Acme');
  await page.getByRole('button', { name: 'Accept invitation' }).click();
  await heading(page, 'Your email address is not verified');
  await checkA11y(page, 'accept-unverified');
  await screenshot(page, 'accept-unverified');
  assert.equal(await invitationStatus('uma@acme.test'), 'pending');
  assertNoProblems(page);
  await page.context().close();
});

// Last: restarts the server on the same data, its clock two days later.
test('an expired link: the invitee signs in and is told it expired', async () => {
  await invite('nora@acme.test', { expires_in_days: 1 });
  const token = new URL(await acceptLink('nora@acme.test')).searchParams.get('token');
  const dataDir = server.dataDir;
  await server.stop({ keepData: true });
  server = await startServer([], { ROLLCALL_LOCAL_CLOCK_OFFSET_SECS: String(2 * 86400) }, { dataDir });
  owner = await tokenFor(server.base, 'olivia@acme.test', 'Olivia Owner');
  assert.equal(await invitationStatus('nora@acme.test'), 'expired');

  const page = await newPage(browser);
  await signIn(page, server.base, 'nora@acme.test', 'Nora');
  await page.goto(`${server.base}/accept?token=${token}`);
  await heading(page, 'This invitation has expired');
  noTokenInAddress(page);
  await checkA11y(page, 'accept-expired');
  await screenshot(page, 'accept-expired');
  assertNoProblems(page);
  await page.context().close();

  // The list recorded the expiry once: one invitation.expired entry, by the system; the console
  // offers no action on the expired row.
  const log = await api(server.base, owner, 'GET', `/orgs/${org.id}/audit-events?action=invitation.expired`);
  assert.equal(log.status, 200);
  assert.deepEqual(log.body.items.map((e) => [e.details.email, e.actor.type]), [['nora@acme.test', 'system']]);
  const consolePage = await newPage(browser);
  await signIn(consolePage, server.base, 'olivia@acme.test', 'Olivia Owner');
  await consolePage.goto(`${server.base}/console/orgs/${org.id}/invitations?status=expired`);
  const row = consolePage.getByRole('row', { name: /nora@acme\.test/ });
  await row.waitFor();
  assert.match(await row.innerText(), /expired/);
  assert.equal(await row.getByRole('button').count(), 0, 'no Resend or Revoke on an expired invitation');
  await checkA11y(consolePage, 'invitations-expired');
  await screenshot(consolePage, 'invitations-expired');
  await consolePage.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Audit log', exact: true }).click();
  await consolePage.getByRole('row', { name: /Invitation expired/ }).waitFor();
  await checkA11y(consolePage, 'audit-expired');
  await screenshot(consolePage, 'audit-expired');
  assertNoProblems(consolePage);
  await consolePage.context().close();
});
