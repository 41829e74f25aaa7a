// Small shared pieces: error text as the server said it, live status, secrets shown once, dates.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api/client';

/** The server's message and code (the server is the authority; its words are shown as they come). */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return `${e.message} (${e.code})`;
  return e instanceof Error ? e.message : String(e);
}

export function errorField(e: unknown): string | null {
  if (e instanceof ApiError && e.details && typeof e.details === 'object') {
    const f = (e.details as { field?: unknown }).field;
    return typeof f === 'string' ? f : null;
  }
  return null;
}

/** An error, announced (role=alert); renders nothing without one. */
export function ErrorNote({ error }: { error: unknown }) {
  if (error === null || error === undefined) return null;
  return (
    <p role="alert" class="error">
      {errorText(error)}
    </p>
  );
}

/** A polite live region for results ("Revoked.", "Saved."). Always rendered so that changes are read. */
export function Status({ children }: { children?: ComponentChildren }) {
  return (
    <p role="status" class="status" aria-live="polite">
      {children}
    </p>
  );
}

export function Loading() {
  return <p aria-busy="true">Loading…</p>;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export function formatDate(ts: string | null | undefined): string {
  if (!ts) return '—';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? ts : dateFmt.format(d);
}

export function Time({ ts, empty = '—' }: { ts: string | null | undefined; empty?: string }) {
  if (!ts) return <>{empty}</>;
  return <time dateTime={ts}>{formatDate(ts)}</time>;
}

/** A secret shown once: read-only text, a copy button and a warning. */
export function SecretBox({ label, value, warning }: { label: string; value: string; warning: string }) {
  const [copied, setCopied] = useState<string>('');
  const id = `secret-${label.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <div class="secret">
      <label for={id}>{label}</label>
      <div class="row">
        <input id={id} type="text" readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
        <button
          type="button"
          onClick={async () => {
            try {
              await navigator.clipboard.writeText(value);
              setCopied('Copied to the clipboard.');
            } catch {
              setCopied('Copying failed: select the text and copy it.');
            }
          }}
        >
          Copy
        </button>
      </div>
      <p class="notice">{warning}</p>
      <Status>{copied}</Status>
    </div>
  );
}

/** Inline confirmation: the action's button becomes "Yes, …" and "Cancel". */
export function Confirm({
  question,
  yes,
  onYes,
  onCancel,
  busy,
}: {
  question: string;
  yes: string;
  onYes: () => void;
  onCancel: () => void;
  busy?: boolean;
}) {
  const yesRef = useRef<HTMLButtonElement>(null);
  // Focus the confirming button once, when the question appears.
  useEffect(() => yesRef.current?.focus(), []);
  return (
    <span class="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button type="button" class="danger" disabled={busy} onClick={onYes} ref={yesRef}>
        {yes}
      </button>
      <button type="button" onClick={onCancel}>
        Cancel
      </button>
    </span>
  );
}
