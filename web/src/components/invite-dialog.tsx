// Invite users: paste many addresses, roles per pool, optional name and phone per entry; the
// results come back per entry, and the entries that failed stay in the box for editing.
import { useMemo, useRef, useState } from 'preact/hooks';
import { useApp } from '../app';
import { unwrap, type Schemas } from '../api/client';
import { AssignmentEditor } from './assignment-editor';
import { Modal } from './modal';
import { ErrorNote, Time } from './ui';
import { useOrg } from './org-shell';
import { formatAddresses, parseAddresses, type ParsedAddress } from '../lib/addresses';
import { draftProblems, normalize, toAssignments, type DraftAssignment } from '../lib/assignments';
import { grantable } from '../permissions';

const MAX_ENTRIES = 100;

type Extra = { name: string; phone: string };

export function InviteDialog({ onClose, onInvited }: { onClose: () => void; onInvited?: () => void }) {
  const { api } = useApp();
  const org = useOrg();
  const grant = grantable(org.caller, 'invite');
  const [text, setText] = useState('');
  const [extras, setExtras] = useState<Record<string, Extra>>({});
  const [drafts, setDrafts] = useState<DraftAssignment[]>(() =>
    grant.needsPoolRole ? [{ role: 'engineer', pool_id: [...grant.pools][0] ?? '' }] : [],
  );
  const [expires, setExpires] = useState('');
  const [results, setResults] = useState<Schemas['InviteResult'][] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const resultsRef = useRef<HTMLDivElement>(null);

  const parsed = useMemo(() => parseAddresses(text), [text]);
  const key = (a: ParsedAddress, i: number) => `${i}:${a.email.toLowerCase()}`;
  const extra = (a: ParsedAddress, i: number): Extra => extras[key(a, i)] ?? { name: a.name ?? '', phone: '' };
  const setExtra = (a: ParsedAddress, i: number, patch: Partial<Extra>) =>
    setExtras({ ...extras, [key(a, i)]: { ...extra(a, i), ...patch } });

  const send = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const found: string[] = [];
    if (parsed.length === 0) found.push('Enter at least one email address.');
    if (parsed.length > MAX_ENTRIES) found.push(`At most ${MAX_ENTRIES} addresses at once (you entered ${parsed.length}).`);
    found.push(...draftProblems(drafts));
    if (grant.needsPoolRole && drafts.length === 0) found.push('Give at least one role on a pool you manage.');
    const days = expires.trim() === '' ? null : Number(expires);
    if (days !== null && (!Number.isInteger(days) || days < 1 || days > 30)) found.push('Expiry must be 1 to 30 days.');
    setProblems(found);
    if (found.length) return;
    setBusy(true);
    const sent = parsed.map((a, i) => ({ a, x: extra(a, i) }));
    try {
      const body: Schemas['BulkInviteRequest'] = {
        invitations: sent.map(({ a, x }) => ({
          email: a.email,
          name: x.name.trim() || undefined,
          phone: x.phone.trim() || undefined,
        })),
        send_email: true,
        expires_in_days: days ?? undefined,
      };
      if (drafts.length) body.assignments = normalize(toAssignments(drafts));
      const r = unwrap(await api.POST('/orgs/{org}/invitations', { params: { path: { org: org.orgId } }, body }));
      setResults(r.results);
      // Keep what failed in the box, with its name and phone, for editing.
      const failed = sent.filter((_, i) => r.results[i]?.result === 'error');
      setText(formatAddresses(failed.map(({ a, x }) => ({ email: a.email, name: x.name.trim() || null }))));
      const nextExtras: Record<string, Extra> = {};
      failed.forEach(({ a, x }, i) => (nextExtras[`${i}:${a.email.toLowerCase()}`] = x));
      setExtras(nextExtras);
      if (r.results.some((x) => x.result !== 'error')) onInvited?.();
      setTimeout(() => resultsRef.current?.focus(), 0);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const ok = results?.filter((r) => r.result !== 'error').length ?? 0;
  const bad = results?.filter((r) => r.result === 'error').length ?? 0;
  return (
    <Modal title="Invite users" onClose={onClose} wide>
      <form class="stack" onSubmit={send} noValidate>
        <label>
          Email addresses
          <span class="hint">
            Paste one or many: separated by commas, spaces or new lines; "Name &lt;address&gt;" keeps the name.
          </span>
          <textarea
            name="emails"
            autoFocus
            rows={4}
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
            aria-describedby="invite-count"
          />
        </label>
        <p id="invite-count" class="hint">
          {parsed.length === 0 ? 'No addresses yet.' : `${parsed.length} address${parsed.length === 1 ? '' : 'es'}.`}
        </p>
        {parsed.length > 0 && parsed.length <= MAX_ENTRIES && (
          <details class="entries">
            <summary>Names and phone numbers (optional)</summary>
            <table>
              <caption class="visually-hidden">Optional name and phone for each address</caption>
              <thead>
                <tr>
                  <th scope="col">Email</th>
                  <th scope="col">Name</th>
                  <th scope="col">Phone</th>
                </tr>
              </thead>
              <tbody>
                {parsed.map((a, i) => (
                  <tr key={key(a, i)}>
                    <th scope="row">{a.email}</th>
                    <td>
                      <input
                        type="text"
                        aria-label={`Name for ${a.email}`}
                        maxLength={200}
                        value={extra(a, i).name}
                        onInput={(e) => setExtra(a, i, { name: e.currentTarget.value })}
                      />
                    </td>
                    <td>
                      <input
                        type="tel"
                        aria-label={`Phone for ${a.email}`}
                        maxLength={32}
                        value={extra(a, i).phone}
                        onInput={(e) => setExtra(a, i, { phone: e.currentTarget.value })}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        )}
        <AssignmentEditor
          legend="Roles"
          idPrefix="invite"
          value={drafts}
          onChange={setDrafts}
          grant={grant}
          rows={org.rows}
          emptyText="No role chosen: they join as Member (read-only)."
        />
        <label class="short">
          Expires in days <span class="hint">(1–30; empty: the organization's default)</span>
          <input type="number" min={1} max={30} inputMode="numeric" value={expires} onInput={(e) => setExpires(e.currentTarget.value)} />
        </label>
        {problems.length > 0 && (
          <ul role="alert" class="error">
            {problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        )}
        <ErrorNote error={error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            {busy ? 'Sending…' : 'Invite'}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
      <div ref={resultsRef} tabIndex={-1} role="status" aria-live="polite" class="results">
        {results && (
          <>
            <h3>
              Results: {ok} sent, {bad} not sent
            </h3>
            {bad > 0 && <p class="hint">The addresses that were not sent stay in the box above: correct them and invite again.</p>}
            <ul class="result-list">
              {results.map((r, i) => (
                <li key={i} class={`result result-${r.result}`}>
                  <strong>{r.email}</strong>{' '}
                  {r.result === 'error' ? (
                    <span class="error">
                      not invited: {r.error?.message} <code>{r.error?.code}</code>
                    </span>
                  ) : (
                    <span class="ok">
                      {r.result === 'invited' ? 'invited' : 'already invited: resent with the merged roles'}
                      {r.invitation?.email_status === 'failed' && ' (the email could not be sent: resend it from Invitations)'}
                      {r.invitation && (
                        <>
                          {' '}
                          · expires <Time ts={r.invitation.expires_at} />
                        </>
                      )}
                    </span>
                  )}
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
    </Modal>
  );
}
