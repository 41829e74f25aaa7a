// The page an invite link opens: /join?token=rcl_…. It shows the link's public preview (the
// organization, the roles with pool names, the domains it admits), asks to sign in, and lets the
// server answer POST /join: the organization, or why not.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { ApiError, unwrap, type Schemas } from '../api/client';
import { Layout } from '../components/layout';
import { forgetToken, formatTime, problemFromCode, type Problem } from './invite-flow';
import { ProblemScreen, RolesList, useFocusOnChange, useSignInFlow } from './invite-screens';
import { landInOrg, usePageToken } from './accept';

export function JoinPage({ search }: { search: URLSearchParams }) {
  const { api, session } = useApp();
  const token = usePageToken('join', search);
  const [problem, setProblem] = useState<{ problem: Problem; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { signIn, switchAccount } = useSignInFlow('/join');
  const email = session?.email ?? null;
  const [preview, setPreview] = useState<Schemas['InviteLinkPreview'] | null>(null);
  useFocusOnChange(problem?.problem ?? 'join');

  useEffect(() => {
    if (!token) return;
    let live = true;
    api
      .GET('/invite-links/{token}', { params: { path: { token } } })
      .then((r) => {
        if (live) setPreview(unwrap(r));
      })
      .catch((e: unknown) => {
        const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e));
        const p = problemFromCode(err.code, err.status);
        // Without a preview the page still explains joining; the server answers the join.
        if (live && p !== 'error') setProblem({ problem: p, message: err.message });
      });
    return () => {
      live = false;
    };
  }, [token]);

  if (!token) {
    return (
      <Layout title="No invite link to use">
        <p>This page opens from an invite link that an organization shared, and the address it was opened with carries none.</p>
        <h2>What you can do</h2>
        <p>Open the whole link you were given again, or ask whoever shared it to send it once more.</p>
      </Layout>
    );
  }

  if (problem) {
    if (problem.problem === 'link_unusable' || problem.problem === 'link_not_found' || problem.problem === 'already_member') forgetToken('join');
    return (
      <ProblemScreen
        problem={problem.problem}
        ctx={{
          page: 'join',
          message: problem.message,
          signedIn: email !== null,
          signedInAs: email ?? undefined,
          onSignIn: () => void signIn(),
          onSwitch: () => void switchAccount(),
        }}
      />
    );
  }

  const join = async () => {
    setBusy(true);
    setError(null);
    try {
      const member = unwrap(await api.POST('/join', { body: { token } }));
      forgetToken('join');
      landInOrg(member);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(0, 'network', String(e));
      const p = problemFromCode(err.code, err.status);
      if (p === 'error') setError(err.message);
      else setProblem({ problem: p, message: err.message });
    } finally {
      setBusy(false);
    }
  };

  const domains = preview?.allowed_domains ?? [];
  return (
    <Layout title={preview ? `Join ${preview.org_name}` : 'Join an organization'}>
      {preview ? (
        <>
          <p class="lead">
            You were given an invite link to <strong>{preview.org_name}</strong> on Rollcall.
          </p>
          <dl class="facts">
            <dt>Organization</dt>
            <dd>{preview.org_name}</dd>
            <dt>Roles given</dt>
            <dd>
              <RolesList assignments={preview.assignments} pools={preview.pools} />
            </dd>
            <dt>Who may join</dt>
            <dd>
              {domains.length === 0
                ? 'Anyone with a verified email address'
                : `Only addresses at ${domains.join(', ')}: the organization limited this link to its own email domains`}
            </dd>
            {preview.expires_at && (
              <>
                <dt>Works until</dt>
                <dd>{formatTime(preview.expires_at)}</dd>
              </>
            )}
          </dl>
        </>
      ) : (
        <>
          <p class="lead">You were given an invite link to an organization on Rollcall.</p>
          <p>
            Joining makes you a member of that organization with the roles its managers chose for the link. A link may be limited
            to addresses from certain email domains, to a number of uses, or in time; Rollcall tells you if one of these stops you.
          </p>
        </>
      )}
      {email === null ? (
        <>
          <p>Sign in first, with the address the organization knows you by.</p>
          <button type="button" class="primary" onClick={() => void signIn()}>
            Sign in to join
          </button>
        </>
      ) : (
        <>
          <p>
            You will join as <strong>{email}</strong>.
          </p>
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => void join()}>
              Join the organization
            </button>
            <button type="button" disabled={busy} onClick={() => void switchAccount()}>
              Use another account
            </button>
          </div>
        </>
      )}
      <p role="status" class="hint">
        {busy ? 'Joining…' : ''}
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </Layout>
  );
}
