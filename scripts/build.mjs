// Transpiles src/ to dist/ with esbuild: about 0.1 s, no type check (`pnpm typecheck` does that).
import { build as esbuild, stop } from "esbuild"
import { fileURLToPath } from "node:url"

/** Builds, then stops esbuild's helper process so that it does not outlive the build. */
export const build = () =>
  esbuild({
    entryPoints: ["src/**/*.ts"],
    outdir: "dist",
    outbase: ".",
    absWorkingDir: fileURLToPath(new URL("..", import.meta.url)),
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: true,
    logLevel: "warning"
  }).finally(stop)

if (process.argv[1] === fileURLToPath(import.meta.url)) await build()
