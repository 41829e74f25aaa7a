// The frame of every page: a header with the product name and who is signed in.
import type { ComponentChildren } from 'preact';
import { useApp } from '../app';
import { navigate } from '../router';
import { signOut } from '../session';

export function Layout({ title, children, nav }: { title: string; children: ComponentChildren; nav?: ComponentChildren }) {
  const { config, session, setSession } = useApp();
  document.title = `${title} · Rollcall`;
  return (
    <>
      <a class="skip-link" href="#main">Skip to content</a>
      <header class="topbar">
        <a class="brand" href="/console">Rollcall</a>
        {nav}
        <span class="spacer" />
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
          <a href="/signin">Sign in</a>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{title}</h1>
        {children}
      </main>
    </>
  );
}
