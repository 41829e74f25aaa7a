// Groups: the identity provider's groups (pushed over SCIM) and the roles organization managers
// map to them. The list shows each group's mapping with pool names; a group's page pages through
// its members, edits the mapping with the same role editor as a member's roles, and explains the
// last-manager conflicts the group recorded.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { ApiError, unwrap, type Schemas } from '../../api/client';
import { AssignmentEditor, AssignmentList, SourcedAssignmentList } from '../../components/assignment-editor';
import { OrgShell, useOrg } from '../../components/org-shell';
import { ErrorNote, Loading, Status, Time } from '../../components/ui';
import { draftProblems, normalize, sameAssignments, toAssignments, toDrafts, type DraftAssignment } from '../../lib/assignments';
import { CursorStack } from '../../lib/paging';
import type { Params } from '../../router';
import { grantable } from '../../permissions';

export const GROUPS_PAGE_SIZE = 50;

export function GroupsPage({ params }: { params: Params }) {
  return (
    <OrgShell orgId={params.org} tab="groups" title="Groups">
      <Groups />
    </OrgShell>
  );
}

export function GroupPage({ params }: { params: Params }) {
  return (
    <OrgShell orgId={params.org} tab="groups" title="Group">
      <Group grp={params.grp} />
    </OrgShell>
  );
}

/** A group's roles as text-list, or what an empty mapping means. */
function MappedRoles({ list }: { list: Schemas['Assignment'][] }) {
  const org = useOrg();
  if (list.length === 0) return <span class="hint">No roles mapped</span>;
  return <AssignmentList list={list} poolName={org.poolName} />;
}

function Groups() {
  const { api } = useApp();
  const org = useOrg();
  const [stack, setStack] = useState(() => new CursorStack());
  const [page, setPage] = useState<{ items: Schemas['Group'][]; next: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let stale = false;
    setBusy(true);
    api
      .GET('/orgs/{org}/groups', { params: { path: { org: org.orgId }, query: { limit: GROUPS_PAGE_SIZE, cursor: stack.current } } })
      .then(unwrap)
      .then((p) => {
        if (stale) return;
        setPage({ items: p.items, next: p.next_cursor });
        setError(null);
      })
      .catch((e) => !stale && setError(e))
      .finally(() => !stale && setBusy(false));
    return () => {
      stale = true;
    };
  }, [org.orgId, stack]);

  return (
    <>
      <p class="hint">
        Your identity provider pushes its groups and who is in them over <a href={`/console/orgs/${org.orgId}/scim`}>SCIM</a>. Map a group to
        roles here: its members hold those roles as long as they are in the group, on top of the roles given to them directly.
      </p>
      <ErrorNote error={error} />
      <Status>
        {busy
          ? 'Loading groups…'
          : page &&
            (page.items.length === 0 && !stack.hasPrevious
              ? 'No groups yet. They appear when your identity provider pushes groups over SCIM.'
              : `Page ${stack.pageIndex + 1}: ${page.items.length} group${page.items.length === 1 ? '' : 's'}${page.next ? '' : ', end of the list'}.`)}
      </Status>
      {page && page.items.length > 0 && (
        <table class="groups" aria-busy={busy}>
          <caption class="visually-hidden">Groups</caption>
          <thead>
            <tr>
              <th scope="col">Group</th>
              <th scope="col">External id</th>
              <th scope="col">Members</th>
              <th scope="col">Roles it gives</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((g) => (
              <tr key={g.id}>
                <th scope="row">
                  <a href={`/console/orgs/${org.orgId}/groups/${g.id}`}>{g.display_name}</a>
                  {g.conflicts.length > 0 && (
                    <div>
                      <span class="badge conflict">
                        {g.conflicts.length} conflict{g.conflicts.length === 1 ? '' : 's'}
                      </span>
                    </div>
                  )}
                </th>
                <td>{g.external_id ?? <span class="hint">—</span>}</td>
                <td>{g.member_count}</td>
                <td>
                  <MappedRoles list={g.assignments} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(stack.hasPrevious || page?.next) && (
        <nav class="pager" aria-label="Pages of groups">
          <button type="button" disabled={!stack.hasPrevious || busy} onClick={() => setStack(stack.previous())}>
            Previous page
          </button>
          <span class="hint">Page {stack.pageIndex + 1}</span>
          <button type="button" disabled={!page?.next || busy} onClick={() => page?.next && setStack(stack.next(page.next))}>
            Next page
          </button>
        </nav>
      )}
    </>
  );
}

function Group({ grp }: { grp: string }) {
  const { api } = useApp();
  const org = useOrg();
  const [group, setGroup] = useState<Schemas['Group'] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    setGroup(null);
    api
      .GET('/orgs/{org}/groups/{grp}', { params: { path: { org: org.orgId, grp } } })
      .then(unwrap)
      .then((g) => {
        setGroup(g);
        document.title = `${g.display_name} · Rollcall`;
      })
      .catch(setError);
  }, [org.orgId, grp]);

  if (!group) return error ? <ErrorNote error={error} /> : <Loading />;
  return (
    <>
      <p>
        <a href={`/console/orgs/${org.orgId}/groups`}>← All groups</a>
      </p>
      <h2>{group.display_name}</h2>
      <dl class="facts">
        <dt>External id</dt>
        <dd>{group.external_id ?? '—'}</dd>
        <dt>Members</dt>
        <dd>{group.member_count}</dd>
        <dt>Created</dt>
        <dd>
          <Time ts={group.created_at} />
        </dd>
        <dt>Last change</dt>
        <dd>
          <Time ts={group.updated_at} />
        </dd>
      </dl>
      <Mapping group={group} onSaved={setGroup} />
      <Conflicts group={group} />
      <Members group={group} />
    </>
  );
}

