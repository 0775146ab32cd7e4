// Transpiles src/ to dist/ with esbuild (about 0.1 s, no type check: `pnpm typecheck`
// does that). The scripts run it before starting, so what runs is always the current source.
import { build } from "esbuild"

await build({
  entryPoints: ["src/**/*.ts"],
  outdir: "dist",
  outbase: ".",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning"
})
