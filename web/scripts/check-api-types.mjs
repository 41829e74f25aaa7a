// Fails when src/api/schema.d.ts is not what docs/openapi.json generates, so the console cannot
// drift from the API contract. Fix with `npm run gen:api`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'rollcall-api-types-'));
try {
  const fresh = join(dir, 'schema.d.ts');
  execFileSync('npx', ['openapi-typescript', '../docs/openapi.json', '-o', fresh], { stdio: 'ignore' });
  const committed = readFileSync('src/api/schema.d.ts', 'utf8');
  if (readFileSync(fresh, 'utf8') !== committed) {
    console.error('src/api/schema.d.ts is out of date with docs/openapi.json: run `npm run gen:api` in web/');
    process.exit(1);
  }
  console.log('API types match docs/openapi.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
