// Every permission rule of the console, in one place, following docs/api.md's permission matrix.
// The console only hides what the caller cannot do; the server stays the authority and its errors
// are shown as they come.
import type { Assignment, Role } from './lib/assignments';
import { subtree, type Pool } from './lib/pools';

export interface Caller {
  assignments: Assignment[];
  pools: Pool[];
  /** Whether the caller may invite at all. Organization managers always may; a manager may when the
   * organization's `managers_can_invite` is on, which only organization managers can read, so the
   * console asks the server (GET …/invitations answers 403 otherwise). Null: not known yet. */
  managersCanInvite: boolean | null;
}

export function isOrgManager(c: Pick<Caller, 'assignments'>): boolean {
  return c.assignments.some((a) => a.role === 'organization_manager');
}

/** The pools the caller holds `manager` on (the tops of their subtrees). */
export function managedRoots(c: Pick<Caller, 'assignments'>): string[] {
  return c.assignments.filter((a) => a.role === 'manager' && a.pool_id).map((a) => a.pool_id!);
}

/** Every pool the caller manages: the pools they hold `manager` on and everything below. */
export function managedPools(c: Pick<Caller, 'assignments' | 'pools'>): Set<string> {
  const out = new Set<string>();
  for (const root of managedRoots(c)) for (const id of subtree(c.pools, root)) out.add(id);
  return out;
}

export function isManager(c: Pick<Caller, 'assignments'>): boolean {
  return managedRoots(c).length > 0;
}

/** Create a sub-pool under `parentId`: organization managers anywhere, managers under a pool they manage. */
export function canCreatePoolUnder(c: Caller, parentId: string): boolean {
  return isOrgManager(c) || managedPools(c).has(parentId);
}

/** Strictly below a pool the caller holds `manager` on. */
function strictlyBelowManaged(c: Caller, poolId: string): boolean {
  return managedRoots(c).some((root) => root !== poolId && subtree(c.pools, root).has(poolId));
}

/** Rename or re-own a pool. */
export function canEditPool(c: Caller, pool: Pool): boolean {
  return isOrgManager(c) || strictlyBelowManaged(c, pool.id);
}

/** Delete a pool: as edit, never the root. (Leaf only, which the server says with pool_has_children.) */
export function canDeletePool(c: Caller, pool: Pool): boolean {
  return pool.parent_id !== null && canEditPool(c, pool);
}

export function canInvite(c: Caller): boolean {
  if (isOrgManager(c)) return true;
  return isManager(c) && c.managersCanInvite === true;
}

/** The Invitations tab (list, resend, revoke): the same people who may invite. */
export const canSeeInvitations = canInvite;

export function canManageInviteLinks(c: Caller): boolean {
  return isOrgManager(c);
}
export function canEditAssignments(c: Caller): boolean {
  return isOrgManager(c);
}
export function canEditSettings(c: Caller): boolean {
  return isOrgManager(c);
}
export function canManageScim(c: Caller): boolean {
  return isOrgManager(c);
}
/** The Groups tab: see the identity provider's groups and map them to roles. */
export function canManageGroups(c: Caller): boolean {
  return isOrgManager(c);
}

/** The Audit log tab: who did what and when in the organization. */
export function canReadAuditLog(c: Caller): boolean {
  return isOrgManager(c);
}

/** Remove a member: organization managers anyone, everybody themselves. */
export function canRemoveMember(c: Caller, callerId: string | null, memberId: string): boolean {
  return isOrgManager(c) || (callerId !== null && callerId === memberId);
}

/** What the caller may grant in an invitation or an assignment edit: roles, and the pools a pool
 * role may be given on. Nobody grants a role they could not exercise. */
export interface Grantable {
  roles: Role[];
  /** Pools the pool roles may be given on. */
  pools: Set<string>;
  /** A manager must give every invitation at least one pool role in their subtree. */
  needsPoolRole: boolean;
}

export function grantable(c: Caller, purpose: 'invite' | 'assign' | 'invite_link'): Grantable {
  const all = new Set(c.pools.map((p) => p.id));
  if (purpose === 'invite_link') return { roles: ['engineer', 'member'], pools: all, needsPoolRole: false };
  if (isOrgManager(c)) {
    return { roles: ['organization_manager', 'manager', 'engineer', 'member'], pools: all, needsPoolRole: false };
  }
  if (purpose === 'invite' && canInvite(c)) {
    return { roles: ['manager', 'engineer'], pools: managedPools(c), needsPoolRole: true };
  }
  return { roles: [], pools: new Set(), needsPoolRole: false };
}

/** The assignments in `list` the caller may not grant (for a message before sending). */
export function notGrantable(g: Grantable, list: Assignment[]): Assignment[] {
  return list.filter((a) => !g.roles.includes(a.role) || (a.pool_id !== undefined && !g.pools.has(a.pool_id)));
}

export type Tab = 'users' | 'invitations' | 'invite-links' | 'pools' | 'groups' | 'settings' | 'scim' | 'audit';

export const TAB_LABELS: Record<Tab, string> = {
  users: 'Users',
  invitations: 'Invitations',
  'invite-links': 'Invite links',
  pools: 'Pools',
  groups: 'Groups',
  settings: 'Settings',
  scim: 'SCIM',
  audit: 'Audit log',
};

/** The organization's tabs the caller sees. */
export function visibleTabs(c: Caller): Tab[] {
  const tabs: Tab[] = ['users'];
  if (canSeeInvitations(c)) tabs.push('invitations');
  if (canManageInviteLinks(c)) tabs.push('invite-links');
  tabs.push('pools');
  if (canManageGroups(c)) tabs.push('groups');
  if (canEditSettings(c)) tabs.push('settings');
  if (canManageScim(c)) tabs.push('scim');
  if (canReadAuditLog(c)) tabs.push('audit');
  return tabs;
}
