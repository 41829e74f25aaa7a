// The API client: typed from docs/openapi.json (schema.d.ts is generated; `npm run check:api`
// fails when it is stale). Every call carries the session's bearer token.
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema';
import { currentSession } from '../session';

export type Schemas = components['schemas'];
export type ApiClient = ReturnType<typeof createClient<paths>>;

/** An API error as the server states it: status, code and message (spec: error body). */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public details?: unknown,
  ) {
    super(message);
  }
}

export function makeClient(baseUrl: string, token: () => string | null = () => currentSession()?.token ?? null): ApiClient {
  const client = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    onRequest({ request }) {
      const t = token();
      if (t) request.headers.set('authorization', `Bearer ${t}`);
      return request;
    },
  };
  client.use(auth);
  return client;
}

/** Unwraps an openapi-fetch result: the data, or an ApiError with the server's code and message. */
export function unwrap<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.response.ok) return r.data as T;
  const e = (r.error as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  throw new ApiError(
    r.response.status,
    e?.code ?? 'http_error',
    e?.message ?? `The server answered HTTP ${r.response.status}`,
    e?.details,
  );
}
