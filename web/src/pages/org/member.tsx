// Member detail: who they are, their effective roles per pool and where each comes from (given
// directly, or by a group of the identity provider), their direct roles (editable by organization
// managers), and removal with a successor who receives their pools, invite links and pending
// invitations.
import { useEffect, useRef, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { ApiError, unwrap, type Schemas } from '../../api/client';
import { AssignmentEditor } from '../../components/assignment-editor';
import { OrgShell, useOrg } from '../../components/org-shell';
import { ErrorNote, Loading, Status, Time } from '../../components/ui';
import { draftProblems, normalize, ROLE_LABELS, sameAssignments, toAssignments, toDrafts, type DraftAssignment } from '../../lib/assignments';
import { groupName, roleSources } from '../../lib/role-sources';
import { fetchAll } from '../../lib/paging';
import { navigate, type Params } from '../../router';
import { canEditAssignments, canManageGroups, canRemoveMember, grantable, isOrgManager } from '../../permissions';
import { SOURCE_LABELS } from './users';

export function MemberPage({ params }: { params: Params }) {
  return (
    <OrgShell orgId={params.org} tab="users" title="Member">
      <Member usr={params.usr} />
    </OrgShell>
  );
}

function Member({ usr }: { usr: string }) {
  const { api } = useApp();
  const org = useOrg();
  const [member, setMember] = useState<Schemas['Member'] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const load = () =>
    api
      .GET('/orgs/{org}/users/{usr}', { params: { path: { org: org.orgId, usr } } })
      .then(unwrap)
      .then((m) => {
        setMember(m);
        document.title = `${m.name || m.email} · Rollcall`;
      })
      .catch(setError);
  useEffect(() => void load(), [org.orgId, usr]);

  if (!member) return error ? <ErrorNote error={error} /> : <Loading />;
  const self = member.user_id === org.meId;
  return (
    <>
      <p>
        <a href={`/console/orgs/${org.orgId}/users`}>← All users</a>
      </p>
      <h2>{member.name || member.email}</h2>
      <dl class="facts">
        <dt>Email</dt>
        <dd>{member.email}</dd>
        <dt>Name</dt>
        <dd>{member.name || '—'}</dd>
        <dt>Phone</dt>
        <dd>{member.phone || '—'}</dd>
        <dt>Status</dt>
        <dd>{member.status === 'active' ? 'Active' : 'Suspended'}</dd>
        <dt>Source</dt>
        <dd>{SOURCE_LABELS[member.source] ?? member.source}</dd>
        {member.external_id && (
          <>
            <dt>External id (SCIM)</dt>
            <dd>{member.external_id}</dd>
          </>
        )}
        <dt>Member since</dt>
        <dd>
          <Time ts={member.created_at} />
        </dd>
      </dl>
      <Roles member={member} onSaved={setMember} />
      {canRemoveMember(org.caller, org.meId, member.user_id) && <Remove member={member} self={self} />}
    </>
  );
}

/** Every effective role with where it comes from: "Direct", or the groups that give it. */
function EffectiveRoles({ member }: { member: Schemas['Member'] }) {
  const org = useOrg();
  const linkGroups = canManageGroups(org.caller);
  return (
    <table class="effective-roles">
      <caption class="visually-hidden">Roles and where they come from</caption>
      <thead>
        <tr>
          <th scope="col">Role</th>
          <th scope="col">Where</th>
          <th scope="col">Comes from</th>
        </tr>
      </thead>
      <tbody>
        {roleSources(member).map(({ assignment: a, sources }) => (
          <tr key={`${a.role}|${a.pool_id ?? ''}`}>
            <th scope="row">
              <span class={`role role-${a.role}`}>{ROLE_LABELS[a.role]}</span>
            </th>
            <td>{a.pool_id ? org.poolName(a.pool_id) : <span class="hint">whole organization</span>}</td>
            <td>
              <ul class="sources">
                {sources.map((src) => (
                  <li key={src.kind === 'direct' ? 'direct' : src.groupId}>
                    {src.kind === 'direct' ? (
                      'Direct'
                    ) : (
                      <>
                        Group{' '}
                        {linkGroups && src.name !== null ? (
                          <a href={`/console/orgs/${org.orgId}/groups/${src.groupId}`}>{src.name}</a>
                        ) : (
                          groupName(src.name)
                        )}
                      </>
                    )}
                  </li>
                ))}
              </ul>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Roles({ member, onSaved }: { member: Schemas['Member']; onSaved: (m: Schemas['Member']) => void }) {
  const { api } = useApp();
  const org = useOrg();
  const [drafts, setDrafts] = useState<DraftAssignment[]>(() => toDrafts(member.direct_assignments));
  const [error, setError] = useState<unknown>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [status, setStatus] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => setDrafts(toDrafts(member.direct_assignments)), [member]);

  const fromGroups = member.groups.length > 0 && (
    <p class="hint">
      {member.groups.length === 1 ? 'Member of the group ' : `Member of ${member.groups.length} groups: `}
      {member.groups.map((g, i) => (
        <span key={g.group_id}>
          {i > 0 && ', '}
          {canManageGroups(org.caller) && g.display_name !== null ? (
            <a href={`/console/orgs/${org.orgId}/groups/${g.group_id}`}>{g.display_name}</a>
          ) : (
            groupName(g.display_name)
          )}
        </span>
      ))}
      . Your identity provider decides who is in a group; what a group gives is set on its page.
    </p>
  );
  if (!canEditAssignments(org.caller)) {
    return (
      <section aria-labelledby="roles-h">
        <h2 id="roles-h">Roles</h2>
        <EffectiveRoles member={member} />
        {fromGroups}
        <p class="hint">Only organization managers change roles.</p>
      </section>
    );
  }
  const changed = !sameAssignments(toAssignments(drafts), member.direct_assignments);
  const save = async (e: Event) => {
    e.preventDefault();
    setStatus('');
    setError(null);
    const p = draftProblems(drafts);
    setProblems(p);
    if (p.length) return;
    setBusy(true);
    try {
      const m = unwrap(
        await api.PUT('/orgs/{org}/users/{usr}/assignments', {
          params: { path: { org: org.orgId, usr: member.user_id } },
          body: { assignments: normalize(toAssignments(drafts)) },
        }),
      );
      onSaved(m);
      setStatus('Direct roles saved.');
      if (m.user_id === org.meId) void org.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="roles-h">
      <h2 id="roles-h">Roles</h2>
      <EffectiveRoles member={member} />
      {fromGroups}
      <form class="stack" onSubmit={save} noValidate>
        <AssignmentEditor
          legend="Direct roles"
          idPrefix="member"
          value={drafts}
          onChange={setDrafts}
          grant={grantable(org.caller, 'assign')}
          rows={org.rows}
          emptyText={member.groups.length ? 'No direct role: only what their groups give, and Member.' : undefined}
        />
        {member.groups.length > 0 && <p class="hint">These are the roles given to this member directly; roles from groups stay as they are.</p>}
        {problems.length > 0 && (
          <ul role="alert" class="error">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        <LastManagerNote error={error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy || !changed}>
            Save direct roles
          </button>
          <button type="button" disabled={!changed} onClick={() => setDrafts(toDrafts(member.direct_assignments))}>
            Undo changes
          </button>
        </div>
        <Status>{status}</Status>
      </form>
    </section>
  );
}

/** The server's error; for last_organization_manager, what to do about it. */
function LastManagerNote({ error }: { error: unknown }) {
  if (error instanceof ApiError && error.code === 'last_organization_manager') {
    return (
      <div role="alert" class="error-box">
        <p class="error">
          {error.message} ({error.code})
        </p>
        <p>
          The organization must keep at least one active organization manager. Make another member an
          organization manager first (open them and add the Organization manager role), then try again.
        </p>
      </div>
    );
  }
  return <ErrorNote error={error} />;
}

interface Handover {
  pools: Schemas['Pool'][];
  links: Schemas['InviteLink'][] | null;
  invitations: Schemas['Invitation'][] | null;
}

function Remove({ member, self }: { member: Schemas['Member']; self: boolean }) {
  const { api } = useApp();
  const org = useOrg();
  const om = isOrgManager(org.caller);
  const [managers, setManagers] = useState<Schemas['Member'][] | null>(null);
  const [successor, setSuccessor] = useState('');
  const [handover, setHandover] = useState<Handover | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const path = { org: org.orgId };
    // Who can take over: other active organization managers (everyone may read the member list).
    fetchAll(async (cursor) =>
      unwrap(await api.GET('/orgs/{org}/users', { params: { path, query: { role: 'organization_manager', status: 'active', limit: 200, cursor } } })),
    )
      .then((list) => {
        const others = list.filter((m) => m.user_id !== member.user_id);
        setManagers(others);
        setSuccessor(others.find((m) => m.user_id === org.meId)?.user_id ?? others[0]?.user_id ?? '');
      })
      .catch(setError);
    // What will be handed over: the lists the caller may read.
    const pools = org.pools.filter((p) => p.owner_id === member.user_id);
    const links = om
      ? fetchAll(async (cursor) => unwrap(await api.GET('/orgs/{org}/invite-links', { params: { path, query: { limit: 200, cursor } } }))).then((l) =>
          l.filter((x) => x.created_by === member.user_id && x.status === 'active'),
        )
      : Promise.resolve(null);
    const invitations = om
      ? fetchAll(async (cursor) =>
          unwrap(await api.GET('/orgs/{org}/invitations', { params: { path, query: { status: 'pending', limit: 200, cursor } } })),
        ).then((l) => l.filter((x) => x.inviter_id === member.user_id))
      : Promise.resolve(null);
    Promise.all([links, invitations])
      .then(([l, i]) => setHandover({ pools, links: l, invitations: i }))
      .catch(setError);
  }, [org.orgId, member.user_id]);

  const isLastManager = member.assignments.some((a) => a.role === 'organization_manager') && managers !== null && managers.length === 0;
  const name = member.name || member.email;
  const remove = async () => {
    setBusy(true);
    setError(null);
    try {
      unwrap(
        await api.DELETE('/orgs/{org}/users/{usr}', {
          params: { path: { org: org.orgId, usr: member.user_id }, query: { successor_id: successor || undefined } },
        }),
      );
      await org.reload();
      navigate(self ? '/console' : `/console/orgs/${org.orgId}/users`);
    } catch (err) {
      setError(err);
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };
  const successorName = (() => {
    const m = managers?.find((x) => x.user_id === successor);
    return m ? m.name || m.email : 'the successor';
  })();
  return (
    <section aria-labelledby="remove-h" class="danger-zone">
      <h2 id="remove-h">{self ? 'Leave the organization' : 'Remove from the organization'}</h2>
      {isLastManager && (
        <p class="notice" role="note">
          {self ? 'You are' : `${name} is`} the last active organization manager: the organization must keep one. Make another
          member an organization manager before {self ? 'leaving' : 'removing them'}.
        </p>
      )}
      {managers && managers.length > 0 && (
        <label>
          Successor <span class="hint">(receives their pools, invite links and pending invitations)</span>
          <select value={successor} onChange={(e) => setSuccessor(e.currentTarget.value)}>
            {managers.map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.name ? `${m.name} <${m.email}>` : m.email}
                {m.user_id === org.meId ? ' (you)' : ''}
              </option>
            ))}
          </select>
        </label>
      )}
      <h3>What {successorName} will receive</h3>
      {handover ? (
        <ul class="handover">
          <li>
            {handover.pools.length === 0 ? (
              'No pools owned.'
            ) : (
              <>
                {handover.pools.length} pool{handover.pools.length === 1 ? '' : 's'} owned:{' '}
                {handover.pools.map((p) => org.poolName(p.id)).join(', ')}
              </>
            )}
          </li>
          <li>
            {handover.links === null
              ? 'Invite links: only organization managers can see them.'
              : handover.links.length === 0
                ? 'No active invite links created.'
                : `${handover.links.length} active invite link${handover.links.length === 1 ? '' : 's'} created.`}
          </li>
          <li>
            {handover.invitations === null ? (
              'Pending invitations: only organization managers can see them.'
            ) : handover.invitations.length === 0 ? (
              'No pending invitations sent.'
            ) : (
              <>
                {handover.invitations.length} pending invitation{handover.invitations.length === 1 ? '' : 's'} sent:{' '}
                {handover.invitations.slice(0, 10).map((i) => i.email).join(', ')}
                {handover.invitations.length > 10 ? ', …' : ''}
              </>
            )}
          </li>
        </ul>
      ) : (
        <Loading />
      )}
      <LastManagerNote error={error} />
      {confirming ? (
        <Confirm2
          question={self ? 'Leave this organization?' : `Remove ${name}? This cannot be undone.`}
          yes={self ? 'Yes, leave' : `Yes, remove ${name}`}
          busy={busy}
          onYes={remove}
          onCancel={() => setConfirming(false)}
        />
      ) : (
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          {self ? 'Leave organization…' : 'Remove member…'}
        </button>
      )}
    </section>
  );
}

function Confirm2(props: { question: string; yes: string; busy: boolean; onYes: () => void; onCancel: () => void }) {
  const yesRef = useRef<HTMLButtonElement>(null);
  useEffect(() => yesRef.current?.focus(), []);
  return (
    <div class="confirm" role="group" aria-label={props.question}>
      <p>{props.question}</p>
      <button type="button" class="danger" disabled={props.busy} onClick={props.onYes} ref={yesRef}>
        {props.yes}
      </button>{' '}
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}
