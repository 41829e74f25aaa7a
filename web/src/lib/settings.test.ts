import { describe, expect, it } from 'vitest';
import { checkNumber, NUMBER_SETTINGS, settingField } from './settings';

const expiry = NUMBER_SETTINGS[0];
describe('settings', () => {
  it('checks the bounds of docs/api.md', () => {
    expect(checkNumber(expiry, '7')).toBeNull();
    expect(checkNumber(expiry, '30')).toBeNull();
    expect(checkNumber(expiry, '31')).toMatch(/between 1 and 30/);
    expect(checkNumber(expiry, '0')).toMatch(/between 1 and 30/);
    expect(checkNumber(expiry, '1.5')).toMatch(/whole number/);
    expect(checkNumber(expiry, '')).toMatch(/whole number/);
    expect(NUMBER_SETTINGS.map((s) => [s.key, s.min, s.max])).toEqual([
      ['invitation_expiry_days', 1, 30],
      ['max_pending_invitations', 1, 10000],
      ['invitations_per_hour', 1, 10000],
      ['emails_per_recipient_per_day', 1, 100],
      ['audit_retention_days', 30, 2555],
    ]);
  });
  it('maps server fields to form fields', () => {
    expect(settingField('settings.invitations_per_hour')).toBe('invitations_per_hour');
    expect(settingField('settings.allowed_email_domains[3]')).toBe('allowed_email_domains');
    expect(settingField('name')).toBe('name');
    expect(settingField(null)).toBeNull();
  });
});
