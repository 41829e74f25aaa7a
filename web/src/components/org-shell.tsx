// The frame of every organization page: organization switcher, the tabs the caller's roles allow,
// and the data every page needs (the organization, the caller, the pool tree).
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import { useApp } from '../app';
import { ApiError, unwrap, type Schemas } from '../api/client';
import { Layout } from './layout';
import { ErrorNote, Loading } from './ui';
import { useSignedIn } from '../pages/home';
import { clearSession } from '../session';
import { buildTree, poolLabel, type Pool, type PoolRow } from '../lib/pools';
import { TAB_LABELS, visibleTabs, type Caller, type Tab } from '../permissions';

export interface OrgData {
  orgId: string;
  org: Schemas['Organization'];
  orgs: Schemas['Organization'][];
  /** The caller's user id. */
  meId: string;
  pools: Pool[];
  rows: PoolRow[];
  caller: Caller;
}

export interface OrgContextValue extends OrgData {
  poolName: (id: string) => string;
  reload: () => Promise<void>;
}

const OrgContext = createContext<OrgContextValue | null>(null);
export function useOrg(): OrgContextValue {
  const v = useContext(OrgContext);
  if (!v) throw new Error('useOrg outside <OrgShell>');
  return v;
}

// The last data of each organization, so that switching tabs shows at once and refreshes behind.
const cache = new Map<string, OrgData>();

async function loadOrg(api: ReturnType<typeof useApp>['api'], orgId: string): Promise<OrgData> {
  const [orgs, org, me, pools] = await Promise.all([
    api.GET('/orgs', { params: { query: { limit: 200 } } }).then(unwrap),
    api.GET('/orgs/{org}', { params: { path: { org: orgId } } }).then(unwrap),
    api.GET('/me', { params: { query: { limit: 1 } } }).then(unwrap),
    api.GET('/orgs/{org}/pools', { params: { path: { org: orgId } } }).then(unwrap),
  ]);
  const assignments = org.assignments ?? orgs.items.find((o) => o.id === orgId)?.assignments ?? [{ role: 'member' as const }];
  const isOm = assignments.some((a) => a.role === 'organization_manager');
  let managersCanInvite: boolean | null = org.settings?.managers_can_invite ?? null;
  if (!isOm && assignments.some((a) => a.role === 'manager')) {
    // Managers cannot read the settings: the invitations list answers 403 when they may not invite.
    const r = await api.GET('/orgs/{org}/invitations', { params: { path: { org: orgId }, query: { limit: 1 } } });
    managersCanInvite = r.response.ok;
  } else if (!isOm) managersCanInvite = false;
  return {
    orgId,
    org,
    orgs: orgs.items,
    meId: me.user.id,
    pools: pools.items,
    rows: buildTree(pools.items),
    caller: { assignments, pools: pools.items, managersCanInvite },
  };
}

export function OrgShell({ orgId, tab, title, children }: { orgId: string; tab: Tab; title: string; children: ComponentChildren }) {
  const { api, setSession } = useApp();
  const signedIn = useSignedIn();
  const [data, setData] = useState<OrgData | null>(() => cache.get(orgId) ?? null);
  const [error, setError] = useState<unknown>(null);

  const reload = async () => {
    try {
      const d = await loadOrg(api, orgId);
      cache.set(orgId, d);
      setData(d);
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        // The session ended (expired or refused): sign in again and come back here.
        clearSession();
        setSession(null);
        return;
      }
      setError(e);
    }
  };
  useEffect(() => {
    setData(cache.get(orgId) ?? null);
    if (signedIn) void reload();
  }, [orgId, signedIn]);

  if (!signedIn) return <Layout title={title}>{null}</Layout>;
  if (!data) {
    return (
      <Layout title={title}>
        {error ? (
          <>
            <ErrorNote error={error} />
            {error instanceof ApiError && error.status === 404 && (
              <p>
                <a href="/console">Back to your organizations</a>
              </p>
            )}
          </>
        ) : (
          <Loading />
        )}
      </Layout>
    );
  }
  const tabs = visibleTabs(data.caller);
  const value: OrgContextValue = { ...data, poolName: (id) => poolLabel(data.rows, id), reload };
  return (
    <OrgContext.Provider value={value}>
      <Layout title={title} nav={<OrgSwitcher data={data} />} subnav={<Tabs orgId={orgId} tabs={tabs} current={tab} />}>
        <ErrorNote error={error} />
        {tabs.includes(tab) ? (
          children
        ) : (
          <p class="notice">Your roles in {data.org.name} do not include this page. Ask an organization manager.</p>
        )}
      </Layout>
    </OrgContext.Provider>
  );
}

function OrgSwitcher({ data }: { data: OrgData }) {
  return (
    <details class="switcher">
      <summary>
        <span class="visually-hidden">Organization: </span>
        {data.org.name}
      </summary>
      <nav
        aria-label="Organizations"
        onClick={(e) => {
          // Close the menu once a link is chosen (the same page may stay mounted).
          if ((e.target as HTMLElement).closest('a')) (e.currentTarget.parentElement as HTMLDetailsElement).open = false;
        }}
      >
        <ul>
          {data.orgs.map((o) => (
            <li key={o.id}>
              <a href={`/console/orgs/${o.id}/users`} aria-current={o.id === data.orgId ? 'page' : undefined}>
                {o.name}
              </a>
            </li>
          ))}
          <li>
            <a href="/console#create">Create organization…</a>
          </li>
        </ul>
      </nav>
    </details>
  );
}

function Tabs({ orgId, tabs, current }: { orgId: string; tabs: Tab[]; current: Tab }) {
  return (
    <nav class="tabs" aria-label="Organization">
      <ul>
        {tabs.map((t) => (
          <li key={t}>
            <a href={`/console/orgs/${orgId}/${t}`} aria-current={t === current ? 'page' : undefined}>
              {TAB_LABELS[t]}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
