import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'agent/**/*.test.ts',
      'hal/**/*.test.ts',
      'scripts/**/*.test.ts',
      'test-fixtures/**/*.test.ts',
      'deploy/**/*.test.ts',
    ],
    exclude: ['dist/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: integration tests run real ffmpeg and RTSP servers.
    maxWorkers: 2,
    reporters: ['default', './scripts/vitest-summary-reporter.ts'],
  },
});
