// Users: members with their roles per pool, status and source; filters, search and cursor paging
// through any number of members.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { unwrap, type Schemas } from '../../api/client';
import { SourcedAssignmentList } from '../../components/assignment-editor';
import { InviteDialog } from '../../components/invite-dialog';
import { OrgShell, useOrg } from '../../components/org-shell';
import { ErrorNote, Status, Time } from '../../components/ui';
import { ROLE_LABELS, ROLES, type Role } from '../../lib/assignments';
import { CursorStack, fillPage } from '../../lib/paging';
import { navigate, type Params } from '../../router';
import { canInvite, canManageGroups } from '../../permissions';

export const PAGE_SIZE = 50;

export const SOURCE_LABELS: Record<Schemas['MemberSource'], string> = {
  owner: 'Owner (created the organization)',
  invitation: 'Invitation',
  invite_link: 'Invite link',
  scim: 'SCIM',
};

interface Filters {
  q: string;
  role: string;
  pool_id: string;
  status: string;
}

function readFilters(search: URLSearchParams): Filters {
  return { q: search.get('q') ?? '', role: search.get('role') ?? '', pool_id: search.get('pool_id') ?? '', status: search.get('status') ?? '' };
}

export function UsersPage({ params, search }: { params: Params; search: URLSearchParams }) {
  return (
    <OrgShell orgId={params.org} tab="users" title="Users">
      <Users search={search} />
    </OrgShell>
  );
}

function Users({ search }: { search: URLSearchParams }) {
  const { api } = useApp();
  const org = useOrg();
  const [filters, setFilters] = useState<Filters>(() => readFilters(search));
  const [q, setQ] = useState(filters.q);
  const [stack, setStack] = useState(() => new CursorStack());
  const [page, setPage] = useState<{ items: Schemas['Member'][]; next: string | null; index: number } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [inviting, setInviting] = useState(false);

  useEffect(() => {
    let stale = false;
    setBusy(true);
    const query = {
      q: filters.q.trim() || undefined,
      role: (filters.role || undefined) as Role | undefined,
      pool_id: filters.pool_id || undefined,
      status: (filters.status || undefined) as Schemas['MemberStatus'] | undefined,
    };
    fillPage(
      async (cursor) =>
        unwrap(
          await api.GET('/orgs/{org}/users', {
            params: { path: { org: org.orgId }, query: { ...query, cursor, limit: PAGE_SIZE } },
          }),
        ),
      stack.current,
      PAGE_SIZE,
    )
      .then((p) => {
        if (stale) return;
        // Filtered server pages may be short: a gathered page may hold up to twice PAGE_SIZE; the
        // cursor continues after the last server page, so all that was gathered is shown.
        setPage({ items: p.items, next: p.next_cursor, index: stack.pageIndex });
        setError(null);
      })
      .catch((e) => !stale && setError(e))
      .finally(() => !stale && setBusy(false));
    return () => {
      stale = true;
    };
  }, [org.orgId, filters, stack]);

  const apply = (f: Filters) => {
    setFilters(f);
    setStack(new CursorStack());
    const sp = new URLSearchParams();
    for (const [k, v] of Object.entries(f)) if (v) sp.set(k, v);
    const qs = sp.toString();
    history.replaceState(null, '', `${location.pathname}${qs ? `?${qs}` : ''}`);
  };

  const mayInvite = canInvite(org.caller);
  const groupHref = canManageGroups(org.caller) ? (id: string) => `/console/orgs/${org.orgId}/groups/${id}` : undefined;
  return (
    <>
      <div class="toolbar">
        <p class="hint">
          Members of {org.org.name}. Open a member to see or change their roles{org.caller.assignments.some((a) => a.role === 'organization_manager') ? ' or remove them' : ''}.
        </p>
        {mayInvite && (
          <button type="button" class="primary" onClick={() => setInviting(true)}>
            Invite
          </button>
        )}
      </div>
      {inviting && <InviteDialog onClose={() => setInviting(false)} />}
      <form
        class="filters"
        role="search"
        aria-label="Filter members"
        onSubmit={(e) => {
          e.preventDefault();
          apply({ ...filters, q });
        }}
      >
        <label>
          Search
          <input type="search" name="q" maxLength={100} value={q} placeholder="name or email" onInput={(e) => setQ(e.currentTarget.value)} />
        </label>
        <label>
          Role
          <select aria-label="Role" value={filters.role} onChange={(e) => apply({ ...filters, q, role: e.currentTarget.value })}>
            <option value="">Any role</option>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {ROLE_LABELS[r]}
              </option>
            ))}
          </select>
        </label>
        <label>
          Pool
          <select aria-label="Pool" value={filters.pool_id} onChange={(e) => apply({ ...filters, q, pool_id: e.currentTarget.value })}>
            <option value="">Any pool</option>
            {org.rows.map((r) => (
              <option key={r.pool.id} value={r.pool.id}>
                {'\u00a0\u00a0'.repeat(r.depth)}
                {r.pool.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select aria-label="Status" value={filters.status} onChange={(e) => apply({ ...filters, q, status: e.currentTarget.value })}>
            <option value="">Any status</option>
            <option value="active">Active</option>
            <option value="suspended">Suspended</option>
          </select>
        </label>
        <button type="submit">Search</button>
        {(filters.q || filters.role || filters.pool_id || filters.status) && (
          <button
            type="button"
            class="link"
            onClick={() => {
              setQ('');
              apply({ q: '', role: '', pool_id: '', status: '' });
            }}
          >
            Clear filters
          </button>
        )}
      </form>
      <ErrorNote error={error} />
      <Status>
        {busy
          ? 'Loading members…'
          : page && (page.items.length === 0 ? 'No members match.' : `Page ${page.index + 1}: ${page.items.length} member${page.items.length === 1 ? '' : 's'}${page.next ? '' : ', end of the list'}.`)}
      </Status>
      {page && page.items.length > 0 && (
        <table class="members" aria-busy={busy}>
          <caption class="visually-hidden">Members</caption>
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Roles</th>
              <th scope="col">Status</th>
              <th scope="col">Source</th>
              <th scope="col">Joined</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((m) => (
              <tr key={m.user_id}>
                <th scope="row">
                  <a href={`/console/orgs/${org.orgId}/users/${m.user_id}`}>{m.name || m.email}</a>
                  {m.name && <div class="hint">{m.email}</div>}
                  {m.user_id === org.meId && <span class="badge">you</span>}
                </th>
                <td>
                  <SourcedAssignmentList member={m} poolName={org.poolName} groupHref={groupHref} />
                </td>
                <td>
                  <span class={`badge status-${m.status}`}>{m.status === 'active' ? 'Active' : 'Suspended'}</span>
                </td>
                <td>{SOURCE_LABELS[m.source] ?? m.source}</td>
                <td>
                  <Time ts={m.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages of members">
        <button type="button" disabled={!stack.hasPrevious || busy} onClick={() => setStack(stack.previous())}>
          Previous page
        </button>
        <span class="hint">Page {stack.pageIndex + 1}</span>
        <button type="button" disabled={!page?.next || busy} onClick={() => page?.next && setStack(stack.next(page.next))}>
          Next page
        </button>
      </nav>
    </>
  );
}

export function OrgIndexPage({ params }: { params: Params }) {
  useEffect(() => navigate(`/console/orgs/${params.org}/users`, { replace: true }), [params.org]);
  return null as unknown as preact.JSX.Element;
}
