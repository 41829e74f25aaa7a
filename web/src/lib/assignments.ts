// Role assignments as the API keeps them (docs/api.md, "Roles and inheritance"): normal form is
// sorted, without duplicates, and without the implicit `member` unless it is the only role.
import type { Schemas } from '../api/client';

export type Role = Schemas['Role'];
export type Assignment = Schemas['Assignment'];

export const ROLES: Role[] = ['organization_manager', 'manager', 'engineer', 'member'];
export const POOL_ROLES: Role[] = ['manager', 'engineer'];

export const ROLE_LABELS: Record<Role, string> = {
  organization_manager: 'Organization manager',
  manager: 'Manager',
  engineer: 'Engineer',
  member: 'Member',
};

export function isPoolRole(role: Role): boolean {
  return role === 'manager' || role === 'engineer';
}

const key = (a: Assignment) => `${ROLES.indexOf(a.role)}|${a.pool_id ?? ''}`;

/** The normal form: pool roles keep their pool, org-wide roles drop it; sorted, deduplicated; the
 * implicit `member` only when nothing else is left. */
export function normalize(list: Assignment[]): Assignment[] {
  const seen = new Map<string, Assignment>();
  for (const a of list) {
    const clean: Assignment = isPoolRole(a.role) ? { role: a.role, pool_id: a.pool_id } : { role: a.role };
    seen.set(key(clean), clean);
  }
  let out = [...seen.values()].sort((a, b) => key(a).localeCompare(key(b)));
  if (out.length > 1) out = out.filter((a) => a.role !== 'member');
  return out.length ? out : [{ role: 'member' }];
}

export function sameAssignments(a: Assignment[], b: Assignment[]): boolean {
  const x = normalize(a);
  const y = normalize(b);
  return x.length === y.length && x.every((v, i) => key(v) === key(y[i]));
}

/** An editor row: a pool role may be chosen before its pool. */
export interface DraftAssignment {
  role: Role;
  pool_id: string;
}

/** Problems of a draft list, for the form (the server checks again): a pool role without a pool,
 * more than 50. */
export function draftProblems(rows: DraftAssignment[]): string[] {
  const out: string[] = [];
  rows.forEach((r, i) => {
    if (isPoolRole(r.role) && !r.pool_id) out.push(`Role ${i + 1} (${ROLE_LABELS[r.role]}) needs a pool.`);
  });
  if (normalize(toAssignments(rows)).length > 50) out.push('At most 50 roles.');
  return out;
}

export function toAssignments(rows: DraftAssignment[]): Assignment[] {
  return rows.map((r) => (isPoolRole(r.role) ? { role: r.role, pool_id: r.pool_id } : { role: r.role }));
}

export function toDrafts(list: Assignment[]): DraftAssignment[] {
  return list.filter((a) => a.role !== 'member').map((a) => ({ role: a.role, pool_id: a.pool_id ?? '' }));
}

/** "Manager of Acme / Eng" style text for one assignment. */
export function describe(a: Assignment, poolName: (id: string) => string): string {
  return a.pool_id ? `${ROLE_LABELS[a.role]} · ${poolName(a.pool_id)}` : ROLE_LABELS[a.role];
}
