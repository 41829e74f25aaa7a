import { describe, expect, it } from 'vitest';
import { parseConfig } from './config';

describe('parseConfig', () => {
  it('reads the local mode', () => {
    expect(parseConfig({ api_url: '', auth: { mode: 'local' }, local_tools: true })).toEqual({
      api_url: '',
      auth: { mode: 'local' },
      local_tools: true,
    });
  });
  it('reads the OIDC mode with a default scope and trims the API URL', () => {
    const c = parseConfig({ api_url: 'https://api.example/', auth: { mode: 'oidc', issuer: 'https://idp', client_id: 'abc' } });
    expect(c.api_url).toBe('https://api.example');
    expect(c.auth).toEqual({ mode: 'oidc', issuer: 'https://idp', client_id: 'abc', scope: 'openid email profile', logout_url: undefined });
    expect(c.local_tools).toBe(false);
  });
  it('refuses an unknown mode or a missing client id', () => {
    expect(() => parseConfig({ auth: { mode: 'saml' } })).toThrow();
    expect(() => parseConfig({ auth: { mode: 'oidc', issuer: 'x' } })).toThrow();
    expect(() => parseConfig(null)).toThrow();
  });
});
