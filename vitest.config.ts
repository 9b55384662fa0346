import { defineConfig } from 'vitest/config'

// Three suites: unit (plain node), integration (the built server over HTTP and WebSockets),
// e2e (the built app in Debian's Chromium). scripts/test.mjs runs them all.
// How long expect.poll waits by default (vitest's own is 1 s, which a loaded CI machine can miss
// for a change that arrives). An assertion of a time the contract sets passes its own timeout.
const POLL_TIMEOUT_MS = 5000

export default defineConfig({
  resolve: {
    alias: { '#shared': new URL('./shared', import.meta.url).pathname },
  },
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['tests/unit/**/*.test.ts', 'tests/unit/**/*.test.mjs'], environment: 'node' } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['tests/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          expect: { poll: { timeout: POLL_TIMEOUT_MS } },
          // Each file starts its own server; two at a time suits a 2-core machine.
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['tests/e2e/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          expect: { poll: { timeout: POLL_TIMEOUT_MS } },
          maxWorkers: 1,
        },
      },
    ],
  },
})
