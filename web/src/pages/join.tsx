// The page an invite link opens: /join?token=rcl_…. The API has no public preview of a link, so the
// page says what joining does and lets the server answer POST /join: the organization, or why not.
import { useState } from 'preact/hooks';
import { useApp } from '../app';
import { ApiError, unwrap } from '../api/client';
import { Layout } from '../components/layout';
import { forgetToken, problemFromCode, type Problem } from './invite-flow';
import { ProblemScreen, useFocusOnChange, useSignInFlow } from './invite-screens';
import { landInOrg, usePageToken } from './accept';

export function JoinPage({ search }: { search: URLSearchParams }) {
  const { api, session } = useApp();
  const token = usePageToken('join', search);
  const [problem, setProblem] = useState<{ problem: Problem; message: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const { signIn, switchAccount } = useSignInFlow('/join');
  const email = session?.email ?? null;
  useFocusOnChange(problem?.problem ?? 'join');

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

  return (
    <Layout title="Join an organization">
      <p class="lead">You were given an invite link to an organization on Rollcall.</p>
      <p>
        Joining makes you a member of that organization with the roles its managers chose for the link (member, or engineer of some
        of its pools). The organization's name appears once you have joined. A link may be limited to addresses from certain email
        domains, to a number of uses, or in time; Rollcall tells you if one of these stops you.
      </p>
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
