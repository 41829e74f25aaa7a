import { describe, expect, it } from 'vitest';
import {
  acceptView,
  afterPreviewError,
  describeAssignment,
  expiresIn,
  forgetToken,
  linksIn,
  problemFromCode,
  sameEmail,
  takeToken,
} from './invite-flow';

function memoryStore() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    map: m,
  };
}

const preview = {
  org_id: 'org_1',
  org_name: 'Acme',
  inviter_name: 'Olivia',
  email: 'Kate@Acme.test',
  name: null,
  assignments: [{ role: 'member' as const }],
  pools: [],
  expires_at: '2030-01-01T00:00:00Z',
};

describe('takeToken', () => {
  it('takes the token out of the address and keeps it for the sign-in round trip', () => {
    const store = memoryStore();
    const r = takeToken('accept', '/accept', new URLSearchParams('token=rci_abc'), store);
    expect(r).toEqual({ token: 'rci_abc', cleanUrl: '/accept' });
    expect(store.map.get('rollcall.accept_token')).toBe('rci_abc');
    // Back from sign-in: no token in the address, the kept one is used.
    expect(takeToken('accept', '/accept', new URLSearchParams(''), store)).toEqual({ token: 'rci_abc', cleanUrl: null });
  });
  it('keeps other query parameters and separates accept from join tokens', () => {
    const store = memoryStore();
    expect(takeToken('join', '/join', new URLSearchParams('token=rcl_1&x=2'), store).cleanUrl).toBe('/join?x=2');
    expect(takeToken('accept', '/accept', new URLSearchParams(''), store).token).toBeNull();
  });
  it('a new link replaces the kept token; forgetToken drops it', () => {
    const store = memoryStore();
    takeToken('accept', '/accept', new URLSearchParams('token=old'), store);
    expect(takeToken('accept', '/accept', new URLSearchParams('token=new'), store).token).toBe('new');
    forgetToken('accept', store);
    expect(store.map.size).toBe(0);
  });
  it('an empty token in the address still leaves the address', () => {
    const store = memoryStore();
    expect(takeToken('accept', '/accept', new URLSearchParams('token='), store)).toEqual({ token: null, cleanUrl: '/accept' });
  });
});

describe('acceptView', () => {
  it('asks to sign in when nobody is signed in', () => {
    expect(acceptView(preview, null).kind).toBe('sign_in');
  });
  it('is ready for the invited address, compared by the email rule', () => {
    expect(acceptView(preview, 'kate@acme.TEST').kind).toBe('ready');
  });
  it('refuses another address and names both', () => {
    expect(acceptView(preview, 'kate@other.test')).toEqual({ kind: 'wrong_account', preview, signedInAs: 'kate@other.test' });
  });
  it('lowercases ASCII letters only (the Kelvin sign is not k)', () => {
    expect(sameEmail('\u212Aate@acme.test', 'kate@acme.test')).toBe(false);
  });
});

describe('screens from the API', () => {
  it('maps every accept and join error code to its screen', () => {
    expect(problemFromCode('invitation_expired')).toBe('expired');
    expect(problemFromCode('invitation_not_pending')).toBe('revoked');
    expect(problemFromCode('invitation_already_used')).toBe('accepted');
    expect(problemFromCode('invitation_not_found')).toBe('not_found');
    expect(problemFromCode('email_mismatch')).toBe('mismatch');
    expect(problemFromCode('email_not_verified')).toBe('unverified');
    expect(problemFromCode('email_domain_not_allowed')).toBe('domain_not_allowed');
    expect(problemFromCode('invite_link_unusable')).toBe('link_unusable');
    expect(problemFromCode('invite_link_not_found')).toBe('link_not_found');
    expect(problemFromCode('already_member')).toBe('already_member');
    expect(problemFromCode('member_email_taken')).toBe('email_taken');
    expect(problemFromCode('unauthenticated', 401)).toBe('signed_out');
    expect(problemFromCode('service_unavailable', 503)).toBe('error');
  });
  it('a dead token: a signed-in invitee asks the server why, a stranger sees not found', () => {
    expect(afterPreviewError('invitation_not_found', 404, true)).toBe('ask_server');
    expect(afterPreviewError('invitation_not_found', 404, false)).toBe('not_found');
    expect(afterPreviewError('service_unavailable', 503, true)).toBe('error');
  });
});

describe('words', () => {
  it('describes roles, with pool names when known', () => {
    expect(describeAssignment({ role: 'member' })).toBe('Member');
    expect(describeAssignment({ role: 'organization_manager' })).toBe('Organization manager (the whole organization)');
    expect(describeAssignment({ role: 'engineer', pool_id: 'pool_1' }, { pool_1: 'Research' })).toBe('Engineer of the pool “Research” and its sub-pools');
    expect(describeAssignment({ role: 'manager', pool_id: 'pool_1' })).toMatch(/^Manager of one of the organization's pools/);
  });
  it('says when an invitation expires', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(expiresIn('2030-01-08T00:00:00Z', now)).toBe('in 7 days');
    expect(expiresIn('2030-01-01T05:00:00Z', now)).toBe('in 5 hours');
    expect(expiresIn('2029-12-31T00:00:00Z', now)).toBe('expired');
  });
  it('finds the links of a mail', () => {
    expect(linksIn('Accept: http://127.0.0.1:3000/accept?token=rci_a-b_c\nhttp://127.0.0.1:3000/accept?token=rci_a-b_c')).toEqual([
      'http://127.0.0.1:3000/accept?token=rci_a-b_c',
    ]);
  });
});

