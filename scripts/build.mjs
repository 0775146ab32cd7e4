// Builds what the scripts run, with esbuild (no type check: `pnpm typecheck` does that).
// - The programs (every command that package.json's scripts run through scripts/run.mjs, and
//   the benchmark) are bundled, one file each: they start in about 0.5 s and 80 MB, where
//   loading Effect's modules one by one takes 2 s and 130 MB.
// - The library is transpiled file by file to dist/src, for package.json's `exports`.
import { build, stop } from "esbuild"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const common = { absWorkingDir: root, platform: "node", format: "esm", target: "node20", sourcemap: true, logLevel: "warning" }

/** The commands the scripts run: `scripts/run.mjs NAME` is src/cli/NAME.ts. */
const commands = () => {
  const { scripts } = JSON.parse(readFileSync(`${root}/package.json`, "utf8"))
  return [...new Set(Object.values(scripts).flatMap((script) => [...script.matchAll(/scripts\/run\.mjs ([\w-]+)/g)].map((match) => match[1])))]
}

const bundle = (entryPoints, outdir, outbase) =>
  build({
    ...common,
    entryPoints,
    outdir,
    outbase,
    bundle: true,
    // Some dependencies are CommonJS and call require(), which an ES module lacks.
    banner: { js: "import { createRequire } from \"node:module\"; const require = createRequire(import.meta.url);" }
  })

/** Bundles one command to dist/cli/NAME.js (what scripts/run.mjs runs). */
export const buildCommand = (name) => bundle([`src/cli/${name}.ts`], "dist/cli", "src/cli").finally(stop)

/** Builds everything: the commands, the benchmark, and the library. */
export const buildAll = () =>
  Promise.all([
    bundle(commands().map((name) => `src/cli/${name}.ts`), "dist/cli", "src/cli"),
    bundle(["bench/run.ts", "bench/baselines/*.ts", "bench/load/*.ts"], "dist/bench", "bench"),
    build({ ...common, entryPoints: ["src/**/*.ts"], outdir: "dist/src", outbase: "src" })
  ]).finally(stop)

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildAll()
