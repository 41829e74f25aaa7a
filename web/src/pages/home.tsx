// The console's start: the organizations the signed-in person belongs to, and "create organization".
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { unwrap, type Schemas } from '../api/client';
import { Layout } from '../components/layout';
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

export function HomePage() {
  const { api } = useApp();
  const signedIn = useSignedIn();
  const [orgs, setOrgs] = useState<Schemas['Organization'][] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');

  const load = () =>
    api
      .GET('/orgs', {})
      .then((r) => setOrgs(unwrap(r).items))
      .catch((e: Error) => setError(e.message));
  useEffect(() => {
    if (signedIn) void load();
  }, [signedIn]);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const org = unwrap(await api.POST('/orgs', { body: { name: name.trim() } }));
      navigate(`/console/orgs/${org.id}/users`);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  if (!signedIn) return <Layout title="Rollcall">{null}</Layout>;
  return (
    <Layout title="Your organizations">
      {orgs === null && !error && <p aria-busy="true">Loading…</p>}
      {orgs && orgs.length === 0 && <p>You are not a member of any organization yet.</p>}
      {orgs && orgs.length > 0 && (
        <ul class="cards">
          {orgs.map((o) => (
            <li key={o.id}>
              <a href={`/console/orgs/${o.id}/users`}>{o.name}</a>
            </li>
          ))}
        </ul>
      )}
      <form class="inline" onSubmit={create}>
        <label>
          New organization name
          <input type="text" required maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary">Create organization</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
    </Layout>
  );
}