function Mapping({ group, onSaved }: { group: Schemas['Group']; onSaved: (g: Schemas['Group']) => void }) {
  const { api } = useApp();
  const org = useOrg();
  const [drafts, setDrafts] = useState<DraftAssignment[]>(() => toDrafts(group.assignments));
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => setDrafts(toDrafts(group.assignments)), [group]);

  const changed = !sameAssignments(toAssignments(drafts), group.assignments);
  const save = async (e: Event) => {
    e.preventDefault();
    setStatus('');
    setError(null);
    const p = draftProblems(drafts);
    setProblems(p);
    if (p.length) return;
    setBusy(true);
    try {
      const g = unwrap(
        await api.PUT('/orgs/{org}/groups/{grp}/assignments', {
          params: { path: { org: org.orgId, grp: group.id } },
          body: { assignments: normalize(toAssignments(drafts)) },
        }),
      );
      onSaved(g);
      const newConflicts = g.conflicts.length - group.conflicts.length;
      setStatus(
        `Roles saved: the group's ${g.member_count} member${g.member_count === 1 ? '' : 's'} now hold${g.member_count === 1 ? 's' : ''} them.` +
          (newConflicts > 0 ? ' Some could not lose Organization manager: see Conflicts below.' : ''),
      );
      // The caller may be a member of this group: their own roles may have changed.
      void org.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const partial = error instanceof ApiError && error.code === 'service_unavailable';
  return (
    <section aria-labelledby="mapping-h">
      <h2 id="mapping-h">Roles this group gives</h2>
      <form class="stack" onSubmit={save} noValidate>
        <AssignmentEditor
          legend="Roles per pool for every member of the group"
          idPrefix="group"
          value={drafts}
          onChange={setDrafts}
          grant={grantable(org.caller, 'assign')}
          rows={org.rows}
          emptyText="No role mapped: being in this group gives nothing beyond Member."
        />
        {problems.length > 0 && (
          <ul role="alert" class="error">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        <ErrorNote error={error} />
        {partial && (
          <p class="notice" role="note">
            The change reached only some of the group's members. Save again to finish it.
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || (!changed && !partial)}>
            Save group roles
          </button>
          <button type="button" disabled={!changed} onClick={() => setDrafts(toDrafts(group.assignments))}>
            Undo changes
          </button>
        </div>
        <Status>{status}</Status>
      </form>
    </section>
  );
}

function Conflicts({ group }: { group: Schemas['Group'] }) {
  const { api } = useApp();
  const org = useOrg();
  const [names, setNames] = useState<Record<string, string>>({});
  useEffect(() => {
    const ids = [...new Set(group.conflicts.map((c) => c.user_id))];
    Promise.all(
      ids.map((usr) =>
        api
          .GET('/orgs/{org}/users/{usr}', { params: { path: { org: org.orgId, usr } } })
          .then((r) => [usr, r.data ? r.data.name || r.data.email : ''] as const),
      ),
    )
      .then((pairs) => setNames(Object.fromEntries(pairs.filter(([, n]) => n))))
      .catch(() => setNames({}));
  }, [org.orgId, group.conflicts]);

  if (group.conflicts.length === 0) return null;
  return (
    <section aria-labelledby="conflicts-h" class="conflicts">
      <h2 id="conflicts-h">Conflicts</h2>
      <p>
        A change to this group (someone leaving it, or its roles changing) would have left {org.org.name} without an active organization
        manager. Rollcall never lets that happen, and it does not refuse your identity provider's request either: instead, each person
        below kept <strong>Organization manager</strong> as a direct role.
      </p>
      <p>
        To settle it, make sure someone else is an organization manager, then open each person and remove the role from their direct
        roles if they should not have it.
      </p>
      <table>
        <caption class="visually-hidden">Conflicts of this group, oldest first</caption>
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Member</th>
            <th scope="col">Kept as direct roles</th>
          </tr>
        </thead>
        <tbody>
          {group.conflicts.map((c, i) => (
            <tr key={`${c.at}-${c.user_id}-${i}`}>
              <td>
                <Time ts={c.at} />
              </td>
              <td>
                <a href={`/console/orgs/${org.orgId}/users/${c.user_id}`}>{names[c.user_id] ?? c.user_id}</a>
              </td>
              <td>
                <AssignmentList list={c.kept} poolName={org.poolName} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Members({ group }: { group: Schemas['Group'] }) {
  const { api } = useApp();
  const org = useOrg();
  const [stack, setStack] = useState(() => new CursorStack());
  const [page, setPage] = useState<{ items: Schemas['GroupMember'][]; next: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let stale = false;
    setBusy(true);
    api
      .GET('/orgs/{org}/groups/{grp}/members', {
        params: { path: { org: org.orgId, grp: group.id }, query: { limit: GROUPS_PAGE_SIZE, cursor: stack.current } },
      })
      .then(unwrap)
      .then((p) => {
        if (stale) return;
        setPage({ items: p.items, next: p.next_cursor });
        setError(null);
      })
      .catch((e) => !stale && setError(e))
      .finally(() => !stale && setBusy(false));
    return () => {
      stale = true;
    };
    // The members' roles follow the mapping: read them again after a save.
  }, [org.orgId, group, stack]);

  const groupHref = (id: string) => `/console/orgs/${org.orgId}/groups/${id}`;
  return (
    <section aria-labelledby="members-h">
      <h2 id="members-h">Members</h2>
      <ErrorNote error={error} />
      <Status>
        {busy
          ? 'Loading members…'
          : page &&
            (page.items.length === 0 && !stack.hasPrevious
              ? 'No members in this group.'
              : `Page ${stack.pageIndex + 1}: ${page.items.length} member${page.items.length === 1 ? '' : 's'}${page.next ? '' : ', end of the list'}.`)}
      </Status>
      {page && page.items.length > 0 && (
        <table class="members" aria-busy={busy}>
          <caption class="visually-hidden">Members of {group.display_name}</caption>
          <thead>
            <tr>
              <th scope="col">Member</th>
              <th scope="col">Roles</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map(({ member_ref, member: m }) => (
              <tr key={member_ref}>
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
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {(stack.hasPrevious || page?.next) && (
        <nav class="pager" aria-label="Pages of group members">
          <button type="button" disabled={!stack.hasPrevious || busy} onClick={() => setStack(stack.previous())}>
            Previous page
          </button>
          <span class="hint">Page {stack.pageIndex + 1}</span>
          <button type="button" disabled={!page?.next || busy} onClick={() => page?.next && setStack(stack.next(page.next))}>
            Next page
          </button>
        </nav>
      )}
    </section>
  );
}
