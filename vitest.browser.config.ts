import { defineConfig } from 'vitest/config';

/** The Swagger UI test drives a real Chromium (Debian package); `.ci/run` installs it. */
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
});
