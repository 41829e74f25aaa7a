// Pasting many addresses at once: commas, semicolons, spaces and newlines separate entries;
// `Name <a@b>` and `"Last, First" <a@b>` carry a name; `mailto:` is dropped. Nothing is validated
// here beyond splitting: the server decides (invalid_email, duplicate_email, ... per entry).

export interface ParsedAddress {
  email: string;
  name: string | null;
}

/** Splits pasted text into entries, in order. Quotes and angle brackets keep their separators. */
export function parseAddresses(text: string): ParsedAddress[] {
  const segments: string[] = [];
  let cur = '';
  let quoted = false;
  let angled = false;
  for (const ch of text) {
    if (ch === '"' && !angled) quoted = !quoted;
    else if (ch === '<' && !quoted) angled = true;
    else if (ch === '>' && !quoted) angled = false;
    if (!quoted && !angled && (ch === ',' || ch === ';' || ch === '\n' || ch === '\r')) {
      segments.push(cur);
      cur = '';
      // `a@b.c Name <x@y.z>` on one line: a closing `>` also ends a segment.
    } else {
      cur += ch;
      if (ch === '>' && !quoted) {
        segments.push(cur);
        cur = '';
      }
    }
  }
  segments.push(cur);

  const out: ParsedAddress[] = [];
  for (const raw of segments) {
    const seg = raw.trim();
    if (!seg) continue;
    const m = /^(.*?)<([^<>]*)>$/s.exec(seg);
    if (m) {
      // Words before the name that look like addresses are entries of their own.
      const before = m[1].trim().split(/\s+/).filter(Boolean);
      const lead: string[] = [];
      while (before.length && before[0].includes('@')) lead.push(before.shift()!);
      for (const e of lead) out.push({ email: clean(e), name: null });
      const name = before.join(' ').replace(/^"(.*)"$/s, '$1').trim();
      out.push({ email: clean(m[2]), name: name || null });
    } else {
      for (const word of seg.split(/\s+/)) if (word) out.push({ email: clean(word), name: null });
    }
  }
  return out.filter((a) => a.email !== '');
}

function clean(s: string): string {
  return s.trim().replace(/^mailto:/i, '').replace(/^['"]|['"]$/g, '');
}

/** Writes entries back as text, one per line (`Name <a@b>` when there is a name), so entries that
 * failed can stay in the box for editing. */
export function formatAddresses(list: ParsedAddress[]): string {
  return list.map((a) => (a.name ? `${/[,;"<>]/.test(a.name) ? JSON.stringify(a.name) : a.name} <${a.email}>` : a.email)).join('\n');
}
