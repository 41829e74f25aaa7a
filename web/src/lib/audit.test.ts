import { describe, expect, it } from 'vitest';
import { ACTION_LABELS, AUDIT_ACTIONS, actorText, localInputToRfc3339, targetHref } from './audit';

describe('audit log vocabulary', () => {
  it('names every action once', () => {
    expect(new Set(AUDIT_ACTIONS).size).toBe(AUDIT_ACTIONS.length);
    for (const a of AUDIT_ACTIONS) expect(ACTION_LABELS[a]).toMatch(/\S/);
  });
  it('reads actors for people', () => {
    expect(actorText({ type: 'user', id: 'usr_1', email: 'ada@x.test' })).toBe('ada@x.test');
    expect(actorText({ type: 'scim_token', id: 'sct_1' })).toBe('Identity provider (SCIM token sct_1)');
    expect(actorText({ type: 'system' })).toBe('Rollcall (automatic)');
  });
  it('links members and groups, not deleted things', () => {
    expect(targetHref('org_1', { type: 'member', id: 'usr_1' })).toBe('/console/orgs/org_1/users/usr_1');
    expect(targetHref('org_1', { type: 'group', id: 'grp_1' })).toBe('/console/orgs/org_1/groups/grp_1');
    expect(targetHref('org_1', { type: 'pool', id: 'pool_1' })).toBeNull();
  });
  it('turns a local time input into an instant, and empty into nothing', () => {
    expect(localInputToRfc3339('')).toBeUndefined();
    expect(localInputToRfc3339('not a time')).toBeUndefined();
    expect(localInputToRfc3339('2026-12-01T10:30')).toBe(new Date('2026-12-01T10:30').toISOString());
  });
});
