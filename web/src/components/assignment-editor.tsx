// Roles per pool: one row per role, a pool picker for the pool roles. Offers only what the caller
// may grant (permissions.ts); the server checks again.
import type { Schemas } from '../api/client';
import { isPoolRole, ROLE_LABELS, type DraftAssignment, type Role } from '../lib/assignments';
import type { PoolRow } from '../lib/pools';
import { groupName, roleSources, type RoleSource } from '../lib/role-sources';
import type { Grantable } from '../permissions';

export function AssignmentEditor({
  legend,
  value,
  onChange,
  grant,
  rows,
  idPrefix,
  emptyText = 'No role chosen: Member (read-only).',
}: {
  legend: string;
  value: DraftAssignment[];
  onChange: (v: DraftAssignment[]) => void;
  grant: Grantable;
  rows: PoolRow[];
  idPrefix: string;
  emptyText?: string;
}) {
  const roles: Role[] = grant.roles.filter((r) => r !== 'member');
  const pools = rows.filter((r) => grant.pools.has(r.pool.id));
  const set = (i: number, patch: Partial<DraftAssignment>) => onChange(value.map((v, j) => (j === i ? { ...v, ...patch } : v)));
  const firstRole: Role | undefined = roles.find(isPoolRole) ?? roles[0];
  return (
    <fieldset class="assignments">
      <legend>{legend}</legend>
      {value.length === 0 && <p class="hint">{emptyText}</p>}
      <ul>
        {value.map((a, i) => (
          <li key={i} class="assignment-row">
            <label>
              Role {i + 1}
              <select
                id={`${idPrefix}-role-${i}`}
                aria-label={`Role ${i + 1}`}
                value={a.role}
                onChange={(e) => set(i, { role: e.currentTarget.value as Role })}
              >
                {!roles.includes(a.role) && <option value={a.role}>{ROLE_LABELS[a.role]} (you cannot grant this)</option>}
                {roles.map((r) => (
                  <option value={r} key={r}>
                    {ROLE_LABELS[r]}
                  </option>
                ))}
              </select>
            </label>
            {isPoolRole(a.role) ? (
              <label>
                Pool for role {i + 1}
                <select id={`${idPrefix}-pool-${i}`} aria-label={`Pool for role ${i + 1}`} value={a.pool_id} required onChange={(e) => set(i, { pool_id: e.currentTarget.value })}>
                  <option value="">Choose a pool…</option>
                  {a.pool_id && !grant.pools.has(a.pool_id) && (
                    <option value={a.pool_id}>{rows.find((r) => r.pool.id === a.pool_id)?.path.join(' / ') ?? a.pool_id} (outside your pools)</option>
                  )}
                  {pools.map((r) => (
                    <option value={r.pool.id} key={r.pool.id}>
                      {'\u00a0\u00a0'.repeat(r.depth)}
                      {r.pool.name}
                    </option>
                  ))}
                </select>
              </label>
            ) : (
              <span class="hint org-wide">whole organization</span>
            )}
            <button type="button" class="link" onClick={() => onChange(value.filter((_, j) => j !== i))}>
              Remove role {i + 1}
            </button>
          </li>
        ))}
      </ul>
      {firstRole && (
        <button type="button" onClick={() => onChange([...value, { role: firstRole, pool_id: '' }])}>
          Add role
        </button>
      )}
    </fieldset>
  );
}

/** Assignments as text: "Manager · Acme / Eng, Engineer · Acme / Ops". */
export function AssignmentList({ list, poolName }: { list: { role: Role; pool_id?: string }[]; poolName: (id: string) => string }) {
  return (
    <ul class="roles">
      {list.map((a, i) => (
        <li key={i}>
          <span class={`role role-${a.role}`}>{ROLE_LABELS[a.role]}</span>
          {a.pool_id && <span class="pool"> · {poolName(a.pool_id)}</span>}
        </li>
      ))}
    </ul>
  );
}

/** A member's effective roles, each with where it comes from: "(direct)", "(via Engineers)". With
 * `groupHref`, group names link to their page. A member without groups gets the plain list. */
export function SourcedAssignmentList({
  member,
  poolName,
  groupHref,
}: {
  member: Pick<Schemas['Member'], 'assignments' | 'direct_assignments' | 'groups'>;
  poolName: (id: string) => string;
  groupHref?: (groupId: string) => string;
}) {
  if (member.groups.length === 0) return <AssignmentList list={member.assignments} poolName={poolName} />;
  return (
    <ul class="roles">
      {roleSources(member).map(({ assignment: a, sources }, i) => (
        <li key={i}>
          <span class={`role role-${a.role}`}>{ROLE_LABELS[a.role]}</span>
          {a.pool_id && <span class="pool"> · {poolName(a.pool_id)}</span>} <SourceText sources={sources} groupHref={groupHref} />
        </li>
      ))}
    </ul>
  );
}

/** "(direct, via Engineers)": the sources of one role. */
export function SourceText({ sources, groupHref }: { sources: RoleSource[]; groupHref?: (groupId: string) => string }) {
  if (sources.length === 0) return null;
  return (
    <span class="source">
      (
      {sources.map((s, i) => (
        <span key={s.kind === 'direct' ? 'direct' : s.groupId}>
          {i > 0 && ', '}
          {s.kind === 'direct' ? 'direct' : <>via {groupHref && s.name !== null ? <a href={groupHref(s.groupId)}>{s.name}</a> : groupName(s.name)}</>}
        </span>
      ))}
      )
    </span>
  );
}
