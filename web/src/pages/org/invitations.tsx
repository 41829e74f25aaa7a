// Invitations: status filter, expiry, email status; resend and revoke (with confirmation).
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { unwrap, type Schemas } from '../../api/client';
import { AssignmentList } from '../../components/assignment-editor';
import { InviteDialog } from '../../components/invite-dialog';
import { OrgShell, useOrg } from '../../components/org-shell';
import { Confirm, ErrorNote, errorText, Status, Time } from '../../components/ui';
import { CursorStack, fillPage } from '../../lib/paging';
import type { Params } from '../../router';

const STATUSES: Schemas['InvitationStatus'][] = ['pending', 'accepted', 'declined', 'revoked', 'expired'];
const EMAIL_STATUS: Record<Schemas['EmailStatus'], string> = { sent: 'Sent', failed: 'Failed (resend it)', not_sent: 'Not sent' };
const PAGE = 50;

export function InvitationsPage({ params, search }: { params: Params; search: URLSearchParams }) {
  return (
    <OrgShell orgId={params.org} tab="invitations" title="Invitations">
      <Invitations initialStatus={search.get('status') ?? 'pending'} />
    </OrgShell>
  );
}

function Invitations({ initialStatus }: { initialStatus: string }) {
  const { api } = useApp();
  const org = useOrg();
  const [status, setStatus] = useState(initialStatus);
  const [stack, setStack] = useState(() => new CursorStack());
  const [page, setPage] = useState<{ items: Schemas['Invitation'][]; next: string | null } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const [confirm, setConfirm] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [inviting, setInviting] = useState(false);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let stale = false;
    fillPage(
      async (cursor) =>
        unwrap(
          await api.GET('/orgs/{org}/invitations', {
            params: { path: { org: org.orgId }, query: { status: (status || undefined) as Schemas['InvitationStatus'] | undefined, limit: PAGE, cursor } },
          }),
        ),
      stack.current,
      PAGE,
    )
      .then((p) => !stale && (setPage({ items: p.items, next: p.next_cursor }), setError(null)))
      .catch((e) => !stale && setError(e));
    return () => {
      stale = true;
    };
  }, [org.orgId, status, stack, tick]);

  const resend = async (inv: Schemas['Invitation']) => {
    setBusy(true);
    setNote('');
    setError(null);
    try {
      const r = unwrap(
        await api.POST('/orgs/{org}/invitations/{inv}/resend', {
          params: { path: { org: org.orgId, inv: inv.id } },
          body: { send_email: true },
        }),
      );
      setNote(`Resent to ${r.email}: a new link was emailed; it expires ${new Date(r.expires_at).toLocaleString()}.`);
      setTick(tick + 1);
    } catch (e) {
      setError(new Error(`Resend to ${inv.email} failed: ${errorText(e)}`));
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (inv: Schemas['Invitation']) => {
    setBusy(true);
    setNote('');
    setError(null);
    try {
      unwrap(await api.DELETE('/orgs/{org}/invitations/{inv}', { params: { path: { org: org.orgId, inv: inv.id } } }));
      setNote(`Revoked the invitation to ${inv.email}.`);
      setConfirm(null);
      setTick(tick + 1);
    } catch (e) {
      setError(new Error(`Revoke of ${inv.email} failed: ${errorText(e)}`));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <div class="toolbar">
        <label>
          Status
          <select
            aria-label="Status"
            value={status}
            onChange={(e) => {
              setStatus(e.currentTarget.value);
              setStack(new CursorStack());
            }}
          >
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s[0].toUpperCase() + s.slice(1)}
              </option>
            ))}
          </select>
        </label>
        <button type="button" class="primary" onClick={() => setInviting(true)}>
          Invite
        </button>
      </div>
      {inviting && <InviteDialog onClose={() => setInviting(false)} onInvited={() => setTick((t) => t + 1)} />}
      <ErrorNote error={error} />
      <Status>{note}</Status>
      {page && page.items.length === 0 && <p>No invitations{status ? ` with status ${status}` : ''}.</p>}
      {page && page.items.length > 0 && (
        <table>
          <caption class="visually-hidden">Invitations</caption>
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Roles</th>
              <th scope="col">Status</th>
              <th scope="col">Email status</th>
              <th scope="col">Expires</th>
              <th scope="col">Sent</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((inv) => (
              <tr key={inv.id}>
                <th scope="row">
                  {inv.email}
                  {inv.name && <div class="hint">{inv.name}</div>}
                </th>
                <td>
                  <AssignmentList list={inv.assignments} poolName={org.poolName} />
                </td>
                <td>
                  <span class={`badge inv-${inv.status}`}>{inv.status}</span>
                </td>
                <td>{EMAIL_STATUS[inv.email_status] ?? inv.email_status}</td>
                <td>
                  <Time ts={inv.expires_at} />
                </td>
                <td>
                  <Time ts={inv.created_at} />
                </td>
                <td class="row-actions">
                  {(inv.status === 'pending' || inv.status === 'expired') &&
                    (confirm === inv.id ? (
                      <Confirm
                        question={`Revoke the invitation to ${inv.email}?`}
                        yes="Yes, revoke"
                        busy={busy}
                        onYes={() => revoke(inv)}
                        onCancel={() => setConfirm(null)}
                      />
                    ) : (
                      <>
                        {inv.status === 'pending' && (
                          <button type="button" disabled={busy} onClick={() => resend(inv)} aria-label={`Resend to ${inv.email}`}>
                            Resend
                          </button>
                        )}
                        <button type="button" disabled={busy} onClick={() => setConfirm(inv.id)} aria-label={`Revoke invitation to ${inv.email}`}>
                          Revoke
                        </button>
                      </>
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav class="pager" aria-label="Pages of invitations">
        <button type="button" disabled={!stack.hasPrevious} onClick={() => setStack(stack.previous())}>
          Previous page
        </button>
        <span class="hint">Page {stack.pageIndex + 1}</span>
        <button type="button" disabled={!page?.next} onClick={() => page?.next && setStack(stack.next(page.next))}>
          Next page
        </button>
      </nav>
    </>
  );
}
