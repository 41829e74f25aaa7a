// Pools: the tree (parents first), who owns each pool and who holds roles where; create sub-pools,
// rename, change owner, delete (leaf only) as the caller's roles allow.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { ApiError, unwrap, type Schemas } from '../../api/client';
import { MemberPicker } from '../../components/member-picker';
import { OrgShell, useOrg } from '../../components/org-shell';
import { Confirm, ErrorNote, Loading, Status } from '../../components/ui';
import { ROLE_LABELS } from '../../lib/assignments';
import { fillPage } from '../../lib/paging';
import type { PoolRow } from '../../lib/pools';
import { canCreatePoolUnder, canDeletePool, canEditPool } from '../../permissions';
import type { Params } from '../../router';

export function PoolsPage({ params, search }: { params: Params; search: URLSearchParams }) {
  return (
    <OrgShell orgId={params.org} tab="pools" title="Pools">
      <Pools selected={search.get('pool')} />
    </OrgShell>
  );
}

/** Names of members by id, fetched once each (pool owners). */
function useMemberNames(ids: string[]): Record<string, string> {
  const { api } = useApp();
  const org = useOrg();
  const [names, setNames] = useState<Record<string, string>>({});
  const key = [...new Set(ids)].sort().join(',');
  useEffect(() => {
    const missing = [...new Set(ids)].filter((id) => !(id in names));
    if (!missing.length) return;
    Promise.all(
      missing.map((usr) =>
        api
          .GET('/orgs/{org}/users/{usr}', { params: { path: { org: org.orgId, usr } } })
          .then((r) => [usr, r.response.ok && r.data ? r.data.name || r.data.email : 'former member'] as const),
      ),
    ).then((pairs) => setNames((n) => ({ ...n, ...Object.fromEntries(pairs) })));
  }, [key]);
  return names;
}

