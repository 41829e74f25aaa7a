// Invitations: status and email-status filters, expiry, email status; resend (with the explicit
// override for a bounced or complained address) and revoke (with confirmation).
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { unwrap, type Schemas } from '../../api/client';
import { AssignmentList } from '../../components/assignment-editor';
import { InviteDialog } from '../../components/invite-dialog';
import { OrgShell, useOrg } from '../../components/org-shell';
import { Confirm, ErrorNote, errorText, Status, Time } from '../../components/ui';
import { CursorStack, fillPage } from '../../lib/paging';
import { isOrgManager } from '../../permissions';
import type { Params } from '../../router';

const STATUSES: Schemas['InvitationStatus'][] = ['pending', 'accepted', 'declined', 'revoked', 'expired'];
const EMAIL_STATUS: Record<Schemas['EmailStatus'], string> = {
  sent: 'Sent',
  delivered: 'Delivered',
  bounced: 'Bounced',
  complained: 'Complained',
  failed: 'Failed (resend it)',
  not_sent: 'Not sent',
};
const EMAIL_STATUSES = Object.keys(EMAIL_STATUS) as Schemas['EmailStatus'][];
/** Why a bounced or complained address is not mailed again by a plain resend. */
const UNDELIVERABLE: Partial<Record<Schemas['EmailStatus'], string>> = {
  bounced: 'The last email to this address bounced: the address does not exist or refuses mail.',
  complained: 'The recipient marked the last email as spam.',
};
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
  const [emailStatus, setEmailStatus] = useState('');
  // The invitation whose bounced/complained address the caller is asked about before resending.
  const [undeliverable, setUndeliverable] = useState<string | null>(null);
  const orgManager = isOrgManager(org.caller);
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
            params: { path: { org: org.orgId }, query: {
                status: (status || undefined) as Schemas['InvitationStatus'] | undefined,
                email_status: (emailStatus || undefined) as Schemas['EmailStatus'] | undefined,
                limit: PAGE,
                cursor,
              },
            },
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
  }, [org.orgId, status, emailStatus, stack, tick]);

  const resend = async (inv: Schemas['Invitation'], anyway = false) => {
    if (!anyway && UNDELIVERABLE[inv.email_status]) {
      setUndeliverable(inv.id);
      return;
    }
    setBusy(true);
    setNote('');
    setError(null);
    try {
      const r = unwrap(
        await api.POST('/orgs/{org}/invitations/{inv}/resend', {
          params: { path: { org: org.orgId, inv: inv.id } },
          body: anyway ? { send_email: true, send_despite_bounce: true } : { send_email: true },
        }),
      );
      setUndeliverable(null);
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
        <label>
          Email status
          <select
            aria-label="Email status"
            value={emailStatus}
            onChange={(e) => {
              setEmailStatus(e.currentTarget.value);
              setStack(new CursorStack());
            }}
          >
            <option value="">All</option>
            {EMAIL_STATUSES.map((s) => (
              <option key={s} value={s}>
                {EMAIL_STATUS[s]}
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
      {page && page.items.length === 0 && (
        <p>
          No invitations{status ? ` with status ${status}` : ''}
          {emailStatus ? ` with email status ${EMAIL_STATUS[emailStatus as Schemas['EmailStatus']] ?? emailStatus}` : ''}.
        </p>
      )}
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
                <td>
                  <span class={`badge email-${inv.email_status}`} title={UNDELIVERABLE[inv.email_status]}>
                    {EMAIL_STATUS[inv.email_status] ?? inv.email_status}
                  </span>
                </td>
                <td>
                  <Time ts={inv.expires_at} />
                </td>
                <td>
                  <Time ts={inv.created_at} />
                </td>
                <td class="row-actions">
                  {undeliverable === inv.id && (
                    <div class="undeliverable" role="alert">
                      <p>
                        {UNDELIVERABLE[inv.email_status]} Resend does not mail it again
                        {orgManager ? ' unless you send anyway.' : '; an organization manager can send it anyway.'}
                      </p>
                      {orgManager && (
                        <button type="button" class="danger" disabled={busy} onClick={() => resend(inv, true)} aria-label={`Send anyway to ${inv.email}`}>
                          Send anyway
                        </button>
                      )}
                      <button type="button" disabled={busy} onClick={() => setUndeliverable(null)}>
                        Cancel
                      </button>
                    </div>
                  )}
                  {undeliverable !== inv.id &&
                    inv.status === 'pending' &&
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
                        <button type="button" disabled={busy} onClick={() => resend(inv)} aria-label={`Resend to ${inv.email}`}>
                          Resend
                        </button>
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
