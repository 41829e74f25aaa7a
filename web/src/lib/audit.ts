// The audit log's vocabulary for people: a label per action (typed against the API's action list,
// so an action the API adds and the console does not name fails the type check), and how an
// entry's actor and target read.
import type { Schemas } from '../api/client';

export type AuditEvent = Schemas['AuditEvent'];
export type AuditAction = Schemas['AuditAction'];

export const ACTION_LABELS: Record<AuditAction, string> = {
  'organization.created': 'Organization created',
  'organization.updated': 'Organization changed',
  'pool.created': 'Pool created',
  'pool.updated': 'Pool changed',
  'pool.deleted': 'Pool deleted',
  'invitation.created': 'Invitation sent',
  'invitation.resent': 'Invitation resent',
  'invitation.revoked': 'Invitation revoked',
  'invitation.accepted': 'Invitation accepted',
  'invitation.declined': 'Invitation declined',
  'invitation.expired': 'Invitation expired',
  'invite_link.created': 'Invite link created',
  'invite_link.revoked': 'Invite link revoked',
  'member.joined': 'Joined with a link',
  'member.roles_changed': 'Roles changed',
  'member.provisioned': 'Provisioned over SCIM',
  'member.updated': 'Updated over SCIM',
  'member.suspended': 'Suspended',
  'member.reactivated': 'Reactivated',
  'member.removed': 'Member removed',
  'member.linked': 'Linked to an account',
  'member.link_declined': 'Link declined',
  'scim_token.created': 'SCIM token created',
  'scim_token.revoked': 'SCIM token revoked',
  'domain.added': 'Domain added',
  'domain.verified': 'Domain verified',
  'domain.verification_failed': 'Domain verification failed',
  'domain.updated': 'Domain changed',
  'domain.removed': 'Domain removed',
  'group.created': 'Group created',
  'group.updated': 'Group changed',
  'group.members_changed': 'Group members changed',
  'group.assignments_changed': 'Group roles changed',
  'group.deleted': 'Group deleted',
};

/** Every action, in the API's order, for the filter. */
export const AUDIT_ACTIONS = Object.keys(ACTION_LABELS) as AuditAction[];

/** Who did it, for people: the user's email, the SCIM token, or Rollcall itself. */
export function actorText(a: AuditEvent['actor']): string {
  switch (a.type) {
    case 'user':
      return a.email ?? a.id ?? 'a user';
    case 'scim_token':
      return `Identity provider (SCIM token ${a.id ?? ''})`.trim();
    default:
      return 'Rollcall (automatic)';
  }
}

/** The console page of an entry's target, when it has one. */
export function targetHref(orgId: string, t: AuditEvent['target']): string | null {
  switch (t.type) {
    case 'member':
      return `/console/orgs/${orgId}/users/${encodeURIComponent(t.id)}`;
    case 'group':
      return `/console/orgs/${orgId}/groups/${encodeURIComponent(t.id)}`;
    default:
      return null;
  }
}

/** `datetime-local` input value (local time) to an RFC 3339 instant, or undefined when empty. */
export function localInputToRfc3339(v: string): string | undefined {
  if (!v.trim()) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
