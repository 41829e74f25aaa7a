// The logic of the accept and join pages, kept free of the DOM so Vitest can check it: where the
// token lives, which screen a preview or an error code leads to, and how roles read.
import type { Schemas } from '../api/client';
import { ROLE_LABELS } from '../lib/assignments';

export type TokenKind = 'accept' | 'join';

const tokenKey = (kind: TokenKind) => `rollcall.${kind}_token`;

/** The page's token: taken from the address (`?token=`) and kept in sessionStorage for the sign-in
 * round trip (gone with the tab; never localStorage), or the one kept earlier. Returns the token and
 * the address to show instead (the same path and query without `token`), or null when the address
 * holds no token. */
export function takeToken(
  kind: TokenKind,
  path: string,
  search: URLSearchParams,
  store: Pick<Storage, 'getItem' | 'setItem'> = sessionStorage,
): { token: string | null; cleanUrl: string | null } {
  const fromUrl = search.get('token');
  if (fromUrl !== null) {
    const rest = new URLSearchParams(search);
    rest.delete('token');
    const q = rest.toString();
    const token = fromUrl.trim();
    if (token) store.setItem(tokenKey(kind), token);
    return { token: token || store.getItem(tokenKey(kind)), cleanUrl: q ? `${path}?${q}` : path };
  }
  return { token: store.getItem(tokenKey(kind)), cleanUrl: null };
}

/** Forgets the token once it has done its work (accepted, declined, joined, or dead). */
export function forgetToken(kind: TokenKind, store: Pick<Storage, 'removeItem'> = sessionStorage): void {
  store.removeItem(tokenKey(kind));
}

/** The email rule of the API, as far as a browser can apply it: ASCII letters of the local part
 * lowercased, the domain lowercased. The server stays the judge (`email_mismatch`). */
export function normalizeEmail(email: string): string {
  const e = email.trim();
  const at = e.lastIndexOf('@');
  if (at < 0) return e.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return e.slice(0, at).replace(/[A-Z]/g, (c) => c.toLowerCase()) + '@' + e.slice(at + 1).toLowerCase();
}

export function sameEmail(a: string, b: string): boolean {
  return normalizeEmail(a) === normalizeEmail(b);
}

/** A screen that ends the story, with what to do next. */
export type Problem =
  | 'not_found'
  | 'expired'
  | 'revoked'
  | 'accepted'
  | 'declined'
  | 'mismatch'
  | 'unverified'
  | 'domain_not_allowed'
  | 'link_not_found'
  | 'link_unusable'
  | 'already_member'
  | 'email_taken'
  | 'signed_out'
  | 'error';

/** The screen an API error code leads to on the accept and join pages. */
export function problemFromCode(code: string, status?: number): Problem {
  switch (code) {
    case 'invitation_not_found':
      return 'not_found';
    case 'invitation_expired':
      return 'expired';
    // Declined or revoked: the API does not say which. A decline made on this page shows
    // 'declined' itself; arriving later, the likely story is the organization's revoke.
    case 'invitation_not_pending':
      return 'revoked';
    case 'invitation_already_used':
      return 'accepted';
    case 'email_mismatch':
      return 'mismatch';
    case 'email_not_verified':
      return 'unverified';
    case 'email_domain_not_allowed':
      return 'domain_not_allowed';
    case 'invite_link_not_found':
      return 'link_not_found';
    case 'invite_link_unusable':
      return 'link_unusable';
    case 'already_member':
      return 'already_member';
    case 'member_email_taken':
      return 'email_taken';
    case 'unauthenticated':
      return 'signed_out';
    default:
      return status === 401 ? 'signed_out' : 'error';
  }
}

/** What the accept page shows for a live invitation, given who is signed in. */
export type AcceptView =
  | { kind: 'sign_in'; preview: Schemas['InvitationPreview'] }
  | { kind: 'wrong_account'; preview: Schemas['InvitationPreview']; signedInAs: string }
  | { kind: 'ready'; preview: Schemas['InvitationPreview'] };

export function acceptView(preview: Schemas['InvitationPreview'], sessionEmail: string | null): AcceptView {
  if (sessionEmail === null) return { kind: 'sign_in', preview };
  if (!sameEmail(sessionEmail, preview.email)) return { kind: 'wrong_account', preview, signedInAs: sessionEmail };
  return { kind: 'ready', preview };
}

/** A preview that failed: only a signed-in invitee may learn why (the API answers the preview 404
 * for every token that no longer works, so a leaked link tells a stranger nothing). */
export function afterPreviewError(code: string, status: number, signedIn: boolean): 'ask_server' | Problem {
  if (code === 'invitation_not_found' && signedIn) return 'ask_server';
  return problemFromCode(code, status);
}

/** One assignment in words. `poolNames` maps pool ids to names (the public previews give them). */
export function describeAssignment(a: Schemas['Assignment'], poolNames: Record<string, string> = {}): string {
  const role = ROLE_LABELS[a.role] ?? a.role;
  if (a.role === 'organization_manager') return `${role} (the whole organization)`;
  if (!a.pool_id) return role;
  const pool = poolNames[a.pool_id];
  return pool ? `${role} of the pool “${pool}” and its sub-pools` : `${role} of one of the organization's pools and its sub-pools`;
}

/** "in 3 days", "in 5 hours", "expired" — for an expiry time. */
export function expiresIn(iso: string, now = Date.now()): string {
  const ms = Date.parse(iso) - now;
  if (!Number.isFinite(ms)) return '';
  if (ms <= 0) return 'expired';
  const h = ms / 3_600_000;
  if (h < 1) return 'in less than an hour';
  if (h < 48) return `in ${Math.round(h)} hour${Math.round(h) === 1 ? '' : 's'}`;
  return `in ${Math.round(h / 24)} days`;
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}


/** Links in a mail's text (the outbox shows them clickable). */
export function linksIn(text: string): string[] {
  return Array.from(new Set(text.match(/https?:\/\/[^\s<>"')]+/g) ?? []));
}
