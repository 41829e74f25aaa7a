// The console's runtime settings, read once at start from the deployment (GET /console-config.json),
// so one build serves the local server and every AWS stage.

export type AuthConfig =
  | { mode: 'local' }
  | { mode: 'oidc'; issuer: string; client_id: string; scope?: string; logout_url?: string };

export interface ConsoleConfig {
  /** Base URL of the API; '' means the console's own origin. */
  api_url: string;
  auth: AuthConfig;
  /** The local server's sign-in page and outbox exist (never in AWS). */
  local_tools: boolean;
}

export function parseConfig(raw: unknown): ConsoleConfig {
  if (typeof raw !== 'object' || raw === null) throw new Error('console-config.json is not an object');
  const r = raw as Record<string, unknown>;
  const auth = r.auth as Record<string, unknown> | undefined;
  const api_url = typeof r.api_url === 'string' ? r.api_url.replace(/\/+$/, '') : '';
  const local_tools = r.local_tools === true;
  if (auth?.mode === 'local') return { api_url, auth: { mode: 'local' }, local_tools };
  if (auth?.mode === 'oidc' && typeof auth.issuer === 'string' && typeof auth.client_id === 'string') {
    return {
      api_url,
      local_tools,
      auth: {
        mode: 'oidc',
        issuer: auth.issuer,
        client_id: auth.client_id,
        scope: typeof auth.scope === 'string' ? auth.scope : 'openid email profile',
        logout_url: typeof auth.logout_url === 'string' ? auth.logout_url : undefined,
      },
    };
  }
  throw new Error('console-config.json: auth.mode must be "local" or "oidc" with issuer and client_id');
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const res = await fetch('/console-config.json', { cache: 'no-store' });
  if (!res.ok) throw new Error(`console-config.json: HTTP ${res.status}`);
  return parseConfig(await res.json());
}
