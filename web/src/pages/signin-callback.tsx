// The end of the OIDC sign-in (Authorization Code + PKCE): the issuer sends the browser back here
// with a code; exchange it, then return to the page that asked for the sign-in (an accept or join
// page keeps its token in sessionStorage meanwhile).
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { Layout } from '../components/layout';
import { navigate } from '../router';
import { oidcCallback, takeReturnTo } from '../session';

export function SignInCallbackPage() {
  const { config, setSession } = useApp();
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (config.auth.mode !== 'oidc') {
      setError('This server signs in locally; there is no identity provider to come back from.');
      return;
    }
    oidcCallback(config)
      .then((s) => {
        setSession(s);
        navigate(takeReturnTo(), { replace: true });
      })
      .catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, []);
  if (error) {
    return (
      <Layout title="Sign-in did not complete">
        <p role="alert" class="error">
          {error}
        </p>
        <h2>What you can do</h2>
        <p>
          Sign in again; if it keeps failing, the sign-in may have been cancelled or taken too long. <a href="/signin">Sign in again</a>
        </p>
      </Layout>
    );
  }
  return (
    <Layout title="Signing in">
      <p role="status">Finishing the sign-in…</p>
    </Layout>
  );
}
