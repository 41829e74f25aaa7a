// Pieces the accept and join pages share: signing in (and switching account) with a way back,
// the roles offered, and the screens that end the story, each with a heading and what to do next.
import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { useApp } from '../app';
import type { Schemas } from '../api/client';
import { Layout } from '../components/layout';
import { navigate } from '../router';
import { endSession, oidcSignIn, rememberReturnTo } from '../session';
import { describeAssignment, type Problem } from './invite-flow';

/** Sign in (or sign out and in as someone else), then come back to `returnTo`. */
export function useSignInFlow(returnTo: string) {
  const { config, setSession } = useApp();
  const signIn = async (email?: string) => {
    rememberReturnTo(returnTo);
    if (config.auth.mode === 'oidc') {
      await oidcSignIn(config, email);
      return;
    }
    navigate(email ? `/signin?email=${encodeURIComponent(email)}` : '/signin');
  };
  const switchAccount = async (email?: string) => {
    // Only the console's session ends (with the issuer's tokens the OIDC client keeps); the
    // invitation is not touched.
    await endSession(config);
    setSession(null);
    await signIn(email);
  };
  return { signIn, switchAccount };
}

/** Moves focus to the page's content when the screen changes, so screen readers read the new
 * heading and keyboard users start from it. */
export function useFocusOnChange(key: unknown) {
  useEffect(() => {
    document.getElementById('main')?.focus();
  }, [key]);
}

/** The roles offered, with pool names where the page has them (the preview names its pools). */
export function RolesList({ assignments, pools = [] }: { assignments: Schemas['AssignmentList']; pools?: Schemas['PoolName'][] }) {
  const names = Object.fromEntries(pools.map((p) => [p.id, p.name]));
  return (
    <ul class="roles">
      {assignments.map((a) => (
        <li key={`${a.role}:${a.pool_id ?? ''}`}>{describeAssignment(a, names)}</li>
      ))}
    </ul>
  );
}

export interface ProblemContext {
  page: 'accept' | 'join';
  /** The server's sentence, shown under ours. */
  message?: string;
  orgName?: string;
  signedIn: boolean;
  signedInAs?: string;
  invitedEmail?: string;
  onSignIn: () => void;
  onSwitch: () => void;
}

const TITLES: Record<Problem, string> = {
  not_found: 'This invitation link does not work',
  expired: 'This invitation has expired',
  revoked: 'This invitation is no longer open',
  accepted: 'This invitation has already been accepted',
  declined: 'You declined the invitation',
  mismatch: 'This invitation is for another address',
  unverified: 'Your email address is not verified',
  domain_not_allowed: 'Your email domain is not allowed here',
  link_not_found: 'This invite link does not work',
  link_unusable: 'This invite link can no longer be used',
  already_member: 'You are already a member',
  email_taken: 'Another member already has your address',
  signed_out: 'Please sign in again',
  error: 'Something went wrong',
};

export function problemTitle(p: Problem): string {
  return TITLES[p];
}

