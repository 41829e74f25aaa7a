// The page an invitation email links to: /accept?token=rci_…. The token leaves the address bar at
// once and waits in sessionStorage for the sign-in round trip. The page shows the public preview,
// asks to sign in, refuses to act for another signed-in address (the invitation survives), and
// accepts or declines.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { ApiError, unwrap, type Schemas } from '../api/client';
import { Layout } from '../components/layout';
import { navigate } from '../router';
import { acceptView, afterPreviewError, expiresIn, forgetToken, formatTime, problemFromCode, takeToken, type Problem } from './invite-flow';
import { ProblemScreen, RolesList, useFocusOnChange, useSignInFlow } from './invite-screens';

type State =
  | { s: 'loading' }
  | { s: 'no_token' }
  | { s: 'preview'; preview: Schemas['InvitationPreview'] }
  | { s: 'problem'; problem: Problem; message?: string; preview?: Schemas['InvitationPreview'] };

/** Reads the token once and takes it out of the address bar. */
export function usePageToken(kind: 'accept' | 'join', search: URLSearchParams): string | null {
  const [token] = useState(() => {
    const { token, cleanUrl } = takeToken(kind, location.pathname, search);
    if (cleanUrl !== null) history.replaceState(null, '', cleanUrl);
    return token;
  });
  return token;
}

/** Lands in the organization a new membership lives in (the accept and join answers name it). */
export function landInOrg(member: Schemas['Member']): void {
  navigate(`/console/orgs/${member.org_id}/users`, { replace: true });
}

