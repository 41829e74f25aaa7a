import { describe, expect, it } from 'vitest';
import { roleSources, sourcesText } from './role-sources';

const eng = { role: 'engineer' as const, pool_id: 'pool_a' };
const mgr = { role: 'manager' as const, pool_id: 'pool_a' };
const om = { role: 'organization_manager' as const };

describe('roleSources', () => {
  it('says direct for a member without groups', () => {
    const r = roleSources({ assignments: [eng], direct_assignments: [eng], groups: [] });
    expect(r).toEqual([{ assignment: eng, sources: [{ kind: 'direct' }] }]);
    expect(sourcesText(r[0].sources)).toBe('Direct');
  });

  it('names the groups a role comes from, and direct first when it is both', () => {
    const r = roleSources({
      assignments: [om, mgr, eng],
      direct_assignments: [mgr],
      groups: [
        { group_id: 'grp_2', display_name: 'Platform', assignments: [eng, mgr] },
        { group_id: 'grp_1', display_name: 'Admins', assignments: [om] },
        { group_id: 'grp_3', display_name: 'Everyone', assignments: [] },
      ],
    });
    expect(r.map((x) => sourcesText(x.sources))).toEqual(['Admins', 'Direct, Platform', 'Platform']);
    expect(r[0].sources).toEqual([{ kind: 'group', groupId: 'grp_1', name: 'Admins' }]);
  });

  it('treats the implicit member as direct even when the direct list is empty', () => {
    const r = roleSources({
      assignments: [{ role: 'member' }],
      direct_assignments: [],
      groups: [{ group_id: 'grp_1', display_name: 'Everyone', assignments: [] }],
    });
    expect(r).toEqual([{ assignment: { role: 'member' }, sources: [{ kind: 'direct' }] }]);
  });

  it('does not take member in the direct list for a pool role, and compares pools', () => {
    const r = roleSources({
      assignments: [eng],
      direct_assignments: [{ role: 'member' }],
      groups: [{ group_id: 'grp_1', display_name: null, assignments: [{ role: 'engineer', pool_id: 'pool_b' }, eng] }],
    });
    expect(r[0].sources).toEqual([{ kind: 'group', groupId: 'grp_1', name: null }]);
    expect(sourcesText(r[0].sources)).toBe('deleted group');
  });
});
