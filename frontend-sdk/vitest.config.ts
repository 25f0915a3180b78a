import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // Starts one live casegraph server (private PostgreSQL, demo data) for every test file.
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: the server and PostgreSQL need one of them.
    fileParallelism: false,
    server: {
      deps: {
        // The fake server (graphql-ws/use/ws) must use the same `graphql` instance as the tests,
        // else graphql's instanceof checks fail ("from another module or realm").
        inline: ['graphql-ws'],
      },
    },
  },
});
