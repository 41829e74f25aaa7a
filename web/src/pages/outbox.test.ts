import { describe, expect, it } from 'vitest';
import { isOwnAcceptLink } from './outbox';

describe('isOwnAcceptLink', () => {
  const origin = 'http://127.0.0.1:3000';
  it('names this console accept links with a token', () => {
    expect(isOwnAcceptLink('http://127.0.0.1:3000/accept?token=rci_x', origin)).toBe(true);
  });
  it('does not dress up other URLs as accept links', () => {
    expect(isOwnAcceptLink('https://evil.example/accept?token=rci_x', origin)).toBe(false);
    expect(isOwnAcceptLink('http://127.0.0.1:3000/accept', origin)).toBe(false);
    expect(isOwnAcceptLink('http://127.0.0.1:3000/x/accept?token=1', origin)).toBe(false);
    expect(isOwnAcceptLink('not a url', origin)).toBe(false);
  });
});
