// Who is signed in, and the bearer token the API gets. Tokens live in sessionStorage (gone when
// the tab closes), never in localStorage. In OIDC mode the console sends the ID token: it carries
// `email` and `email_verified`, which Rollcall needs (Cognito access tokens carry no email).
import type { ConsoleConfig } from './config';

export interface Session {
  token: string;
  email: string;
  name: string | null;
  /** Seconds since the epoch. */
  expiresAt: number;
}

const KEY = 'rollcall.session';

/** Reads the claims of a JWT (no verification: the server is the authority). */
export function decodeClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1];
  if (!part) throw new Error('not a JWT');
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const json = decodeURIComponent(
    Array.from(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)))
      .map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'))
      .join(''),
  );
  return JSON.parse(json) as Record<string, unknown>;
}

export function sessionFromToken(token: string): Session {
  const c = decodeClaims(token);
  return {
    token,
    email: typeof c.email === 'string' ? c.email : '',
    name: typeof c.name === 'string' ? c.name : null,
    expiresAt: typeof c.exp === 'number' ? c.exp : 0,
  };
}

export function currentSession(now = Date.now() / 1000): Session | null {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    const s = JSON.parse(raw) as Session;
    if (!s.token || s.expiresAt <= now + 30) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return s;
  } catch {
    sessionStorage.removeItem(KEY);
    return null;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

/** Where to come back to after signing in (kept across the sign-in round trip). */
const RETURN_KEY = 'rollcall.return_to';
export function rememberReturnTo(path: string): void {
  sessionStorage.setItem(RETURN_KEY, path);
}
export function takeReturnTo(): string {
  const p = sessionStorage.getItem(RETURN_KEY);
  sessionStorage.removeItem(RETURN_KEY);
  return p && p.startsWith('/') && !p.startsWith('//') ? p : '/console';
}

/** Local server only: a token for the typed email and name, as `rollcall token` makes. */
export async function localSignIn(config: ConsoleConfig, email: string, name: string): Promise<Session> {
  const res = await fetch(`${config.api_url}/_local/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, name: name || undefined }),
  });
  const body = (await res.json().catch(() => null)) as { token?: string; error?: { message?: string } } | null;
  if (!res.ok || !body?.token) throw new Error(body?.error?.message ?? `Sign-in failed (HTTP ${res.status})`);
  const s = sessionFromToken(body.token);
  saveSession(s);
  return s;
}

async function userManager(config: ConsoleConfig) {
  if (config.auth.mode !== 'oidc') throw new Error('not an OIDC deployment');
  const { UserManager, WebStorageStateStore } = await import('oidc-client-ts');
  return new UserManager({
    authority: config.auth.issuer,
    client_id: config.auth.client_id,
    redirect_uri: `${location.origin}/signin/callback`,
    post_logout_redirect_uri: `${location.origin}/`,
    response_type: 'code',
    scope: config.auth.scope ?? 'openid email profile',
    userStore: new WebStorageStateStore({ store: window.sessionStorage }),
    stateStore: new WebStorageStateStore({ store: window.sessionStorage }),
    automaticSilentRenew: false,
  });
}

/** Starts the Authorization Code + PKCE flow at the external issuer. */
export async function oidcSignIn(config: ConsoleConfig, loginHint?: string): Promise<void> {
  const um = await userManager(config);
  await um.signinRedirect({ login_hint: loginHint, prompt: loginHint ? 'login' : undefined });
}

/** Finishes the flow on /signin/callback. */
export async function oidcCallback(config: ConsoleConfig): Promise<Session> {
  const um = await userManager(config);
  const user = await um.signinRedirectCallback();
  if (!user.id_token) throw new Error('The identity provider returned no ID token');
  const s = sessionFromToken(user.id_token);
  saveSession(s);
  return s;
}

/** Ends the console's session: its token and, with an issuer, every token the OIDC client kept. */
export async function endSession(config: ConsoleConfig): Promise<void> {
  clearSession();
  if (config.auth.mode !== 'oidc') return;
  const um = await userManager(config);
  await um.removeUser();
}

/** Signs out: ends the session, then the issuer's (its logout endpoint, where it has one). */
export async function signOut(config: ConsoleConfig): Promise<void> {
  await endSession(config);
  if (config.auth.mode === 'oidc' && config.auth.logout_url) location.assign(config.auth.logout_url);
}
