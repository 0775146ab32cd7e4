import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    // The README example imports the package by name; tests run it against the sources.
    alias: { "effect-net": fileURLToPath(new URL("./src/index.ts", import.meta.url)) }
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/global.ts"],
    // test/tcp/leak.test.ts measures the heap after a full collection.
    poolOptions: { forks: { execArgv: ["--expose-gc"] } },
    testTimeout: 60_000,
    hookTimeout: 30_000
  }
})
