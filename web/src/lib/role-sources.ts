// Where a member's effective roles come from (docs/api.md, "Groups and roles"): their direct
// assignments and the groups their identity provider put them in. The effective list is the union
// of both in normal form, so every effective role has at least one source.
import type { Schemas } from '../api/client';
import { normalize, type Assignment } from './assignments';

/** One source of a role: given directly, or by a group's mapping. */
export type RoleSource = { kind: 'direct' } | { kind: 'group'; groupId: string; name: string | null };

export interface SourcedRole {
  assignment: Assignment;
  sources: RoleSource[];
}

type MemberRoles = Pick<Schemas['Member'], 'assignments' | 'direct_assignments' | 'groups'>;

const same = (a: Assignment, b: Assignment) => a.role === b.role && (a.pool_id ?? '') === (b.pool_id ?? '');

/** The name a group is shown by ("deleted group" when it went away while the page loaded). */
export function groupName(name: string | null): string {
  return name ?? 'deleted group';
}

/** Each effective role with where it comes from: "direct" first, then groups by name. The implicit
 * `member` (the only role of someone with nothing else) is direct. */
export function roleSources(m: MemberRoles): SourcedRole[] {
  const direct = normalize(m.direct_assignments);
  const groups = [...m.groups].sort((a, b) => groupName(a.display_name).localeCompare(groupName(b.display_name)) || a.group_id.localeCompare(b.group_id));
  return m.assignments.map((assignment) => {
    const sources: RoleSource[] = [];
    if (assignment.role === 'member' || direct.some((d) => same(d, assignment))) sources.push({ kind: 'direct' });
    for (const g of groups) {
      if (g.assignments.some((a) => same(a, assignment))) sources.push({ kind: 'group', groupId: g.group_id, name: g.display_name });
    }
    return { assignment, sources };
  });
}

/** "Direct", "Engineers" or "Direct, Engineers": the sources of one role as text. */
export function sourcesText(sources: RoleSource[]): string {
  return sources.map((s) => (s.kind === 'direct' ? 'Direct' : groupName(s.name))).join(', ');
}
