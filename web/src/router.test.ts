import { describe, expect, it } from 'vitest';
import { matchPath } from './router';

describe('matchPath', () => {
  it('matches literal segments and captures parameters', () => {
    expect(matchPath('/console/orgs/:org/users', '/console/orgs/org_1/users')).toEqual({ org: 'org_1' });
    expect(matchPath('/console', '/console/')).toEqual({});
  });
  it('rejects other lengths and other literals', () => {
    expect(matchPath('/console/orgs/:org', '/console/orgs')).toBeNull();
    expect(matchPath('/console/orgs/:org/users', '/console/orgs/org_1/pools')).toBeNull();
  });
  it('decodes parameters', () => {
    expect(matchPath('/x/:id', '/x/a%20b')).toEqual({ id: 'a b' });
  });
});