export function AcceptPage({ search }: { search: URLSearchParams }) {
  const { api, session } = useApp();
  const token = usePageToken('accept', search);
  const [state, setState] = useState<State>({ s: 'loading' });
  const [busy, setBusy] = useState<'accept' | 'decline' | null>(null);
  const [confirmDecline, setConfirmDecline] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { signIn, switchAccount } = useSignInFlow('/accept');
  const email = session?.email ?? null;
  useFocusOnChange(state.s === 'problem' ? state.problem : state.s);

  useEffect(() => {
    if (!token) {
      setState({ s: 'no_token' });
      return;
    }
    let live = true;
    (async () => {
      try {
        const preview = unwrap(await api.GET('/invitations/{token}', { params: { path: { token } } }));
        if (live) setState({ s: 'preview', preview });
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e));
        const next = afterPreviewError(err.code, err.status, email !== null);
        if (next !== 'ask_server') {
          if (live) setState({ s: 'problem', problem: next, message: err.message });
          return;
        }
        // The preview answers 404 for every token that no longer works. For the signed-in
        // invitee, accept says why (expired, revoked, used; identity is checked first, so another
        // account learns nothing). Safe: a token the preview refuses can never be accepted again,
        // because every state but pending is final and a replaced token stays unknown.
        try {
          const member = unwrap(await api.POST('/invitations/accept', { body: { token } }));
          forgetToken('accept');
          landInOrg(member);
        } catch (e2) {
          const err2 = e2 instanceof ApiError ? e2 : new ApiError(0, 'network', String(e2));
          if (live) setState({ s: 'problem', problem: problemFromCode(err2.code, err2.status), message: err2.message });
        }
      }
    })();
    return () => {
      live = false;
    };
  }, [token, email]);

  const act = async (what: 'accept' | 'decline', preview: Schemas['InvitationPreview']) => {
    if (!token) return;
    setBusy(what);
    setError(null);
    try {
      if (what === 'accept') {
        const member = unwrap(await api.POST('/invitations/accept', { body: { token } }));
        forgetToken('accept');
        landInOrg(member);
      } else {
        unwrap(await api.POST('/invitations/decline', { body: { token } }));
        forgetToken('accept');
        setState({ s: 'problem', problem: 'declined', preview });
      }
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e));
      const problem = problemFromCode(err.code, err.status);
      if (problem === 'error') setError(err.message);
      else setState({ s: 'problem', problem, message: err.message, preview });
    } finally {
      setBusy(null);
    }
  };

  if (state.s === 'loading') {
    return (
      <Layout title="Invitation">
        <p role="status">Loading the invitation…</p>
      </Layout>
    );
  }
  if (state.s === 'no_token') {
    return (
      <Layout title="No invitation to show">
        <p>This page opens from the button in an invitation email, and the address it was opened with carries no invitation.</p>
        <h2>What you can do</h2>
        <p>
          Open the invitation email again and use its button, or <a href="/console/invitations">see your open invitations</a>.
        </p>
      </Layout>
    );
  }
  if (state.s === 'problem') {
    const p = state.preview;
    // A link that is final forgets its token; one the invitee may still answer (another account,
    // a sign-in to learn why) keeps it for the round trip.
    if (['expired', 'revoked', 'accepted'].includes(state.problem) || (state.problem === 'not_found' && email !== null)) forgetToken('accept');
    return (
      <ProblemScreen
        problem={state.problem}
        ctx={{
          page: 'accept',
          message: state.message,
          orgName: p?.org_name,
          signedIn: email !== null,
          signedInAs: email ?? undefined,
          invitedEmail: p?.email,
          onSignIn: () => void signIn(p?.email),
          onSwitch: () => void switchAccount(p?.email),
        }}
      />
    );
  }

  const view = acceptView(state.preview, email);
  const p = view.preview;
  const details = (
    <dl class="facts">
      <dt>Organization</dt>
      <dd>{p.org_name}</dd>
      <dt>Invited by</dt>
      <dd>{p.inviter_name ?? 'someone at the organization'}</dd>
      <dt>Invited address</dt>
      <dd>{p.email}</dd>
      <dt>Roles offered</dt>
      <dd>
        <RolesList assignments={p.assignments} pools={p.pools} />
      </dd>
      <dt>Expires</dt>
      <dd>
        <time dateTime={p.expires_at}>{formatTime(p.expires_at)}</time> ({expiresIn(p.expires_at)})
      </dd>
    </dl>
  );
  const title = `Join ${p.org_name}`;

  if (view.kind === 'sign_in') {
    return (
      <Layout title={title}>
        <p class="lead">
          {p.inviter_name ?? 'Someone'} invited {p.name ? `${p.name} (${p.email})` : p.email} to join <strong>{p.org_name}</strong> on Rollcall.
        </p>
        {details}
        <p>Sign in as <strong>{p.email}</strong> to accept or decline.</p>
        <button type="button" class="primary" onClick={() => void signIn(p.email)}>
          Sign in to accept
        </button>
      </Layout>
    );
  }

  if (view.kind === 'wrong_account') {
    return (
      <Layout title="This invitation is for another address">
        <p class="notice" role="alert">
          You are signed in as <strong>{view.signedInAs}</strong>; this invitation is for <strong>{p.email}</strong>.
        </p>
        <p>Nothing was accepted or declined: the invitation stays open for {p.email}. Switch to that account to answer it.</p>
        {details}
        <div class="actions">
          <button type="button" class="primary" onClick={() => void switchAccount(p.email)}>
            Switch account
          </button>
          <a href="/console">Stay signed in as {view.signedInAs}</a>
        </div>
      </Layout>
    );
  }

  return (
    <Layout title={title}>
      <p class="lead">
        {p.inviter_name ?? 'Someone'} invited you to join <strong>{p.org_name}</strong>.
      </p>
      {details}
      <div class="actions">
        <button type="button" class="primary" disabled={busy !== null} onClick={() => void act('accept', p)}>
          Accept invitation
        </button>
        {!confirmDecline && (
          <button type="button" disabled={busy !== null} onClick={() => setConfirmDecline(true)}>
            Decline
          </button>
        )}
      </div>
      {confirmDecline && (
        <div class="confirm" role="group" aria-labelledby="decline-q">
          <p id="decline-q">Decline the invitation to {p.org_name}? It cannot be accepted afterwards.</p>
          <div class="actions">
            <button type="button" class="danger" disabled={busy !== null} onClick={() => void act('decline', p)}>
              Yes, decline
            </button>
            <button type="button" disabled={busy !== null} onClick={() => setConfirmDecline(false)}>
              Keep the invitation
            </button>
          </div>
        </div>
      )}
      <p role="status" class="hint">
        {busy === 'accept' ? 'Accepting…' : busy === 'decline' ? 'Declining…' : ''}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </Layout>
  );
}
