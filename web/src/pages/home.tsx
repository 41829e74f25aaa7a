// The console's start: the organizations the signed-in person belongs to, and "create organization".
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { unwrap, type Schemas } from '../api/client';
import { Layout } from '../components/layout';
import { ErrorNote } from '../components/ui';
import { ROLE_LABELS } from '../lib/assignments';
import { navigate } from '../router';
import { rememberReturnTo } from '../session';

export function useSignedIn(): boolean {
  const { session } = useApp();
  useEffect(() => {
    if (!session) {
      rememberReturnTo(location.pathname + location.search);
      navigate('/signin', { replace: true });
    }
  }, [session]);
  return session !== null;
}

/** "Organization manager", or "Manager of 2 pools, Engineer of 1 pool". */
export function roleSummary(list: Schemas['Assignment'][] | undefined): string {
  if (!list?.length) return ROLE_LABELS.member;
  if (list.some((a) => a.role === 'organization_manager')) return ROLE_LABELS.organization_manager;
  const count = (r: Schemas['Role']) => list.filter((a) => a.role === r).length;
  const parts = (['manager', 'engineer'] as const)
    .filter((r) => count(r) > 0)
    .map((r) => `${ROLE_LABELS[r]} of ${count(r)} pool${count(r) === 1 ? '' : 's'}`);
  return parts.length ? parts.join(', ') : ROLE_LABELS.member;
}

export function HomePage() {
  const { api } = useApp();
  const signedIn = useSignedIn();
  const [orgs, setOrgs] = useState<Schemas['Organization'][] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [createError, setCreateError] = useState<unknown>(null);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!signedIn) return;
    api
      .GET('/orgs', { params: { query: { limit: 200 } } })
      .then((r) => setOrgs(unwrap(r).items))
      .catch(setError);
  }, [signedIn]);

  const create = async (e: Event) => {
    e.preventDefault();
    setCreateError(null);
    if (!name.trim()) {
      setCreateError(new Error('Enter a name for the organization.'));
      return;
    }
    setBusy(true);
    try {
      const org = unwrap(await api.POST('/orgs', { body: { name: name.trim() } }));
      navigate(`/console/orgs/${org.id}/users`);
    } catch (err) {
      setCreateError(err);
    } finally {
      setBusy(false);
    }
  };

  if (!signedIn) return <Layout title="Rollcall">{null}</Layout>;
  return (
    <Layout title="Your organizations">
      <ErrorNote error={error} />
      {orgs === null && !error && <p aria-busy="true">Loading…</p>}
      {orgs && orgs.length === 0 && <p>You are not a member of any organization yet. Create one below, or accept an invitation you were sent.</p>}
      <p>
        Invited somewhere? <a href="/console/invitations">See your open invitations</a>.
      </p>
      {orgs && orgs.length > 0 && (
        <ul class="cards">
          {orgs.map((o) => (
            <li key={o.id}>
              <a class="card-title" href={`/console/orgs/${o.id}/users`}>
                {o.name}
              </a>
              <div class="hint">{roleSummary(o.assignments)}</div>
            </li>
          ))}
        </ul>
      )}
      <section aria-labelledby="create-h" class="card" id="create">
        <h2 id="create-h">Create an organization</h2>
        <p class="hint">You become its first organization manager; it starts with a root pool of the same name.</p>
        <form class="inline" onSubmit={create} noValidate>
          <label>
            New organization name
            <input
              type="text"
              required
              maxLength={100}
              value={name}
              aria-invalid={createError ? 'true' : undefined}
              aria-describedby={createError ? 'create-err' : undefined}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            Create organization
          </button>
        </form>
        <div id="create-err">
          <ErrorNote error={createError} />
        </div>
      </section>
    </Layout>
  );
}
