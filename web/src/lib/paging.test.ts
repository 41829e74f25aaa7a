import { describe, expect, it } from 'vitest';
import { CursorStack, fetchAll, fillPage } from './paging';

// A list of 0..n-1 served `size` at a time, keeping only numbers that pass `keep` (short pages).
const server = (n: number, size: number, keep = (_: number) => true) => {
  let calls = 0;
  const fetchPage = async (cursor: string | undefined) => {
    calls++;
    const start = cursor ? Number(cursor) : 0;
    const end = Math.min(n, start + size);
    const items = [];
    for (let i = start; i < end; i++) if (keep(i)) items.push(i);
    return { items, next_cursor: end < n ? String(end) : null };
  };
  return { fetchPage, calls: () => calls };
};

describe('fillPage', () => {
  it('gathers short pages until the screen page is full', async () => {
    const s = server(1000, 50, (i) => i % 10 === 0);
    const p = await fillPage(s.fetchPage, undefined, 10);
    expect(p.items).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(p.next_cursor).toBe('100');
    expect(s.calls()).toBe(2);
  });
  it('stops at the end of the list', async () => {
    const s = server(30, 50);
    expect(await fillPage(s.fetchPage, undefined, 50)).toEqual({ items: [...Array(30).keys()], next_cursor: null });
  });
  it('stops after maxCalls even when nothing matched, leaving a cursor to go on', async () => {
    const s = server(10000, 50, () => false);
    const p = await fillPage(s.fetchPage, undefined, 50, 5);
    expect(p.items).toEqual([]);
    expect(p.next_cursor).toBe('250');
  });
  it('fetchAll reads every page', async () => {
    expect((await fetchAll(server(120, 50).fetchPage)).length).toBe(120);
  });
});

describe('CursorStack', () => {
  it('goes forward and back', () => {
    let s = new CursorStack();
    expect(s.hasPrevious).toBe(false);
    s = s.next('a').next('b');
    expect([s.current, s.pageIndex]).toEqual(['b', 2]);
    s = s.previous();
    expect(s.current).toBe('a');
    expect(s.previous().previous().current).toBeUndefined();
  });
});
