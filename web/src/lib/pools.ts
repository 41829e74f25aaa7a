// The pool tree: GET /orgs/{org}/pools answers one flat list, parents first. These helpers turn it
// into rows with their depth and path, and answer subtree questions.
import type { Schemas } from '../api/client';

export type Pool = Schemas['Pool'];

export interface PoolRow {
  pool: Pool;
  depth: number;
  /** Names from the root down, e.g. ["Acme", "Engineering", "Platform"]. */
  path: string[];
  children: number;
}

/** Depth-first order (each pool followed by its subtree; siblings by name), with depth and path.
 * Pools whose parent is missing (should not happen) are shown as roots rather than dropped. */
export function buildTree(pools: Pool[]): PoolRow[] {
  const byId = new Map(pools.map((p) => [p.id, p]));
  const kids = new Map<string | null, Pool[]>();
  for (const p of pools) {
    const parent = p.parent_id && byId.has(p.parent_id) ? p.parent_id : null;
    const list = kids.get(parent) ?? [];
    list.push(p);
    kids.set(parent, list);
  }
  for (const list of kids.values()) list.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  const rows: PoolRow[] = [];
  const seen = new Set<string>();
  const walk = (p: Pool, depth: number, path: string[]) => {
    if (seen.has(p.id)) return;
    seen.add(p.id);
    const here = [...path, p.name];
    const children = kids.get(p.id) ?? [];
    rows.push({ pool: p, depth, path: here, children: children.length });
    for (const c of children) walk(c, depth + 1, here);
  };
  for (const root of kids.get(null) ?? []) walk(root, 0, []);
  return rows;
}

/** The ids of `poolId` and every pool below it. */
export function subtree(pools: Pool[], poolId: string): Set<string> {
  const out = new Set<string>([poolId]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of pools) {
      if (p.parent_id && out.has(p.parent_id) && !out.has(p.id)) {
        out.add(p.id);
        grew = true;
      }
    }
  }
  return out;
}

/** "Acme / Engineering / Platform" for a pool id (the id itself when unknown, e.g. just deleted). */
export function poolLabel(rows: PoolRow[], poolId: string): string {
  const r = rows.find((x) => x.pool.id === poolId);
  return r ? r.path.join(' / ') : poolId;
}
