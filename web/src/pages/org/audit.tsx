// Audit log: who did what and when in the organization, newest first, with the API's filters
// (action, actor, target, time range). Filtered pages may come back short while the list goes
// on: pages are filled from several server pages (lib/paging).
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { unwrap } from '../../api/client';
import { OrgShell, useOrg } from '../../components/org-shell';
import { ErrorNote, Status, Time } from '../../components/ui';
import { ACTION_LABELS, AUDIT_ACTIONS, actorText, localInputToRfc3339, targetHref, type AuditAction, type AuditEvent } from '../../lib/audit';
import { CursorStack, fillPage } from '../../lib/paging';
import type { Params } from '../../router';

export const AUDIT_PAGE_SIZE = 50;

export function AuditPage({ params }: { params: Params }) {
  return (
    <OrgShell orgId={params.org} tab="audit" title="Audit log">
      <AuditLog />
    </OrgShell>
  );
}

interface Filters {
  action: AuditAction | '';
  actor: string;
  target: string;
  since: string;
  until: string;
}

const NO_FILTERS: Filters = { action: '', actor: '', target: '', since: '', until: '' };

function AuditLog() {
  const { api } = useApp();
  const org = useOrg();
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [stack, setStack] = useState(() => new CursorStack());
  const [page, setPage] = useState<{ items: AuditEvent[]; next: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let stale = false;
    setBusy(true);
    fillPage(
      async (cursor) =>
        unwrap(
          await api.GET('/orgs/{org}/audit-events', {
            params: {
              path: { org: org.orgId },
              query: {
                action: filters.action || undefined,
                actor: filters.actor.trim() || undefined,
                target: filters.target.trim() || undefined,
                since: localInputToRfc3339(filters.since),
                until: localInputToRfc3339(filters.until),
                limit: AUDIT_PAGE_SIZE,
                cursor,
              },
            },
          }),
        ),
      stack.current,
      AUDIT_PAGE_SIZE,
    )
      .then((p) => !stale && (setPage({ items: p.items, next: p.next_cursor }), setError(null)))
      .catch((e) => !stale && setError(e))
      .finally(() => !stale && setBusy(false));
    return () => {
      stale = true;
    };
  }, [org.orgId, filters, stack]);

  const apply = (e: Event) => {
    e.preventDefault();
    setFilters({ ...draft });
    setStack(new CursorStack());
  };
  const clear = () => {
    setDraft(NO_FILTERS);
    setFilters(NO_FILTERS);
    setStack(new CursorStack());
  };
  const filtered = JSON.stringify(filters) !== JSON.stringify(NO_FILTERS);
  const retention = org.org.settings?.audit_retention_days;

  return (
    <>
      <p class="hint">
        Every change in the organization, newest first: who made it (a person, your identity provider over SCIM, or Rollcall itself), from where,
        and what changed. Entries are written together with the change and never edited{retention ? `; they are kept ${retention} days` : ''}.
      </p>
      <form class="filters audit-filters" onSubmit={apply} aria-label="Filter the audit log">
        <label>
          Action
          <select value={draft.action} onChange={(e) => setDraft({ ...draft, action: (e.target as HTMLSelectElement).value as AuditAction | '' })}>
            <option value="">Any action</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {ACTION_LABELS[a]} ({a})
              </option>
            ))}
          </select>
        </label>
        <label>
          Actor id
          <input
            value={draft.actor}
            placeholder="usr_…, sct_… or system"
            maxLength={256}
            onInput={(e) => setDraft({ ...draft, actor: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          Target id
          <input
            value={draft.target}
            placeholder="usr_…, pool_…, inv_…, grp_…, a domain"
            maxLength={256}
            onInput={(e) => setDraft({ ...draft, target: (e.target as HTMLInputElement).value })}
          />
        </label>
        <label>
          From
          <input type="datetime-local" value={draft.since} onInput={(e) => setDraft({ ...draft, since: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          Until
          <input type="datetime-local" value={draft.until} onInput={(e) => setDraft({ ...draft, until: (e.target as HTMLInputElement).value })} />
        </label>
        <div class="actions">
          <button type="submit" disabled={busy}>
            Apply filters
          </button>
          {filtered && (
            <button type="button" class="secondary" onClick={clear} disabled={busy}>
              Clear
            </button>
          )}
        </div>
      </form>
      <ErrorNote error={error} />
      <Status>
        {busy
          ? 'Loading the audit log…'
          : page &&
            (page.items.length === 0 && !stack.hasPrevious
              ? filtered
                ? 'No entries match these filters.'
                : 'No entries yet.'
              : `Page ${stack.pageIndex + 1}: ${page.items.length} entr${page.items.length === 1 ? 'y' : 'ies'}${page.next ? '' : ', end of the log'}.`)}
      </Status>
      {page && page.items.length > 0 && (
        <table class="audit" aria-busy={busy}>
          <caption class="visually-hidden">Audit log entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">What</th>
              <th scope="col">On</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((e) => (
              <Entry key={e.id} entry={e} orgId={org.orgId} />
            ))}
          </tbody>
        </table>
      )}
      {(stack.hasPrevious || page?.next) && (
        <nav class="pager" aria-label="Pages of the audit log">
          <button type="button" disabled={!stack.hasPrevious || busy} onClick={() => setStack(stack.previous())}>
            Newer entries
          </button>
          <span class="hint">Page {stack.pageIndex + 1}</span>
          <button type="button" disabled={!page?.next || busy} onClick={() => page?.next && setStack(stack.next(page.next))}>
            Older entries
          </button>
        </nav>
      )}
    </>
  );
}

function Entry({ entry: e, orgId }: { entry: AuditEvent; orgId: string }) {
  const href = targetHref(orgId, e.target);
  const target = e.target.type.replace('_', ' ');
  return (
    <tr>
      <td>
        <Time ts={e.at} />
      </td>
      <td>
        {actorText(e.actor)}
        {e.request.source_ip && <div class="hint">from {e.request.source_ip}</div>}
      </td>
      <td>
        {ACTION_LABELS[e.action] ?? e.action}
        <div class="hint">
          <code>{e.action}</code>
        </div>
      </td>
      <td>
        {target}{' '}
        {href ? (
          <a href={href}>
            <code>{e.target.id}</code>
          </a>
        ) : (
          <code>{e.target.id}</code>
        )}
      </td>
      <td>
        <details>
          <summary>Show</summary>
          <pre class="audit-details" tabIndex={0} aria-label={`Details of ${e.action}`}>
            {JSON.stringify(e.details, null, 2)}
          </pre>
          <dl class="audit-request">
            {e.request.request_id && (
              <>
                <dt>Request id</dt>
                <dd>
                  <code>{e.request.request_id}</code>
                </dd>
              </>
            )}
            {e.request.user_agent && (
              <>
                <dt>User agent</dt>
                <dd>{e.request.user_agent}</dd>
              </>
            )}
            <dt>Entry</dt>
            <dd>
              <code>{e.id}</code>
            </dd>
          </dl>
        </details>
      </td>
    </tr>
  );
}
