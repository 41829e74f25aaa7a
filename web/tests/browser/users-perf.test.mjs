// Measures the time to the first page of a 10,000-member Users list in Chromium against the local
// `rollcall serve`. Members are seeded over SCIM (POST /scim/v2/Users, 48 at a time). Prints the
// figures; no timed assertion (the machine is shared).
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, launchBrowser, newPage, signIn, startServer, tokenFor } from './harness.mjs';

const MEMBERS = Number(process.env.PERF_MEMBERS || 10000);
let server;
let browser;
before(async () => {
  // The data directory on tmpfs when there is one: seeding measures nothing, and without the
  // disk's fsyncs it stays well under a minute on a shared machine.
  if (!process.env.TMPDIR && existsSync('/dev/shm')) process.env.TMPDIR = '/dev/shm';
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test(`time to the first page of a ${MEMBERS}-member Users list`, { timeout: 120000 }, async () => {
  const owner = await tokenFor(server.base, 'perf-owner@acme.test', 'Perf Owner');
  const org = (await api(server.base, owner, 'POST', '/orgs', { name: 'Big Co' })).body;
  const scim = (await api(server.base, owner, 'POST', `/orgs/${org.id}/scim-tokens`, { description: 'seed' })).body.token;

  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < MEMBERS) {
      const i = next++;
      const res = await fetch(`${server.base}/scim/v2/Users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${scim}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: `user${i}@big.test`,
          displayName: `User ${i}`,
          emails: [{ value: `user${i}@big.test`, primary: true }],
          active: true,
        }),
      });
      assert.equal(res.status, 201, await res.text());
    }
  };
  await Promise.all(Array.from({ length: 48 }, worker));
  const seedMs = Date.now() - t0;
  console.log(`seeded ${MEMBERS} members over SCIM in ${(seedMs / 1000).toFixed(1)} s (${Math.round(MEMBERS / (seedMs / 1000))}/s)`);

  const page = await newPage(browser);
  await signIn(page, server.base, 'perf-owner@acme.test', 'Perf Owner');
  const url = `${server.base}/console/orgs/${org.id}/users`;
  const firstRows = page.locator('table.members tbody tr');

  // Full load: HTML, scripts, config, the organization's data and the first page of 50.
  const loads = [];
  for (let i = 0; i < 5; i++) {
    const start = Date.now();
    await page.goto(url);
    await firstRows.first().waitFor();
    loads.push(Date.now() - start);
  }
  assert.equal(await firstRows.count(), 50);
  // In-app: from the Pools tab back to Users (the console already loaded).
  const tabs = [];
  for (let i = 0; i < 5; i++) {
    await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Pools', exact: true }).click();
    await page.getByRole('heading', { name: 'Pools', level: 1 }).waitFor();
    const start = Date.now();
    await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Users', exact: true }).click();
    await firstRows.first().waitFor();
    tabs.push(Date.now() - start);
  }
  // Next page (cursor), and a search over all members.
  const first = await firstRows.first().innerText();
  let start = Date.now();
  await page.getByRole('button', { name: 'Next page' }).click();
  await page.getByText('Page 2:').waitFor();
  const nextMs = Date.now() - start;
  assert.notEqual(await firstRows.first().innerText(), first);
  start = Date.now();
  await page.getByLabel('Search').fill('user9999@');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByRole('link', { name: 'User 9999' }).waitFor({ timeout: 60000 });
  const searchMs = Date.now() - start;

  console.log(`users page, full load to the first 50 rows: median ${median(loads)} ms (runs: ${loads.join(', ')})`);
  console.log(`users tab, in-app navigation to the first 50 rows: median ${median(tabs)} ms (runs: ${tabs.join(', ')})`);
  console.log(`next page: ${nextMs} ms; search "user9999@" over ${MEMBERS} members: ${searchMs} ms`);
});
