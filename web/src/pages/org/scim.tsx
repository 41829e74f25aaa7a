// SCIM: tokens for the organization's identity provider (shown once), the base URL, and how to
// connect Okta and Microsoft Entra ID.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { unwrap, type Schemas } from '../../api/client';
import { OrgShell, useOrg } from '../../components/org-shell';
import { Confirm, ErrorNote, errorText, SecretBox, Status, Time } from '../../components/ui';
import type { Params } from '../../router';

export function ScimPage({ params }: { params: Params }) {
  return (
    <OrgShell orgId={params.org} tab="scim" title="SCIM provisioning">
      <Scim />
    </OrgShell>
  );
}

/** `<api origin>/scim/v2`: the API's URL when it is elsewhere, else this origin. */
export function scimBaseUrl(apiUrl: string, origin: string): string {
  return `${(apiUrl || origin).replace(/\/+$/, '')}/scim/v2`;
}

function Scim() {
  const { api, config } = useApp();
  const org = useOrg();
  const [tokens, setTokens] = useState<Schemas['ScimToken'][] | null>(null);
  const [created, setCreated] = useState<Schemas['CreatedScimToken'] | null>(null);
  const [description, setDescription] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const [confirm, setConfirm] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);
  const base = scimBaseUrl(config.api_url, location.origin);

  useEffect(() => {
    api
      .GET('/orgs/{org}/scim-tokens', { params: { path: { org: org.orgId } } })
      .then(unwrap)
      .then((p) => setTokens(p.items))
      .catch(setError);
  }, [org.orgId, tick]);

  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNote('');
    try {
      const t = unwrap(
        await api.POST('/orgs/{org}/scim-tokens', { params: { path: { org: org.orgId } }, body: { description: description.trim() || null } }),
      );
      setCreated(t);
      setDescription('');
      setTick(tick + 1);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const revoke = async (t: Schemas['ScimToken']) => {
    setError(null);
    try {
      unwrap(await api.DELETE('/orgs/{org}/scim-tokens/{sct}', { params: { path: { org: org.orgId, sct: t.id } } }));
      setNote(`Token ${t.description ?? t.id} revoked: the identity provider's next request with it is refused. Members it provisioned stay.`);
      setConfirm(null);
      if (created?.id === t.id) setCreated(null);
      setTick(tick + 1);
    } catch (err) {
      setError(new Error(`Revoke failed: ${errorText(err)}`));
    }
  };

  return (
    <>
      <p>
        Your identity provider (Okta, Microsoft Entra ID, …) can create, update, suspend and remove the members of {org.org.name} over
        SCIM 2.0. It authenticates with a SCIM token of this organization. New members get the roles set under{' '}
        <a href={`/console/orgs/${org.orgId}/settings`}>Settings</a>. The identity provider never sets roles itself; the groups it pushes
        give the roles you map under <a href={`/console/orgs/${org.orgId}/groups`}>Groups</a>.
      </p>
      <div class="secret">
        <label for="scim-base">SCIM base URL</label>
        <input id="scim-base" type="text" readOnly value={base} onFocus={(e) => e.currentTarget.select()} />
      </div>

      <section aria-labelledby="scim-create-h" class="card">
        <h2 id="scim-create-h">Create a token</h2>
        <form class="inline" onSubmit={create}>
          <label>
            Description <span class="hint">(optional, e.g. "Okta production")</span>
            <input type="text" maxLength={200} value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            Create token
          </button>
        </form>
        {created && (
          <>
            <SecretBox
              label="SCIM token"
              value={created.token}
              warning="Copy the token now and paste it into your identity provider: it is shown only this once. Rollcall keeps only its hash; a lost token cannot be shown again (revoke it and create another). Anyone holding it can change this organization's members."
            />
            <button type="button" onClick={() => setCreated(null)}>
              I have copied it
            </button>
          </>
        )}
      </section>

      <h2>Tokens</h2>
      <ErrorNote error={error} />
      <Status>{note}</Status>
      {tokens && tokens.length === 0 && <p>No SCIM tokens yet.</p>}
      {tokens && tokens.length > 0 && (
        <table>
          <caption class="visually-hidden">SCIM tokens</caption>
          <thead>
            <tr>
              <th scope="col">Description</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {tokens.map((t) => (
              <tr key={t.id}>
                <th scope="row">{t.description || <span class="hint">(no description) {t.id}</span>}</th>
                <td>
                  <Time ts={t.created_at} />
                </td>
                <td>
                  <Time ts={t.last_used_at} empty="Never" />
                </td>
                <td class="row-actions">
                  {confirm === t.id ? (
                    <Confirm question="Revoke this token? The identity provider stops provisioning until it gets another." yes="Yes, revoke" onYes={() => revoke(t)} onCancel={() => setConfirm(null)} />
                  ) : (
                    <button type="button" onClick={() => setConfirm(t.id)} aria-label={`Revoke token ${t.description || t.id}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p class="hint">
        To rotate: create a new token, switch the identity provider to it, then revoke the old one. "Last used" is kept to the hour.
      </p>

      <h2>Connect Okta</h2>
      <ol class="steps">
        <li>
          In the Okta Admin Console open <strong>Applications → Applications → Browse App Catalog</strong>, find{' '}
          <strong>SCIM 2.0 Test App (Header Auth)</strong> and select <strong>Add Integration</strong> (or use your own app integration with{' '}
          <strong>Provisioning: SCIM</strong> enabled under General → App Settings).
        </li>
        <li>
          Open the app's <strong>Provisioning</strong> tab, select <strong>Configure API Integration</strong> (custom app: <strong>Integration → Edit</strong>) and
          enable the API integration.
        </li>
        <li>
          <strong>Base URL</strong> (custom app: <strong>SCIM connector base URL</strong>): <code>{base}</code>
        </li>
        <li>
          <strong>Unique identifier field for users</strong> (custom app): <code>userName</code>.
        </li>
        <li>
          Authentication: the Test App's <strong>API Token</strong> is sent as the whole <code>Authorization</code> header, so enter{' '}
          <code>Bearer &lt;token&gt;</code>; in a custom app choose <strong>Authentication Mode: HTTP Header</strong> and paste the token as the{' '}
          <code>Authorization</code> Bearer value.
        </li>
        <li>
          Supported provisioning actions (custom app): <strong>Push New Users</strong> and <strong>Push Profile Updates</strong>; not Push Groups (Rollcall has no
          SCIM groups). Select <strong>Test API Credentials</strong> (or <strong>Test Connector Configuration</strong>), then <strong>Save</strong>.
        </li>
        <li>
          Under <strong>Provisioning → To App</strong> enable <strong>Create Users</strong>, <strong>Update User Attributes</strong> and{' '}
          <strong>Deactivate Users</strong>, then assign people or groups on the <strong>Assignments</strong> tab.
        </li>
      </ol>
      <p class="hint">
        Okta looks users up by <code>userName</code>, creates them, updates them with PUT, and deactivates them (they become suspended members); it never deletes.
      </p>

      <h2>Connect Microsoft Entra ID</h2>
      <ol class="steps">
        <li>
          In the Microsoft Entra admin center open <strong>Enterprise applications → New application → Create your own application</strong> ("Integrate any other
          application you don't find in the gallery").
        </li>
        <li>
          In the application open <strong>Provisioning</strong>, set <strong>Provisioning Mode</strong> to <strong>Automatic</strong>.
        </li>
        <li>
          Under <strong>Admin Credentials</strong>: <strong>Tenant URL</strong> <code>{base}</code>, <strong>Secret Token</strong> the token (without "Bearer").
          Select <strong>Test Connection</strong>, then <strong>Save</strong>.
        </li>
        <li>
          Under <strong>Mappings</strong> turn off the groups mapping (Rollcall has no SCIM groups) and check the user mapping: <code>userPrincipalName</code> →{' '}
          <code>userName</code>, <code>mail</code> → <code>emails[type eq "work"].value</code>, <code>objectId</code> → <code>externalId</code>, the default{' '}
          <code>Switch([IsSoftDeleted], …)</code> → <code>active</code>.
        </li>
        <li>
          Assign users or groups under <strong>Users and groups</strong>, then <strong>Start provisioning</strong>.
        </li>
      </ol>
      <p class="hint">
        Entra ID sets <code>active</code> to false when an account is disabled or unassigned (the member is suspended) and deletes the member when the account is
        deleted for good; their pools, invite links and pending invitations then go to another organization manager.
      </p>
    </>
  );
}
