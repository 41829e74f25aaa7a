// Prints what the first screen ships: the scripts and styles index.html loads (entry and
// modulepreloads), raw and gzip. Lazily loaded chunks (e.g. the OIDC client) are listed apart.
// Usage: npm run size  (builds into a temporary directory first)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const out = mkdtempSync(join(tmpdir(), 'rollcall-console-size-'));
try {
  execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { stdio: 'inherit', env: { ...process.env, ROLLCALL_CONSOLE_OUT_DIR: out } });
  const index = readFileSync(join(out, 'index.html'), 'utf8');
  const first = new Set([...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]));
  const rows = readdirSync(join(out, 'assets'))
    .filter((f) => /\.(js|css)$/.test(f))
    .map((f) => {
      const bytes = readFileSync(join(out, 'assets', f));
      return { file: `assets/${f}`, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
    });
  const kb = (n) => (n / 1024).toFixed(1).padStart(7) + ' KB';
  let firstGzip = 0;
  let firstRaw = 0;
  for (const r of rows.sort((a, b) => b.gzip - a.gzip)) {
    const isFirst = first.has(r.file);
    if (isFirst) {
      firstGzip += r.gzip;
      firstRaw += r.raw;
    }
    console.log(`${isFirst ? 'first screen' : 'lazy        '} ${kb(r.raw)} raw ${kb(r.gzip)} gzip  ${r.file}`);
  }
  console.log(`first screen total: ${kb(firstRaw)} raw, ${kb(firstGzip)} gzip (aim: under 100 KB gzip)`);
} finally {
  rmSync(out, { recursive: true, force: true });
}
