// The local server's outbox (GET /_local/outbox): the mails `rollcall serve` would have sent, newest
// first, with their links clickable, so a newcomer can click through an invitation. Local only.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { unwrap, type Schemas } from '../api/client';
import { Layout } from '../components/layout';
import { NotFoundPage } from './not-found';
import { formatTime, linksIn } from './invite-flow';

export function OutboxPage() {
  const { api, config } = useApp();
  const [mails, setMails] = useState<Schemas['OutboxEntry'][] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = () =>
    api
      .GET('/_local/outbox', {})
      .then((r) => setMails(unwrap(r).slice().reverse()))
      .catch((e: Error) => setError(e.message));
  useEffect(() => {
    if (config.local_tools) void load();
  }, [config.local_tools]);

  if (!config.local_tools) return <NotFoundPage />;
  return (
    <Layout title="Outbox">
      <p class="notice">
        The local server sends no mail: it keeps each invitation email here instead. This page does not exist in a cloud deployment.
      </p>
      <button type="button" onClick={() => void load()}>
        Refresh
      </button>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {mails === null && !error && <p role="status">Loading…</p>}
      {mails && mails.length === 0 && <p role="status">No mail yet. Invite someone and their email appears here.</p>}
      {mails && mails.length > 0 && (
        <ol class="mails" aria-label="Mails, newest first">
          {mails.map((m, i) => (
            <li key={`${m.sent_at}-${i}`} class="panel">
              <h2>{m.subject}</h2>
              <p class="hint">
                To <strong>{m.to}</strong>, <time dateTime={m.sent_at}>{formatTime(m.sent_at)}</time>
              </p>
              <ul>
                {linksIn(m.text).map((href) => (
                  <li key={href}>
                    <a href={href} rel="noreferrer">
                      {isOwnAcceptLink(href) ? `Accept invitation (${m.to})` : href}
                    </a>
                  </li>
                ))}
              </ul>
              <details>
                <summary>Text of the mail</summary>
                <pre>{m.text}</pre>
              </details>
            </li>
          ))}
        </ol>
      )}
    </Layout>
  );
}

/** A link to this console's own accept page (not any URL a mail's text happens to carry, such as
 * one an organization put in its name). */
export function isOwnAcceptLink(href: string, origin: string = location.origin): boolean {
  try {
    const u = new URL(href);
    return u.origin === origin && u.pathname === '/accept' && u.searchParams.has('token');
  } catch {
    return false;
  }
}
