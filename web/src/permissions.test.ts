import { describe, expect, it } from 'vitest';
import type { Pool } from './lib/pools';
import {
  canCreatePoolUnder,
  canDeletePool,
  canEditPool,
  canInvite,
  canManageGroups,
  canRemoveMember,
  grantable,
  notGrantable,
  visibleTabs,
  type Caller,
} from './permissions';

const p = (id: string, parent_id: string | null): Pool => ({ id, name: id, parent_id, owner_id: 'usr_o', created_at: '' });
const pools = [p('root', null), p('eng', 'root'), p('plat', 'eng'), p('sales', 'root')];
const caller = (assignments: Caller['assignments'], managersCanInvite: boolean | null = false): Caller => ({ assignments, pools, managersCanInvite });

const owner = caller([{ role: 'organization_manager' }]);
const manager = caller([{ role: 'manager', pool_id: 'eng' }]);
const invitingManager = caller([{ role: 'manager', pool_id: 'eng' }], true);
const engineer = caller([{ role: 'engineer', pool_id: 'eng' }], true);
const member = caller([{ role: 'member' }]);

describe('tabs', () => {
  it('organization managers see every tab', () => {
    expect(visibleTabs(owner)).toEqual(['users', 'invitations', 'invite-links', 'pools', 'groups', 'settings', 'scim', 'audit']);
  });
  it('managers see invitations only when managers may invite', () => {
    expect(visibleTabs(manager)).toEqual(['users', 'pools']);
    expect(visibleTabs(invitingManager)).toEqual(['users', 'invitations', 'pools']);
  });
  it('engineers and members read users and pools', () => {
    expect(visibleTabs(engineer)).toEqual(['users', 'pools']);
    expect(visibleTabs(member)).toEqual(['users', 'pools']);
  });
  it('only organization managers see and map groups', () => {
    expect(canManageGroups(owner)).toBe(true);
    for (const c of [manager, invitingManager, engineer, member]) expect(canManageGroups(c)).toBe(false);
  });
});

describe('pools', () => {
  it('organization managers create, edit and delete anywhere but the root', () => {
    expect(canCreatePoolUnder(owner, 'root')).toBe(true);
    expect(canEditPool(owner, pools[0])).toBe(true);
    expect(canDeletePool(owner, pools[0])).toBe(false);
    expect(canDeletePool(owner, pools[3])).toBe(true);
  });
  it('managers create under their pool, edit and delete strictly below it', () => {
    expect(canCreatePoolUnder(manager, 'eng')).toBe(true);
    expect(canCreatePoolUnder(manager, 'plat')).toBe(true);
    expect(canCreatePoolUnder(manager, 'root')).toBe(false);
    expect(canEditPool(manager, pools[1])).toBe(false);
    expect(canEditPool(manager, pools[2])).toBe(true);
    expect(canDeletePool(manager, pools[2])).toBe(true);
    expect(canEditPool(manager, pools[3])).toBe(false);
  });
  it('engineers and members change nothing', () => {
    for (const c of [engineer, member]) {
      expect(canCreatePoolUnder(c, 'eng')).toBe(false);
      expect(pools.some((x) => canEditPool(c, x) || canDeletePool(c, x))).toBe(false);
    }
  });
});

describe('inviting and granting', () => {
  it('who may invite', () => {
    expect(canInvite(owner)).toBe(true);
    expect(canInvite(manager)).toBe(false);
    expect(canInvite(caller(manager.assignments, null))).toBe(false);
    expect(canInvite(invitingManager)).toBe(true);
    expect(canInvite(engineer)).toBe(false);
  });
  it('organization managers grant every role on every pool', () => {
    const g = grantable(owner, 'invite');
    expect(g.roles).toEqual(['organization_manager', 'manager', 'engineer', 'member']);
    expect(g.pools.size).toBe(4);
  });
  it('managers grant manager and engineer inside their subtree only', () => {
    const g = grantable(invitingManager, 'invite');
    expect(g.roles).toEqual(['manager', 'engineer']);
    expect([...g.pools].sort()).toEqual(['eng', 'plat']);
    expect(g.needsPoolRole).toBe(true);
    expect(notGrantable(g, [{ role: 'engineer', pool_id: 'sales' }, { role: 'manager', pool_id: 'plat' }, { role: 'member' }])).toEqual([
      { role: 'engineer', pool_id: 'sales' },
      { role: 'member' },
    ]);
  });
  it('only organization managers edit assignments; invite links give engineer and member', () => {
    expect(grantable(invitingManager, 'assign').roles).toEqual([]);
    expect(grantable(engineer, 'invite').roles).toEqual([]);
    expect(grantable(owner, 'invite_link').roles).toEqual(['engineer', 'member']);
  });
  it('members may remove themselves; organization managers anyone', () => {
    expect(canRemoveMember(member, 'usr_me', 'usr_me')).toBe(true);
    expect(canRemoveMember(member, 'usr_me', 'usr_other')).toBe(false);
    expect(canRemoveMember(owner, 'usr_me', 'usr_other')).toBe(true);
  });
});
