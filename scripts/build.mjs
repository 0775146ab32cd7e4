// Builds dist/ (no type check of the tests: `pnpm typecheck` does that).
// - The library: tsc emits dist/**/*.js with .d.ts and source maps, for package.json's `exports`.
// - The program: src/cli/effect-net.ts bundled and minified into dist/bin/effect-net.js (the
//   package's `bin`; loading Effect's modules one by one would take seconds to start).
// - The benchmark's programs, bundled into dist/bench, and the example programs (examples/), into
//   dist/examples: neither is part of the package. An example imports `effect-net` as a user
//   does; here the tsconfig's `paths` resolves it to the sources.
// `node scripts/build.mjs bin` builds the program only, `node scripts/build.mjs examples` the
// examples only (what scripts/run.mjs does when a source changed).
import { build, stop } from "esbuild"
import { execFile } from "node:child_process"
import { rmSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const root = fileURLToPath(new URL("..", import.meta.url))
const common = { absWorkingDir: root, platform: "node", format: "esm", target: "node20", bundle: true, logLevel: "warning" }
// Some dependencies are CommonJS and call require(), which an ES module lacks.
const requireShim = "import { createRequire as __createRequire } from \"node:module\"; const require = __createRequire(import.meta.url);"

/**
 * @effect/cli reads flags from ini, toml and yaml files (Options.fileParse), which effect-net
 * does not use: their parsers would be a fifth of the program's size and start-up.
 */
const withoutConfigFileParsers = {
  name: "without-config-file-parsers",
  setup(build) {
    build.onResolve({ filter: /^(ini|toml|yaml)$/ }, (args) => ({ path: args.path, namespace: "unsupported" }))
    build.onLoad({ filter: /.*/, namespace: "unsupported" }, (args) => ({
      contents: `export const parse = () => { throw new Error("effect-net does not read ${args.path} files") }`
    }))
  }
}

/** The `effect-net` program. */
const bin = () =>
  build({
    ...common,
    entryPoints: { "effect-net": "src/cli/effect-net.ts" },
    outdir: "dist/bin",
    // Code loaded only when asked for (the metrics endpoint's HTTP server) in chunks of its own.
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    minify: true,
    sourcemap: "external",
    banner: { js: `#!/usr/bin/env node\n${requireShim}` },
    plugins: [withoutConfigFileParsers]
  })

/** Builds the program only, and lets the process exit afterwards (esbuild's service stops). */
export const buildBin = () => bin().finally(stop)

/** The example programs, by the name scripts/run.mjs runs them as, `dist/examples/NAME.js`. */
export const examples = {
  chat: "examples/chat/server.ts",
  forward: "examples/forward/forward.ts",
  kv: "examples/kv/server.ts",
  "kv-client": "examples/kv/client.ts"
}

const bundleExamples = () =>
  build({
    ...common,
    entryPoints: examples,
    outdir: "dist/examples",
    banner: { js: requireShim }
  })

/** Builds the examples only, and lets the process exit afterwards. */
export const buildExamples = () => bundleExamples().finally(stop)

const buildBench = () =>
  build({
    ...common,
    entryPoints: ["bench/run.ts", "bench/baselines/*.ts", "bench/servers/*.ts", "bench/load/*.ts"],
    outdir: "dist/bench",
    outbase: "bench",
    banner: { js: requireShim }
  })

const tsc = async () => {
  const bin = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  const { stdout } = await promisify(execFile)(process.execPath, [bin, "-p", "tsconfig.build.json"], { cwd: root }).catch((error) => {
    throw new Error(`tsc failed:\n${error.stdout}`)
  })
  process.stdout.write(stdout)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === "bin") await buildBin()
  else if (process.argv[2] === "examples") await buildExamples()
  else {
    // From scratch: a module renamed or removed must not linger in the package.
    rmSync(`${root}/dist`, { recursive: true, force: true })
    await Promise.all([bin(), buildBench(), bundleExamples(), tsc()]).finally(stop)
  }
}
