// The application: runtime settings, the session and the route table of the console and the
// hosted pages. Pages get what they need from AppContext.
import { createContext } from 'preact';
import { useContext, useMemo, useState } from 'preact/hooks';
import type { ConsoleConfig } from './config';
import { makeClient, type ApiClient } from './api/client';
import { currentSession, type Session } from './session';
import { matchPath, onLinkClick, useLocation, type Params } from './router';
import { SignInPage } from './pages/signin';
import { HomePage } from './pages/home';
import { NotFoundPage } from './pages/not-found';
import { AcceptPage } from './pages/accept';
import { JoinPage } from './pages/join';
import { MyInvitationsPage } from './pages/my-invitations';
import { OutboxPage } from './pages/outbox';
import { SignInCallbackPage } from './pages/signin-callback';
import { MemberPage } from './pages/org/member';
import { OrgIndexPage, UsersPage } from './pages/org/users';
import { InvitationsPage } from './pages/org/invitations';
import { InviteLinksPage } from './pages/org/invite-links';
import { PoolsPage } from './pages/org/pools';
import { SettingsPage } from './pages/org/settings';
import { ScimPage } from './pages/org/scim';
import { AuditPage } from './pages/org/audit';
import { GroupPage, GroupsPage } from './pages/org/groups';

export interface AppContextValue {
  config: ConsoleConfig;
  api: ApiClient;
  session: Session | null;
  setSession: (s: Session | null) => void;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('useApp outside <App>');
  return ctx;
}

type PageComponent = (props: { params: Params; search: URLSearchParams }) => preact.JSX.Element;

/** The routes, matched in order. The API owns /orgs, /me, /invitations, /scim and POST /join, so
 * console pages live under /console; /accept and /join are the links mails and invite links carry. */
export const ROUTES: Array<[string, PageComponent]> = [
  ['/signin', SignInPage],
  ['/signin/callback', SignInCallbackPage],
  ['/accept', AcceptPage],
  ['/join', JoinPage],
  ['/outbox', OutboxPage],
  ['/console/invitations', MyInvitationsPage],
  ['/console', HomePage],
  ['/console/orgs/:org', OrgIndexPage],
  ['/console/orgs/:org/users', UsersPage],
  ['/console/orgs/:org/users/:usr', MemberPage],
  ['/console/orgs/:org/invitations', InvitationsPage],
  ['/console/orgs/:org/invite-links', InviteLinksPage],
  ['/console/orgs/:org/pools', PoolsPage],
  ['/console/orgs/:org/groups', GroupsPage],
  ['/console/orgs/:org/groups/:grp', GroupPage],
  ['/console/orgs/:org/settings', SettingsPage],
  ['/console/orgs/:org/scim', ScimPage],
  ['/console/orgs/:org/audit', AuditPage],
  ['/', HomePage],
];

export function App({ config }: { config: ConsoleConfig }) {
  const [session, setSession] = useState<Session | null>(() => currentSession());
  const api = useMemo(() => makeClient(config.api_url), [config.api_url]);
  const { path, search } = useLocation();
  let page: preact.JSX.Element = <NotFoundPage />;
  for (const [pattern, Page] of ROUTES) {
    const params = matchPath(pattern, path);
    if (params) {
      page = <Page params={params} search={search} />;
      break;
    }
  }
  return (
    <AppContext.Provider value={{ config, api, session, setSession }}>
      <div class="app" onClick={(e) => onLinkClick(e as unknown as MouseEvent)}>
        {page}
      </div>
    </AppContext.Provider>
  );
}
