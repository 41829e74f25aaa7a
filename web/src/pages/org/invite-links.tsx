// Invite links: multi-use join links with default roles (engineer/member only), max uses, expiry
// and allowed domains. The link is shown once, at creation.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { unwrap, type Schemas } from '../../api/client';
import { AssignmentEditor, AssignmentList } from '../../components/assignment-editor';
import { OrgShell, useOrg } from '../../components/org-shell';
import { Confirm, ErrorNote, errorField, errorText, SecretBox, Status, Time } from '../../components/ui';
import { draftProblems, normalize, toAssignments, type DraftAssignment } from '../../lib/assignments';
import { fetchAll } from '../../lib/paging';
import { grantable } from '../../permissions';
import type { Params } from '../../router';

export function InviteLinksPage({ params }: { params: Params }) {
  return (
    <OrgShell orgId={params.org} tab="invite-links" title="Invite links">
      <InviteLinks />
    </OrgShell>
  );
}

/** Domains typed with commas, spaces or new lines. */
export function parseDomains(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((d) => d.trim().replace(/^@/, ''))
    .filter(Boolean);
}

/** The URL a person opens to join: `<origin>/join?token=…`. */
export function joinUrl(origin: string, token: string): string {
  return `${origin}/join?token=${encodeURIComponent(token)}`;
}

