import { describe, expect, it } from 'vitest';
import { formatAddresses, parseAddresses } from './addresses';

describe('parseAddresses', () => {
  it('splits on commas, semicolons, spaces and newlines', () => {
    expect(parseAddresses('a@x.test, b@x.test;c@x.test\nd@x.test  e@x.test\r\n\n').map((a) => a.email)).toEqual([
      'a@x.test',
      'b@x.test',
      'c@x.test',
      'd@x.test',
      'e@x.test',
    ]);
  });
  it('reads Name <address> forms, quoted names with commas included', () => {
    expect(parseAddresses('Ana Lima <ana@x.test>, "Doe, Jane" <jane@x.test>; <bo@x.test>')).toEqual([
      { email: 'ana@x.test', name: 'Ana Lima' },
      { email: 'jane@x.test', name: 'Doe, Jane' },
      { email: 'bo@x.test', name: null },
    ]);
  });
  it('keeps several named entries on one line apart', () => {
    expect(parseAddresses('Ana <ana@x.test> Bo <bo@x.test> c@x.test')).toEqual([
      { email: 'ana@x.test', name: 'Ana' },
      { email: 'bo@x.test', name: 'Bo' },
      { email: 'c@x.test', name: null },
    ]);
  });
  it('an address before a named one on the same line is its own entry', () => {
    expect(parseAddresses('a@x.test Bo <bo@x.test>')).toEqual([
      { email: 'a@x.test', name: null },
      { email: 'bo@x.test', name: 'Bo' },
    ]);
  });
  it('drops mailto: and stray quotes, keeps invalid words for the server to judge', () => {
    expect(parseAddresses("mailto:a@x.test 'b@x.test' not-an-email")).toEqual([
      { email: 'a@x.test', name: null },
      { email: 'b@x.test', name: null },
      { email: 'not-an-email', name: null },
    ]);
  });
  it('ignores empty input', () => {
    expect(parseAddresses(' ,, ;\n ')).toEqual([]);
  });
  it('keeps non-ASCII addresses as typed', () => {
    expect(parseAddresses('Zoë <zoë@bücher.example>')).toEqual([{ email: 'zoë@bücher.example', name: 'Zoë' }]);
  });
});

describe('formatAddresses', () => {
  it('round-trips through parseAddresses', () => {
    const list = [
      { email: 'a@x.test', name: null },
      { email: 'jane@x.test', name: 'Doe, Jane' },
      { email: 'bo@x.test', name: 'Bo Li' },
    ];
    const text = formatAddresses(list);
    expect(text).toBe('a@x.test\n"Doe, Jane" <jane@x.test>\nBo Li <bo@x.test>');
    expect(parseAddresses(text)).toEqual(list);
  });
});
