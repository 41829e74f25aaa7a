// Settings: the organization's name and settings with their bounds; errors per field.
import { useEffect, useState } from 'preact/hooks';
import { useApp } from '../../app';
import { unwrap, type Schemas } from '../../api/client';
import { AssignmentEditor } from '../../components/assignment-editor';
import { OrgShell, useOrg } from '../../components/org-shell';
import { ErrorNote, errorField, Loading, Status } from '../../components/ui';
import { draftProblems, normalize, toAssignments, toDrafts, type DraftAssignment } from '../../lib/assignments';
import { checkNumber, NUMBER_SETTINGS, settingField } from '../../lib/settings';
import { grantable } from '../../permissions';
import type { Params } from '../../router';
import { parseDomains } from './invite-links';

export function SettingsPage({ params }: { params: Params }) {
  return (
    <OrgShell orgId={params.org} tab="settings" title="Settings">
      <Settings />
    </OrgShell>
  );
}

function Settings() {
  const org = useOrg();
  const s = org.org.settings;
  if (!s) return <Loading />;
  return <SettingsForm key={org.orgId} settings={s} name={org.org.name} />;
}

function SettingsForm({ settings, name: initialName }: { settings: Schemas['Settings']; name: string }) {
  const { api } = useApp();
  const org = useOrg();
  const [name, setName] = useState(initialName);
  const [nums, setNums] = useState<Record<string, string>>(() => Object.fromEntries(NUMBER_SETTINGS.map((n) => [n.key, String(settings[n.key])])));
  const [mci, setMci] = useState(settings.managers_can_invite);
  const [domains, setDomains] = useState(settings.allowed_email_domains.join('\n'));
  const [scim, setScim] = useState<DraftAssignment[]>(() => toDrafts(settings.scim_default_assignments));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => setName(initialName), [initialName]);

  const submit = async (e: Event) => {
    e.preventDefault();
    setNote('');
    setError(null);
    const errs: Record<string, string> = {};
    if (!name.trim()) errs.name = 'The name cannot be empty.';
    else if (name.trim().length > 100) errs.name = 'At most 100 characters.';
    for (const n of NUMBER_SETTINGS) {
      const p = checkNumber(n, nums[n.key]);
      if (p) errs[n.key] = p;
    }
    const dl = parseDomains(domains);
    if (dl.length > 50) errs.allowed_email_domains = 'At most 50 domains.';
    const sp = draftProblems(scim);
    if (sp.length) errs.scim_default_assignments = sp.join(' ');
    setErrors(errs);
    if (Object.keys(errs).length) {
      setTimeout(() => (document.querySelector('[aria-invalid="true"]') as HTMLElement | null)?.focus(), 0);
      return;
    }
    setBusy(true);
    try {
      unwrap(
        await api.PATCH('/orgs/{org}', {
          params: { path: { org: org.orgId } },
          body: {
            name: name.trim() === initialName ? undefined : name.trim(),
            settings: {
              invitation_expiry_days: Number(nums.invitation_expiry_days),
              max_pending_invitations: Number(nums.max_pending_invitations),
              invitations_per_hour: Number(nums.invitations_per_hour),
              emails_per_recipient_per_day: Number(nums.emails_per_recipient_per_day),
              audit_retention_days: Number(nums.audit_retention_days),
              managers_can_invite: mci,
              allowed_email_domains: dl,
              scim_default_assignments: normalize(toAssignments(scim)),
            },
          },
        }),
      );
      setNote('Settings saved.');
      await org.reload();
    } catch (err) {
      const f = settingField(errorField(err));
      if (f) setErrors({ [f]: (err as Error).message });
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const err = (key: string) =>
    errors[key] ? (
      <span id={`set-${key}-err`} class="error field-error">
        {errors[key]}
      </span>
    ) : null;
  const invalid = (key: string) => ({
    'aria-invalid': errors[key] ? ('true' as const) : undefined,
    'aria-describedby': `set-${key}-help${errors[key] ? ` set-${key}-err` : ''}`,
  });
  return (
    <form class="stack settings" onSubmit={submit} noValidate>
      <label>
        Organization name
        <input type="text" maxLength={100} value={name} onInput={(e) => setName(e.currentTarget.value)} {...invalid('name')} />
        <span class="hint" id="set-name-help">
          1 to 100 characters.
        </span>
        {err('name')}
      </label>
      <h2>Invitations</h2>
      {NUMBER_SETTINGS.map((n) => (
        <label key={n.key}>
          {n.label}
          <input
            type="number"
            inputMode="numeric"
            min={n.min}
            max={n.max}
            value={nums[n.key]}
            onInput={(e) => setNums({ ...nums, [n.key]: e.currentTarget.value })}
            {...invalid(n.key)}
          />
          <span class="hint" id={`set-${n.key}-help`}>
            {n.help} {n.min} to {n.max}.
          </span>
          {err(n.key)}
        </label>
      ))}
      <label class="check">
        <input type="checkbox" checked={mci} onChange={(e) => setMci(e.currentTarget.checked)} aria-describedby="set-managers_can_invite-help" />
        Pool managers may invite
      </label>
      <span class="hint" id="set-managers_can_invite-help">
        Managers then invite (and see, resend and revoke invitations) with Manager or Engineer roles inside the pools they manage.
      </span>
      <label>
        Allowed email domains
        <textarea rows={3} value={domains} onInput={(e) => setDomains(e.currentTarget.value)} {...invalid('allowed_email_domains')} />
        <span class="hint" id="set-allowed_email_domains-help">
          One per line (or separated by commas); empty allows any domain. Also applies to invitations and links made before. At most 50.
        </span>
        {err('allowed_email_domains')}
      </label>
      <h2>SCIM</h2>
      <AssignmentEditor
        legend="Roles of members provisioned over SCIM"
        idPrefix="scim-default"
        value={scim}
        onChange={setScim}
        grant={grantable(org.caller, 'assign')}
        rows={org.rows}
      />
      {err('scim_default_assignments')}
      <ErrorNote error={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Save settings
        </button>
      </div>
      <Status>{note}</Status>
    </form>
  );
}
