// Sign in. Locally: type an email and a name and get a local token (as `rollcall token` does; the
// local server only). Behind an external issuer: Authorization Code + PKCE at the issuer.
import { useState } from 'preact/hooks';
import { useApp } from '../app';
import { Layout } from '../components/layout';
import { navigate } from '../router';
import { localSignIn, oidcSignIn, takeReturnTo } from '../session';

export function SignInPage({ search }: { search: URLSearchParams }) {
  const { config, setSession } = useApp();
  const [email, setEmail] = useState(search.get('email') ?? '');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (config.auth.mode === 'oidc') {
    return (
      <Layout title="Sign in">
        <p>Sign in with your organization's identity provider.</p>
        {error && <p role="alert" class="error">{error}</p>}
        <button
          type="button"
          class="primary"
          onClick={() => oidcSignIn(config, search.get('email') ?? undefined).catch((e: Error) => setError(e.message))}
        >
          Continue to sign in
        </button>
      </Layout>
    );
  }

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setSession(await localSignIn(config, email.trim(), name.trim()));
      navigate(takeReturnTo(), { replace: true });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Layout title="Sign in">
      <p class="notice">
        This is the local server's sign-in: any address is accepted and treated as verified. It
        does not exist in a cloud deployment, which signs in at your identity provider.
      </p>
      <form class="stack narrow" onSubmit={submit}>
        <label>
          Email
          <input type="email" name="email" required autoComplete="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Name <span class="hint">(optional)</span>
          <input type="text" name="name" autoComplete="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        {error && <p role="alert" class="error">{error}</p>}
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
    </Layout>
  );
}
