import { describe, expect, it } from 'vitest';
import { draftProblems, normalize, sameAssignments, toAssignments, toDrafts } from './assignments';

describe('normalize', () => {
  it('turns an empty list into member', () => {
    expect(normalize([])).toEqual([{ role: 'member' }]);
    expect(normalize([{ role: 'member' }])).toEqual([{ role: 'member' }]);
  });
  it('drops the implicit member next to other roles, and duplicates', () => {
    expect(
      normalize([
        { role: 'engineer', pool_id: 'pool_b' },
        { role: 'member' },
        { role: 'engineer', pool_id: 'pool_b' },
        { role: 'manager', pool_id: 'pool_a' },
      ]),
    ).toEqual([
      { role: 'manager', pool_id: 'pool_a' },
      { role: 'engineer', pool_id: 'pool_b' },
    ]);
  });
  it('drops a pool from org-wide roles', () => {
    expect(normalize([{ role: 'organization_manager', pool_id: 'pool_a' }])).toEqual([{ role: 'organization_manager' }]);
  });
  it('compares lists in normal form', () => {
    expect(sameAssignments([], [{ role: 'member' }])).toBe(true);
    expect(sameAssignments([{ role: 'engineer', pool_id: 'p' }], [{ role: 'manager', pool_id: 'p' }])).toBe(false);
  });
});

describe('drafts', () => {
  it('round-trips without the implicit member', () => {
    expect(toDrafts([{ role: 'member' }])).toEqual([]);
    expect(toAssignments(toDrafts([{ role: 'manager', pool_id: 'p' }, { role: 'organization_manager' }]))).toEqual([
      { role: 'manager', pool_id: 'p' },
      { role: 'organization_manager' },
    ]);
  });
  it('reports a pool role without a pool', () => {
    expect(draftProblems([{ role: 'engineer', pool_id: '' }])).toEqual(['Role 1 (Engineer) needs a pool.']);
    expect(draftProblems([{ role: 'organization_manager', pool_id: '' }])).toEqual([]);
  });
});
