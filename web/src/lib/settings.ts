// The organization settings and their bounds (docs/api.md, "Organizations and settings").
export interface NumberSetting {
  key: 'invitation_expiry_days' | 'max_pending_invitations' | 'invitations_per_hour' | 'emails_per_recipient_per_day' | 'audit_retention_days';
  label: string;
  min: number;
  max: number;
  help: string;
}

export const NUMBER_SETTINGS: NumberSetting[] = [
  { key: 'invitation_expiry_days', label: 'Invitation validity (days)', min: 1, max: 30, help: 'How long a new invitation stays valid when the inviter gives no expiry.' },
  { key: 'max_pending_invitations', label: 'Most pending invitations', min: 1, max: 10000, help: 'Invitations waiting for an answer at once (an expired one stops counting once the invitation list or its invitee meets it).' },
  { key: 'invitations_per_hour', label: 'Invitations per hour', min: 1, max: 10000, help: 'New invitations per UTC clock hour.' },
  { key: 'emails_per_recipient_per_day', label: 'Emails per recipient per day', min: 1, max: 100, help: 'Invitation emails to one address per UTC day (new, re-invite and resend).' },
  { key: 'audit_retention_days', label: 'Audit log retention (days)', min: 30, max: 2555, help: 'How long the audit log keeps an entry; entries already written keep the retention they were written with.' },
];

/** A field's problem, or null: a whole number within the bounds. */
export function checkNumber(s: NumberSetting, raw: string): string | null {
  const t = raw.trim();
  if (!/^\d+$/.test(t)) return `${s.label} must be a whole number from ${s.min} to ${s.max}.`;
  const n = Number(t);
  return n < s.min || n > s.max ? `${s.label} must be between ${s.min} and ${s.max}.` : null;
}

/** Where a server error's `details.field` belongs: `settings.invitations_per_hour` → `invitations_per_hour`. */
export function settingField(field: string | null): string | null {
  if (!field) return null;
  return field.replace(/^settings\./, '').replace(/\[\d+\].*$/, '');
}