function Pools({ selected }: { selected: string | null }) {
  const org = useOrg();
  const [sel, setSel] = useState<string | null>(selected);
  const names = useMemberNames(org.pools.map((p) => p.owner_id));
  const row = org.rows.find((r) => r.pool.id === sel) ?? null;
  const choose = (id: string) => {
    setSel(id);
    history.replaceState(null, '', `${location.pathname}?pool=${id}`);
    setTimeout(() => document.getElementById('pool-panel-h')?.focus(), 0);
  };
  return (
    <div class="pools">
      <table class="tree">
        <caption class="visually-hidden">Pools, each followed by its sub-pools</caption>
        <thead>
          <tr>
            <th scope="col">Pool</th>
            <th scope="col">Owner</th>
            <th scope="col">Sub-pools</th>
            <th scope="col">
              <span class="visually-hidden">Open</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {org.rows.map((r) => (
            <tr key={r.pool.id} class={r.pool.id === sel ? 'selected' : undefined}>
              <th scope="row" class={`depth depth-${Math.min(r.depth, 8)}`}>
                <span aria-hidden="true" class="twig">
                  {r.depth > 0 ? '└ ' : ''}
                </span>
                {r.pool.name}
                {r.depth > 0 && <span class="visually-hidden"> (in {r.path.slice(0, -1).join(' / ')})</span>}
              </th>
              <td>{names[r.pool.owner_id] ?? '…'}</td>
              <td>{r.children}</td>
              <td>
                <button type="button" class="link" onClick={() => choose(r.pool.id)} aria-label={`Open ${r.path.join(' / ')}`}>
                  Open
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {row ? (
        <PoolPanel key={row.pool.id} row={row} ownerName={names[row.pool.owner_id]} onDeleted={() => setSel(null)} />
      ) : (
        <p class="hint">Open a pool to see who holds roles there{org.rows.some((r) => canCreatePoolUnder(org.caller, r.pool.id)) ? ', add sub-pools or change it' : ''}.</p>
      )}
    </div>
  );
}

function PoolPanel({ row, ownerName, onDeleted }: { row: PoolRow; ownerName?: string; onDeleted: () => void }) {
  const { api } = useApp();
  const org = useOrg();
  const pool = row.pool;
  const [name, setName] = useState(pool.name);
  const [owner, setOwner] = useState('');
  const [child, setChild] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [busy, setBusy] = useState(false);
  const path = { org: org.orgId };

  const run = async (what: () => Promise<string>) => {
    setBusy(true);
    setError(null);
    setNote('');
    try {
      setNote(await what());
      await org.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const create = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const p = unwrap(await api.POST('/orgs/{org}/pools', { params: { path }, body: { name: child.trim(), parent_id: pool.id } }));
      setChild('');
      return `Created ${p.name} under ${pool.name}.`;
    });
  };
  const rename = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const p = unwrap(await api.PATCH('/orgs/{org}/pools/{pool}', { params: { path: { ...path, pool: pool.id } }, body: { name: name.trim() } }));
      return `Renamed to ${p.name}.`;
    });
  };
  const reown = (e: Event) => {
    e.preventDefault();
    if (!owner) return setError(new Error('Choose the new owner first.'));
    void run(async () => {
      unwrap(await api.PATCH('/orgs/{org}/pools/{pool}', { params: { path: { ...path, pool: pool.id } }, body: { owner_id: owner } }));
      return 'Owner changed.';
    });
  };
  const del = () =>
    void run(async () => {
      unwrap(await api.DELETE('/orgs/{org}/pools/{pool}', { params: { path: { ...path, pool: pool.id } } }));
      setTimeout(onDeleted, 0);
      return `Deleted ${pool.name}.`;
    }).finally(() => setConfirmDelete(false));

  const mayCreate = canCreatePoolUnder(org.caller, pool.id);
  const mayEdit = canEditPool(org.caller, pool);
  const mayDelete = canDeletePool(org.caller, pool);
  return (
    <section class="card pool-panel" aria-labelledby="pool-panel-h">
      <h2 id="pool-panel-h" tabIndex={-1}>
        {row.path.join(' / ')}
      </h2>
      <p>
        Owner: {ownerName ?? '…'} · {row.children} sub-pool{row.children === 1 ? '' : 's'}
      </p>
      <PoolError error={error} />
      <Status>{note}</Status>
      {mayCreate && (
        <form class="inline" onSubmit={create}>
          <label>
            New sub-pool name
            <input type="text" required maxLength={100} value={child} onInput={(e) => setChild(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={busy}>
            Create sub-pool
          </button>
        </form>
      )}
      {mayEdit && (
        <>
          <form class="inline" onSubmit={rename}>
            <label>
              Pool name
              <input type="text" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
            </label>
            <button type="submit" disabled={busy || name.trim() === pool.name}>
              Rename
            </button>
          </form>
          <form class="inline" onSubmit={reown}>
            <MemberPicker orgId={org.orgId} id="pool-owner" label="New owner" value={owner} onChange={setOwner} exclude={[pool.owner_id]} />
            <button type="submit" disabled={busy}>
              Change owner
            </button>
          </form>
        </>
      )}
      {mayDelete && (
        <div class="inline">
          {confirmDelete ? (
            <Confirm question={`Delete ${pool.name}? Roles on it are dropped.`} yes="Yes, delete" busy={busy} onYes={del} onCancel={() => setConfirmDelete(false)} />
          ) : (
            <button type="button" class="danger" onClick={() => setConfirmDelete(true)}>
              Delete pool…
            </button>
          )}
        </div>
      )}
      {!mayCreate && !mayEdit && <p class="hint">Your roles let you read this pool, not change it.</p>}
      <RoleHolders poolId={pool.id} />
    </section>
  );
}

function PoolError({ error }: { error: unknown }) {
  if (error instanceof ApiError && (error.code === 'pool_has_children' || error.code === 'root_pool')) {
    return (
      <div role="alert" class="error-box">
        <p class="error">
          {error.message} ({error.code})
        </p>
        <p>
          {error.code === 'pool_has_children'
            ? 'Delete its sub-pools first, starting with the deepest, then this one.'
            : 'The root pool is the organization itself and cannot be deleted.'}
        </p>
      </div>
    );
  }
  return <ErrorNote error={error} />;
}

/** Members with an assignment on exactly this pool (GET …/users?pool_id=). */
function RoleHolders({ poolId }: { poolId: string }) {
  const { api } = useApp();
  const org = useOrg();
  const [holders, setHolders] = useState<{ items: Schemas['Member'][]; more: boolean } | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    fillPage(
      async (cursor) => unwrap(await api.GET('/orgs/{org}/users', { params: { path: { org: org.orgId }, query: { pool_id: poolId, limit: 100, cursor } } })),
      undefined,
      100,
    )
      .then((p) => setHolders({ items: p.items, more: p.next_cursor !== null }))
      .catch(setError);
  }, [poolId]);
  return (
    <>
      <h3>Who holds roles here</h3>
      <ErrorNote error={error} />
      {!holders && !error && <Loading />}
      {holders && holders.items.length === 0 && <p>Nobody holds a role on this pool itself (roles on pools above it apply here too).</p>}
      {holders && holders.items.length > 0 && (
        <ul class="holders">
          {holders.items.map((m) => (
            <li key={m.user_id}>
              <a href={`/console/orgs/${org.orgId}/users/${m.user_id}`}>{m.name || m.email}</a>:{' '}
              {m.assignments
                .filter((a) => a.pool_id === poolId)
                .map((a) => ROLE_LABELS[a.role])
                .join(', ')}
            </li>
          ))}
        </ul>
      )}
      {holders?.more && (
        <p>
          <a href={`/console/orgs/${org.orgId}/users?pool_id=${poolId}`}>See all on the Users page</a>
        </p>
      )}
    </>
  );
}