export function ProblemScreen({ problem, ctx }: { problem: Problem; ctx: ProblemContext }) {
  const consoleLink = <a href="/console">Go to your organizations</a>;
  const invitationsLink = <a href="/console/invitations">See your open invitations</a>;
  const org = ctx.orgName ? <strong>{ctx.orgName}</strong> : 'the organization';
  let body: ComponentChildren;
  switch (problem) {
    case 'not_found':
      body = (
        <>
          <p>
            The link may be mistyped or cut short, or it no longer works: an invitation expires, can
            be withdrawn by the organization, is used once, and a newer email replaces the link of an
            older one.
          </p>
          <h2>What you can do</h2>
          <ul>
            <li>Open the newest invitation email and use its button.</li>
            <li>Ask the person who invited you to send the invitation again.</li>
            {ctx.signedIn ? <li>{invitationsLink}.</li> : <li>Sign in with the invited address to see why this link stopped working.</li>}
          </ul>
          {!ctx.signedIn && <button type="button" class="primary" onClick={ctx.onSignIn}>Sign in to see why</button>}
        </>
      );
      break;
    case 'expired':
      body = (
        <>
          <p>Invitations are valid for a limited time, and this one has run out. Nothing was changed.</p>
          <h2>What you can do</h2>
          <p>Ask the person who invited you to send it again: a new email brings a new link. {invitationsLink}.</p>
        </>
      );
      break;
    case 'revoked':
      body = (
        <>
          <p>The organization withdrew this invitation, or it was declined. It cannot be accepted any more.</p>
          <h2>What you can do</h2>
          <p>If you still want to join, ask the person who invited you for a new invitation. {invitationsLink}.</p>
        </>
      );
      break;
    case 'accepted':
      body = (
        <>
          <p>An invitation can be used once. If you accepted it, you are already a member and {org} is in your console.</p>
          <h2>What you can do</h2>
          <p>{consoleLink}. If someone else used your link, tell the person who invited you.</p>
        </>
      );
      break;
    case 'declined':
      body = (
        <>
          <p>Nothing changed in {org}: you did not join it.</p>
          <h2>What you can do</h2>
          <p>If this was a mistake, ask the person who invited you to invite you again. {consoleLink}.</p>
        </>
      );
      break;
    case 'mismatch':
      body = (
        <>
          <p>
            You are signed in as <strong>{ctx.signedInAs ?? 'another address'}</strong>
            {ctx.invitedEmail ? (
              <>; this invitation is for <strong>{ctx.invitedEmail}</strong></>
            ) : null}
            . Nothing was accepted or declined: the invitation is still open.
          </p>
          <h2>What you can do</h2>
          <p>Switch to the invited account and open the link again.</p>
          <button type="button" class="primary" onClick={ctx.onSwitch}>Switch account</button>
        </>
      );
      break;
    case 'unverified':
      body = (
        <>
          <p>
            Rollcall lets only a verified address {ctx.page === 'join' ? 'join with a link' : 'accept or decline an invitation'}, and
            your sign-in provider has not verified {ctx.signedInAs ? <strong>{ctx.signedInAs}</strong> : 'your address'} yet.
          </p>
          <h2>What you can do</h2>
          <p>Verify your address with your sign-in provider (look for their verification email), then sign in again and open this link.</p>
          <button type="button" class="primary" onClick={ctx.onSwitch}>Sign in again</button>
        </>
      );
      break;
    case 'domain_not_allowed':
      body =
        ctx.page === 'join' ? (
          <>
            <p>
              This link, or the organization behind it, accepts only addresses from certain email domains
              (an allow-list, such as <code>example.com</code>), and {ctx.signedInAs ? <strong>{ctx.signedInAs}</strong> : 'your address'} is
              not from one of them.
            </p>
            <h2>What you can do</h2>
            <p>Sign in with your work address at the organization's domain, or ask whoever shared the link to invite your address.</p>
            <button type="button" class="primary" onClick={ctx.onSwitch}>Switch account</button>
          </>
        ) : (
          <>
            <p>
              Since it invited you, {org} accepts members only from certain email domains (an allow-list), and your address is not
              from one of them. The invitation stays open.
            </p>
            <h2>What you can do</h2>
            <p>Ask the organization's managers to allow your domain, or to invite an address of yours at an allowed domain. You can still decline.</p>
          </>
        );
      break;
    case 'link_not_found':
      body = (
        <>
          <p>The link may be mistyped or cut short. Nothing was changed.</p>
          <h2>What you can do</h2>
          <p>Copy the whole link again, or ask whoever shared it for a new one.</p>
        </>
      );
      break;
    case 'link_unusable':
      body = (
        <>
          <p>The organization revoked this link, it expired, or it was used as many times as allowed. Nothing was changed.</p>
          <h2>What you can do</h2>
          <p>Ask whoever shared it for a new link or for an invitation to your address. {consoleLink}.</p>
        </>
      );
      break;
    case 'already_member':
      body = (
        <>
          <p>You are already a member of {ctx.page === 'join' ? 'the organization this link is for' : org}; nothing was changed.</p>
          <h2>What you can do</h2>
          <p>{consoleLink} and open it there.</p>
        </>
      );
      break;
    case 'email_taken':
      body = (
        <>
          <p>The organization already has a member with your email address (one member per address), so you cannot join with this account.</p>
          <h2>What you can do</h2>
          <p>Ask the organization's managers which account holds your address. {consoleLink}.</p>
        </>
      );
      break;
    case 'signed_out':
      body = (
        <>
          <p>Your sign-in has ended.</p>
          <button type="button" class="primary" onClick={ctx.onSignIn}>Sign in</button>
        </>
      );
      break;
    default:
      body = (
        <>
          <p>The server could not answer. Nothing was changed; try again in a moment.</p>
          <button type="button" class="primary" onClick={() => location.reload()}>Try again</button>
        </>
      );
  }
  return (
    <Layout title={TITLES[problem]}>
      <div class="panel" data-problem={problem}>
        {body}
        {problem === 'error' && ctx.message && <p class="hint">The server said: {ctx.message}</p>}
      </div>
    </Layout>
  );
}
