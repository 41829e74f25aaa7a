import { describe, expect, it } from 'vitest';
import { buildTree, poolLabel, subtree, type Pool } from './pools';

const p = (id: string, name: string, parent_id: string | null): Pool => ({ id, name, parent_id, owner_id: 'usr_1', created_at: '' });
const pools = [p('r', 'Acme', null), p('e', 'Engineering', 'r'), p('s', 'Sales', 'r'), p('pl', 'Platform', 'e'), p('ap', 'Apps', 'e')];

describe('buildTree', () => {
  it('orders depth first, siblings by name, with depth, path and child counts', () => {
    const rows = buildTree(pools);
    expect(rows.map((r) => [r.pool.id, r.depth, r.children])).toEqual([
      ['r', 0, 2],
      ['e', 1, 2],
      ['ap', 2, 0],
      ['pl', 2, 0],
      ['s', 1, 0],
    ]);
    expect(rows[3].path).toEqual(['Acme', 'Engineering', 'Platform']);
  });
  it('shows orphans as roots instead of losing them', () => {
    expect(buildTree([p('x', 'X', 'gone')]).map((r) => r.depth)).toEqual([0]);
  });
  it('labels pools by path', () => {
    expect(poolLabel(buildTree(pools), 'pl')).toBe('Acme / Engineering / Platform');
    expect(poolLabel(buildTree(pools), 'pool_unknown')).toBe('pool_unknown');
  });
});

describe('subtree', () => {
  it('holds the pool and everything below', () => {
    expect([...subtree(pools, 'e')].sort()).toEqual(['ap', 'e', 'pl']);
    expect(subtree(pools, 's')).toEqual(new Set(['s']));
  });
});
