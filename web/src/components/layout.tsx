// The frame of every page: a header with the product name and who is signed in.
import type { ComponentChildren } from 'preact';
import { useApp } from '../app';
import { navigate } from '../router';
import { rememberReturnTo, signOut } from '../session';

export function Layout({
  title,
  children,
  nav,
  subnav,
}: {
  title: string;
  children: ComponentChildren;
  nav?: ComponentChildren;
  /** Shown under the header, before the page's heading (an organization's tabs). */
  subnav?: ComponentChildren;
}) {
  const { config, session, setSession } = useApp();
  document.title = `${title} · Rollcall`;
  return (
    <>
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="topbar">
        <a class="brand" href="/console">Rollcall</a>
        {nav}
        <span class="spacer" />
        {session && <a href="/console/invitations">Your invitations</a>}
        {config.local_tools && <a href="/outbox">Outbox</a>}
        {session ? (
          <span class="whoami">
            <span>{session.email}</span>
            <button
              type="button"
              class="link"
              onClick={async () => {
                await signOut(config);
                setSession(null);
                navigate('/signin');
              }}
            >
              Sign out
            </button>
          </span>
        ) : (
          <a
            href="/signin"
            onClick={() => {
              // Back to this page afterwards (an accept or join page keeps its token meanwhile).
              if (location.pathname !== '/signin') rememberReturnTo(location.pathname + location.search);
            }}
          >
            Sign in
          </a>
        )}
      </header>
      {subnav}
      <main id="main" tabIndex={-1}>
        <h1>{title}</h1>
        {children}
      </main>
    </>
  );
}