function InviteLinks() {
  const { api } = useApp();
  const org = useOrg();
  const [links, setLinks] = useState<Schemas['InviteLink'][] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const [created, setCreated] = useState<Schemas['CreatedInviteLink'] | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    fetchAll(async (cursor) => unwrap(await api.GET('/orgs/{org}/invite-links', { params: { path: { org: org.orgId }, query: { limit: 200, cursor } } })))
      .then(setLinks)
      .catch(setError);
  }, [org.orgId, tick]);

  const revoke = async (l: Schemas['InviteLink']) => {
    setError(null);
    try {
      unwrap(await api.DELETE('/orgs/{org}/invite-links/{lnk}', { params: { path: { org: org.orgId, lnk: l.id } } }));
      setNote('Invite link revoked. People who joined with it stay members.');
      setConfirm(null);
      setTick(tick + 1);
    } catch (e) {
      setError(new Error(`Revoke failed: ${errorText(e)}`));
    }
  };

  return (
    <>
      <p class="hint">
        Anyone with an invite link can join {org.org.name} with its roles (Engineer or Member only), signed in with a verified
        email of an allowed domain. Share it only where the right people will see it.
      </p>
      <CreateLink
        onCreated={(l) => {
          setCreated(l);
          setTick(tick + 1);
        }}
      />
      {created && (
        <section aria-labelledby="new-link-h" class="card">
          <h2 id="new-link-h">New invite link</h2>
          <SecretBox
            label="Invite link URL"
            value={joinUrl(location.origin, created.token)}
            warning="Copy the link now: it is shown only this once. Rollcall keeps only a hash of it; if it is lost, revoke this link and create another."
          />
          <button type="button" onClick={() => setCreated(null)}>
            Done
          </button>
        </section>
      )}
      <h2>Links</h2>
      <ErrorNote error={error} />
      <Status>{note}</Status>
      {links && links.length === 0 && <p>No invite links yet.</p>}
      {links && links.length > 0 && (
        <table>
          <caption class="visually-hidden">Invite links</caption>
          <thead>
            <tr>
              <th scope="col">Created</th>
              <th scope="col">Roles</th>
              <th scope="col">Status</th>
              <th scope="col">Uses</th>
              <th scope="col">Expires</th>
              <th scope="col">Allowed domains</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {links.map((l) => (
              <tr key={l.id}>
                <th scope="row">
                  <Time ts={l.created_at} />
                </th>
                <td>
                  <AssignmentList list={l.assignments} poolName={org.poolName} />
                </td>
                <td>
                  <span class={`badge link-${l.status}`}>{l.status.replace('_', ' ')}</span>
                </td>
                <td>
                  {l.uses}
                  {l.max_uses !== null ? ` of ${l.max_uses}` : ' (no limit)'}
                </td>
                <td>
                  <Time ts={l.expires_at} empty="Never" />
                </td>
                <td>{l.allowed_domains.length ? l.allowed_domains.join(', ') : 'Any'}</td>
                <td class="row-actions">
                  {l.status !== 'revoked' &&
                    (confirm === l.id ? (
                      <Confirm question="Revoke this invite link?" yes="Yes, revoke" onYes={() => revoke(l)} onCancel={() => setConfirm(null)} />
                    ) : (
                      <button type="button" onClick={() => setConfirm(l.id)} aria-label={`Revoke the link created ${new Date(l.created_at).toLocaleString()}`}>
                        Revoke
                      </button>
                    ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function CreateLink({ onCreated }: { onCreated: (l: Schemas['CreatedInviteLink']) => void }) {
  const { api } = useApp();
  const org = useOrg();
  const [drafts, setDrafts] = useState<DraftAssignment[]>([]);
  const [maxUses, setMaxUses] = useState('');
  const [days, setDays] = useState('');
  const [domains, setDomains] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const errs: Record<string, string> = {};
    const p = draftProblems(drafts);
    if (p.length) errs.assignments = p.join(' ');
    const mu = maxUses.trim() ? Number(maxUses) : null;
    if (mu !== null && (!Number.isInteger(mu) || mu < 1 || mu > 100000)) errs.max_uses = 'Between 1 and 100000, or empty for no limit.';
    const d = days.trim() ? Number(days) : null;
    if (d !== null && (!Number.isInteger(d) || d < 1 || d > 365)) errs.expires_in_days = 'Between 1 and 365, or empty for never.';
    const dl = parseDomains(domains);
    if (dl.length > 50) errs.allowed_domains = 'At most 50 domains.';
    setErrors(errs);
    setError(null);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      const l = unwrap(
        await api.POST('/orgs/{org}/invite-links', {
          params: { path: { org: org.orgId } },
          body: {
            assignments: drafts.length ? normalize(toAssignments(drafts)) : undefined,
            max_uses: mu,
            expires_in_days: d,
            allowed_domains: dl,
          },
        }),
      );
      onCreated(l);
      setDrafts([]);
      setMaxUses('');
      setDays('');
      setDomains('');
    } catch (err) {
      const f = errorField(err);
      if (f) setErrors({ [f]: errorText(err) });
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fieldErr = (name: string) =>
    errors[name] ? (
      <span id={`link-${name}-err`} class="error field-error">
        {errors[name]}
      </span>
    ) : null;
  return (
    <section aria-labelledby="create-link-h" class="card">
      <h2 id="create-link-h">Create an invite link</h2>
      <form class="stack" onSubmit={submit} noValidate>
        <AssignmentEditor
          legend="Default roles"
          idPrefix="link"
          value={drafts}
          onChange={setDrafts}
          grant={grantable(org.caller, 'invite_link')}
          rows={org.rows}
          emptyText="No role chosen: people join as Member (read-only)."
        />
        {fieldErr('assignments')}
        <div class="inline">
          <label>
            Max uses <span class="hint">(empty: no limit)</span>
            <input type="number" min={1} max={100000} value={maxUses} aria-invalid={!!errors.max_uses} aria-describedby={errors.max_uses ? 'link-max_uses-err' : undefined} onInput={(e) => setMaxUses(e.currentTarget.value)} />
            {fieldErr('max_uses')}
          </label>
          <label>
            Expires in days <span class="hint">(empty: never)</span>
            <input type="number" min={1} max={365} value={days} aria-invalid={!!errors.expires_in_days} aria-describedby={errors.expires_in_days ? 'link-expires_in_days-err' : undefined} onInput={(e) => setDays(e.currentTarget.value)} />
            {fieldErr('expires_in_days')}
          </label>
        </div>
        <label>
          Allowed email domains <span class="hint">(commas or spaces; empty: any domain the organization allows)</span>
          <input type="text" value={domains} placeholder="acme.com, acme.co.uk" aria-invalid={!!errors.allowed_domains} aria-describedby={errors.allowed_domains ? 'link-allowed_domains-err' : undefined} onInput={(e) => setDomains(e.currentTarget.value)} />
          {fieldErr('allowed_domains')}
        </label>
        <ErrorNote error={error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Create invite link
          </button>
        </div>
      </form>
    </section>
  );
}
