import { defineConfig } from 'vitest/config';
import preact from '@preact/preset-vite';

// One build serves every deployment: runtime settings come from /console-config.json.
export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: process.env.ROLLCALL_CONSOLE_OUT_DIR || 'dist',
    emptyOutDir: true,
    // No inline scripts or styles, so the Content-Security-Policy needs no 'unsafe-inline'.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    // `npm run dev` against a running `rollcall serve`.
    proxy: {
      '^/(orgs|me|invitations|join$|scim|_local|console-config.json)': 'http://127.0.0.1:3000',
    },
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx'],
    environment: 'node',
  },
});
