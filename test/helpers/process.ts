/**
 * Child processes for tests: the project's pnpm scripts (run as package.json says, minus the
 * build step that `pnpm test` already did), the tutorial's Python programs, and fixtures bundled
 * into programs of their own.
 */
import { type Duration, Effect } from "effect"
import { build } from "esbuild"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { inject } from "vitest"
import * as Harness from "../../bench/harness/process.js"

export { freePort, ProcessError, rss, type Running } from "../../bench/harness/process.js"

/** The directory programs run in unless a test says otherwise: never the repository. */
export const scratch = inject("scratch")

/** Starts a program (in `scratch` by default); the scope kills it if it is still running. */
export const start = (command: ReadonlyArray<string>, options: Parameters<typeof Harness.start>[1] = {}) =>
  Harness.start(command, { cwd: scratch, ...options })

/** Runs a program to completion (in `scratch`); fails if it takes longer than `timeout`. */
export const run = (command: ReadonlyArray<string>, timeout?: Duration.DurationInput) =>
  Harness.run(command, timeout, { cwd: scratch })

export const root = fileURLToPath(new URL("../..", import.meta.url))
/** The tutorial's Python programs, vendored from ../shared/tutorial (test/tutorial.test.ts keeps them equal). */
export const tutorial = (program: string) => fileURLToPath(new URL(`../fixtures/tutorial/${program}`, import.meta.url))

const scripts: Record<string, string> = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).scripts

/**
 * The command line of a pnpm script, running the program that test/setup/global.ts built
 * (`scripts/run.mjs NAME` would check the sources, and rebuild it if one changed meanwhile).
 */
export const scriptCommand = (name: string): Array<string> => {
  const script = scripts[name]
  if (script === undefined) throw new Error(`no script ${name} in package.json`)
  const [node, ...args] = script.split(" ")
  const runner = args.indexOf("scripts/run.mjs")
  if (runner !== -1) args.splice(runner, 1, `${root}dist/bin/effect-net.js`)
  return [node === "node" ? process.execPath : node!, ...args]
}

/** Starts a pnpm script's program; `args` are its flags. */
export const startScript = (name: string, args: ReadonlyArray<string> = []) => start([...scriptCommand(name), ...args])
export const runScript = (name: string, args: ReadonlyArray<string> = [], timeout?: Duration.DurationInput) =>
  run([...scriptCommand(name), ...args], timeout)

/** Starts a server script and waits for its `listening on PROTO://HOST:PORT` line. */
export const startServer = (name: string, args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const server = yield* startScript(name, args)
    const [, host, port] = yield* server.waitFor(/^listening on \w+:\/\/\[?([^\]\s]+?)\]?:(\d+)$/m)
    return { ...server, host: host!, port: Number(port) }
  })

/**
 * A fixture (a path from the repository's root, e.g. `test/fixtures/uncaught.ts`) bundled into
 * one program in `scratch`, as the real one is; returns its path.
 */
export const bundle = (entryPoint: string) =>
  Effect.promise(async () => {
    const outfile = Path.join(scratch, `${Path.basename(entryPoint, ".ts")}.mjs`)
    await build({
      absWorkingDir: root,
      entryPoints: [entryPoint],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      logLevel: "warning",
      banner: { js: "import { createRequire } from \"node:module\"; const require = createRequire(import.meta.url);" }
    })
    return outfile
  })
