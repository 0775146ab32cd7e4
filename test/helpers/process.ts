/**
 * Child processes for tests: the project's pnpm scripts (run as package.json says, minus the
 * build step that `pnpm test` already did), the tutorial's Python programs, and fixtures bundled
 * into programs of their own.
 */
import { type Duration, Effect, Schedule } from "effect"
import { build } from "esbuild"
import type { ChildProcess } from "node:child_process"
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

/**
 * Resolves with a process's exit code (or the signal's name) once it has exited, whether or not
 * its output was read (`Running.exited` waits for that too).
 */
export const processExit = (child: ChildProcess) =>
  Effect.async<number | string>((resume) => {
    const done = () => resume(Effect.succeed(child.exitCode ?? child.signalCode ?? "unknown"))
    if (child.exitCode !== null || child.signalCode !== null) return done()
    child.once("exit", done)
    return Effect.sync(() => child.off("exit", done))
  })

/** Runs a program to completion (in `scratch`); fails if it takes longer than `timeout`. */
export const run = (command: ReadonlyArray<string>, timeout?: Duration.DurationInput) =>
  Harness.run(command, timeout, { cwd: scratch })

export const root = fileURLToPath(new URL("../..", import.meta.url))
/** The tutorial's Python programs, vendored from ../shared/tutorial (test/tutorial.test.ts keeps them equal). */
export const tutorial = (program: string) => fileURLToPath(new URL(`../fixtures/tutorial/${program}`, import.meta.url))

const scripts: Record<string, string> = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).scripts

/**
 * The command line of a pnpm script, running the program that test/setup/global.ts built
 * (`scripts/run.mjs NAME` would check the sources, and rebuild it if one changed meanwhile):
 * `effect-net`, or with `--example NAME` the example program NAME.
 */
export const scriptCommand = (name: string): Array<string> => {
  const script = scripts[name]
  if (script === undefined) throw new Error(`no script ${name} in package.json`)
  const [node, ...args] = script.split(" ")
  const runner = args.indexOf("scripts/run.mjs")
  if (runner !== -1 && args[runner + 1] === "--example") args.splice(runner, 3, `${root}dist/examples/${args[runner + 2]}.js`)
  else if (runner !== -1) args.splice(runner, 1, `${root}dist/bin/effect-net.js`)
  return [node === "node" ? process.execPath : node!, ...args]
}

/** Starts a pnpm script's program; `args` are its flags. */
export const startScript = (name: string, args: ReadonlyArray<string> = [], options: Parameters<typeof start>[1] = {}) =>
  start([...scriptCommand(name), ...args], options)
export const runScript = (name: string, args: ReadonlyArray<string> = [], timeout?: Duration.DurationInput) =>
  run([...scriptCommand(name), ...args], timeout)

/** Waits for a server's `listening on PROTO://HOST:PORT` line. */
const listening = (server: Harness.Running) =>
  Effect.map(server.waitFor(/^listening on \w+:\/\/\[?([^\]\s]+?)\]?:(\d+)$/m), ([, host, port]) => ({ ...server, host: host!, port: Number(port) }))

/** Starts a server script and waits for its `listening on PROTO://HOST:PORT` line. */
export const startServer = (name: string, args: ReadonlyArray<string>, options: Parameters<typeof start>[1] = {}) =>
  Effect.flatMap(startScript(name, args, options), listening)

/**
 * Starts a server script through pnpm, as users run it (`pnpm start:tcp ...`), in a process
 * group of its own: a signal to the group reaches pnpm, the program and its workers, as a
 * terminal's Ctrl+C does (and pnpm passes it on). `child` is pnpm, whose exit code is the program's.
 */
export const startServerUnderPnpm = (name: string, args: ReadonlyArray<string>) =>
  Effect.flatMap(start(["pnpm", "--dir", root, name, ...args], { group: true }), listening)


/** Whether process `pid` is still running (a zombie, not yet reaped by whoever inherited it, has exited). */
export const isRunning = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"))
  } catch {
    return false
  }
}

/**
 * Starts a program in a terminal of its own (`script` gives it a pseudo-terminal, its output is
 * the terminal's): killing `terminal` closes that terminal, a hang-up. `pid` is the program's
 * own; the scope kills it if it is still running.
 */
export const startInTerminal = (command: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const terminal = yield* start(["script", "-qefc", `echo pid=$$; exec ${command.join(" ")}`, "/dev/null"])
    const [, pid] = yield* terminal.waitFor(/pid=(\d+)/)
    yield* Effect.addFinalizer(() => Effect.sync(() => isRunning(Number(pid)) && process.kill(Number(pid), "SIGKILL")))
    return { terminal, pid: Number(pid) }
  })

/** Waits until process `pid` has exited: true, or false if it still runs after `timeout`. */
export const hasExited = (pid: number, timeout: Duration.DurationInput) =>
  Effect.suspend(() => isRunning(pid) ? Effect.fail("still running") : Effect.succeed(true)).pipe(
    Effect.retry(Schedule.spaced("50 millis")),
    Effect.timeout(timeout),
    Effect.catchAll(() => Effect.succeed(false))
  )

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
