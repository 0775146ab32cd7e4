/**
 * Child processes for tests: the project's pnpm scripts (run as package.json says, minus the
 * build step that `pnpm test` already did) and the tutorial's Python programs.
 */
import { Data, Deferred, Duration, Effect, Schedule, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../..", import.meta.url))
/** The tutorial's Python programs, vendored from ../shared/tutorial (test/tutorial.test.ts keeps them equal). */
export const tutorial = (program: string) => fileURLToPath(new URL(`../fixtures/tutorial/${program}`, import.meta.url))

const scripts: Record<string, string> = JSON.parse(readFileSync(`${root}/package.json`, "utf8")).scripts

/**
 * The command line of a pnpm script, running the program that test/setup/build.ts built
 * (`scripts/run.mjs NAME` would rebuild it, concurrently with other tests).
 */
export const scriptCommand = (name: string): Array<string> => {
  const script = scripts[name]
  if (script === undefined) throw new Error(`no script ${name} in package.json`)
  const [node, ...args] = script.split(" ")
  const runner = args.indexOf("scripts/run.mjs")
  if (runner !== -1) args.splice(runner, 2, `dist/src/cli/${args[runner + 1]}.js`)
  return [node === "node" ? process.execPath : node!, ...args]
}

export class ProcessError extends Data.TaggedError("ProcessError")<{ readonly message: string }> {}

export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Effect.Effect<number | string>
  /** Waits until stdout has a line matching `pattern`; fails after `timeout`. */
  readonly waitFor: (pattern: RegExp, timeout?: Duration.DurationInput) => Effect.Effect<RegExpMatchArray, ProcessError>
  /** Writes to the process's stdin. */
  readonly send: (text: string) => void
}

/** Starts a process; the scope kills it (SIGKILL) if it is still running. */
export const start = (command: ReadonlyArray<string>, options: { readonly cwd?: string } = {}): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const [file, ...args] = command
      const child = spawn(file!, args, { cwd: options.cwd ?? root, stdio: ["pipe", "pipe", "pipe"] })
      let out = ""
      let err = ""
      const exit = yield* Deferred.make<number | string>()
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
      child.on("close", (code, signal) => Deferred.unsafeDone(exit, Effect.succeed(code ?? signal ?? "unknown")))
      child.on("error", (error) => Deferred.unsafeDone(exit, Effect.succeed(`spawn failed: ${error.message}`)))
      const running: Running = {
        child,
        stdout: () => out,
        stderr: () => err,
        exited: Deferred.await(exit),
        send: (text) => child.stdin.write(text),
        waitFor: (pattern, timeout = Duration.seconds(20)) =>
          Effect.suspend(() => {
            const match = out.match(pattern)
            return match ? Effect.succeed(match) : Effect.fail(new ProcessError({ message: "no match yet" }))
          }).pipe(
            Effect.retry(Schedule.spaced("20 millis")),
            Effect.timeoutFail({
              duration: timeout,
              onTimeout: () =>
                new ProcessError({
                  message: `${command.join(" ")}: no line matching ${pattern} within ${Duration.format(timeout)}\nstdout: ${out}\nstderr: ${err}`
                })
            })
          )
      }
      return running
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

/** Runs a process to completion; fails if it takes longer than `timeout`. */
export const run = (command: ReadonlyArray<string>, timeout: Duration.DurationInput = Duration.seconds(30)) =>
  Effect.scoped(Effect.gen(function*() {
    const running = yield* start(command)
    running.child.stdin?.end()
    const code = yield* running.exited.pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new ProcessError({ message: `${command.join(" ")} did not finish within ${Duration.format(timeout)}` })
      })
    )
    return { code, stdout: running.stdout(), stderr: running.stderr() }
  }))

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

/** The resident memory of a process, in bytes (from /proc). */
export const rss = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = status.match(/^VmRSS:\s+(\d+) kB$/m)
  if (!kb) throw new Error(`no VmRSS for ${pid}`)
  return Number(kb[1]) * 1024
}
