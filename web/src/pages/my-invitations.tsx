// The signed-in person's open invitations (GET /me/invitations): invitations sent to their address,
// and memberships an organization provisioned for it over SCIM, to accept or decline each.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { ApiError, unwrap, type Schemas } from '../api/client';
import { Layout } from '../components/layout';
import { useSignedIn } from './home';
import { expiresIn, formatTime, problemFromCode } from './invite-flow';
import { problemTitle, RolesList } from './invite-screens';

type Item = Schemas['MyInvitation'] | Schemas['ProvisionedMembership'];
type Outcome = { ok: boolean; text: string; orgId?: string };

export function MyInvitationsPage() {
  const { api } = useApp();
  const signedIn = useSignedIn();
  const [items, setItems] = useState<Item[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [outcomes, setOutcomes] = useState<Record<string, Outcome>>({});
  const [busy, setBusy] = useState<string | null>(null);

  const load = async (cursor?: string) => {
    try {
      const page = unwrap(await api.GET('/me/invitations', { params: { query: cursor ? { cursor } : {} } }));
      setItems((old) => (cursor && old ? [...old, ...page.items] : page.items));
      setNext(page.next_cursor);
    } catch (e) {
      const err = e as ApiError;
      setError(err.code === 'email_not_verified' ? `${problemTitle('unverified')}: verify it with your sign-in provider, then sign in again.` : err.message);
    }
  };
  useEffect(() => {
    if (signedIn) void load();
  }, [signedIn]);

  const act = async (item: Item, what: 'accept' | 'decline') => {
    setBusy(item.id);
    try {
      const params = { params: { path: { inv: item.id } } };
      if (what === 'accept') {
        unwrap(await api.POST('/me/invitations/{inv}/accept', params));
        setOutcomes((o) => ({ ...o, [item.id]: { ok: true, text: `You joined ${item.org_name}.`, orgId: item.org_id } }));
      } else {
        unwrap(await api.POST('/me/invitations/{inv}/decline', params));
        setOutcomes((o) => ({ ...o, [item.id]: { ok: true, text: `You declined ${item.org_name}.` } }));
      }
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e));
      const p = problemFromCode(err.code, err.status);
      const text = p === 'error' || p === 'signed_out' ? err.message : `${problemTitle(p)}. ${err.message}`;
      setOutcomes((o) => ({ ...o, [item.id]: { ok: false, text } }));
    } finally {
      setBusy(null);
    }
  };

  if (!signedIn) return <Layout title="Your invitations">{null}</Layout>;
  return (
    <Layout title="Your invitations">
      <p>Invitations sent to your address, and memberships organizations set up for it through their identity provider.</p>
      {items === null && !error && <p role="status">Loading…</p>}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {items && items.length === 0 && <p>You have no open invitations.</p>}
      {items && items.length > 0 && (
        <ul class="invitations">
          {items.map((it) => {
            const out = outcomes[it.id];
            const done = out?.ok === true;
            return (
              <li key={it.id} class="panel">
                <h2>{it.org_name}</h2>
                <p class="hint">
                  {it.kind === 'invitation' ? (
                    <>
                      Invitation to {it.email}, expires <time dateTime={it.expires_at}>{formatTime(it.expires_at)}</time> ({expiresIn(it.expires_at)})
                    </>
                  ) : (
                    <>
                      Membership the organization set up for {it.email} on <time dateTime={it.created_at}>{formatTime(it.created_at)}</time>
                      {it.status === 'declined' ? ' (you declined it; you can still accept)' : ''}
                    </>
                  )}
                </p>
                <RolesList assignments={it.assignments} />
                {!done && (
                  <div class="actions">
                    <button type="button" class="primary" disabled={busy !== null} onClick={() => void act(it, 'accept')} aria-label={`Accept ${it.org_name}`}>
                      Accept
                    </button>
                    {!(it.kind === 'provisioned_membership' && it.status === 'declined') && (
                      <button type="button" disabled={busy !== null} onClick={() => void act(it, 'decline')} aria-label={`Decline ${it.org_name}`}>
                        Decline
                      </button>
                    )}
                  </div>
                )}
                <p role="status" class={out ? (out.ok ? 'ok' : 'error') : undefined}>
                  {busy === it.id ? 'Working…' : out?.text}
                  {out?.orgId && (
                    <>
                      {' '}
                      <a href={`/console/orgs/${out.orgId}/users`}>Open {it.org_name}</a>
                    </>
                  )}
                </p>
              </li>
            );
          })}
        </ul>
      )}
      {next && (
        <button type="button" onClick={() => void load(next)}>
          Show more
        </button>
      )}
    </Layout>
  );
}
