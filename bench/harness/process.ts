/**
 * Child processes for the benchmark and the tests: start one in a scope, wait for a line it
 * prints, run one to completion, and read its CPU time and memory from /proc (Linux).
 */
import { Data, Deferred, Duration, Effect, Schedule, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Dgram from "node:dgram"
import { readFileSync, writeFileSync } from "node:fs"
import * as Net from "node:net"

export class ProcessError extends Data.TaggedError("ProcessError")<{ readonly message: string }> {}

export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Starts reading stderr, for a process started with `stderrUnread` (a no-op otherwise). */
  readonly readStderr: () => void
  /**
   * Resolves with the exit code (or the signal's name) once the process has exited and its output
   * is read to the end (with `stderrUnread`, not before `readStderr`).
   */
  readonly exited: Effect.Effect<number | string>
  /** Waits until stdout has a line matching `pattern`; fails after `timeout`. */
  readonly waitFor: (pattern: RegExp, timeout?: Duration.DurationInput) => Effect.Effect<RegExpMatchArray, ProcessError>
  /** Waits until stderr has a line matching `pattern`; fails after `timeout`. */
  readonly waitForStderr: (pattern: RegExp, timeout?: Duration.DurationInput) => Effect.Effect<RegExpMatchArray, ProcessError>
  /** Writes to the process's stdin. */
  readonly send: (text: string) => void
}

export interface StartOptions {
  readonly cwd?: string | undefined
  readonly env?: Record<string, string> | undefined
  /**
   * Start it in a process group of its own, and let the scope kill the whole group: for a
   * program that runs the real one as a child (npx, a shell) and would leave it behind.
   */
  readonly group?: boolean | undefined
  /** Nothing reads its stderr until `readStderr` (a stuck log collector): once the pipe is full, its writes to stderr wait. */
  readonly stderrUnread?: boolean | undefined
}

/** Starts a process; the scope kills it (SIGKILL) if it is still running. */
export const start = (command: ReadonlyArray<string>, options: StartOptions = {}): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const [file, ...args] = command
      const env = options.env === undefined ? process.env : { ...process.env, ...options.env }
      const child = spawn(file!, args, { cwd: options.cwd, env, stdio: ["pipe", "pipe", "pipe"], detached: options.group === true })
      let out = ""
      let err = ""
      const exit = yield* Deferred.make<number | string>()
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk))
      const readStderr = () => {
        if (child.stderr.listenerCount("data") === 0) child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
      }
      if (options.stderrUnread !== true) readStderr()
      child.on("close", (code, signal) => Deferred.unsafeDone(exit, Effect.succeed(code ?? signal ?? "unknown")))
      child.on("error", (error) => Deferred.unsafeDone(exit, Effect.succeed(`spawn failed: ${error.message}`)))
      const waitFor = (output: () => string, name: string) => (pattern: RegExp, timeout: Duration.DurationInput = Duration.seconds(20)) =>
        Effect.suspend(() => {
          const match = output().match(pattern)
          return match ? Effect.succeed(match) : Effect.fail(new ProcessError({ message: "no match yet" }))
        }).pipe(
          Effect.retry(Schedule.spaced("20 millis")),
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new ProcessError({
                message: `${command.join(" ")}: no line matching ${pattern} on ${name} within ${Duration.format(timeout)}\nstdout: ${out}\nstderr: ${err}`
              })
          })
        )
      const running: Running = {
        child,
        stdout: () => out,
        stderr: () => err,
        readStderr,
        exited: Deferred.await(exit),
        send: (text) => child.stdin.write(text),
        waitFor: waitFor(() => out, "stdout"),
        waitForStderr: waitFor(() => err, "stderr")
      }
      return running
    }),
    ({ child }) =>
      Effect.sync(() => {
        if (options.group === true) {
          try {
            process.kill(-child.pid!, "SIGKILL")
          } catch {
            // The group is gone already.
          }
        } else if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  )

/** Runs a process to completion; fails if it takes longer than `timeout`. */
export const run = (
  command: ReadonlyArray<string>,
  timeout: Duration.DurationInput = Duration.seconds(30),
  options: { readonly cwd?: string } = {}
) =>
  Effect.scoped(Effect.gen(function*() {
    const running = yield* start(command, options)
    running.child.stdin?.end()
    const code = yield* running.exited.pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new ProcessError({ message: `${command.join(" ")} did not finish within ${Duration.format(timeout)}` })
      })
    )
    return { code, stdout: running.stdout(), stderr: running.stderr() }
  }))

/** The resident memory of a process, in bytes (from /proc). */
export const rss = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kb = status.match(/^VmRSS:\s+(\d+) kB$/m)
  if (!kb) throw new Error(`no VmRSS for ${pid}`)
  return Number(kb[1]) * 1024
}

/** Linux's clock ticks per second for /proc/PID/stat times (`getconf CLK_TCK`). */
const ticksPerSecond = 100

/** User + system CPU seconds a process has used so far. */
export const cpuSeconds = (pid: number): number => {
  // Fields after the command name (which may hold spaces) start at ")": utime is 14th, stime 15th.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** The peak resident memory of a process, in bytes, since it started or since `resetPeakRss`. */
export const peakRss = (pid: number): number => {
  const kb = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB$/m)
  if (!kb) throw new Error(`no VmHWM for ${pid}`)
  return Number(kb[1]) * 1024
}

/** Starts measuring the peak resident memory afresh (writes 5 to /proc/PID/clear_refs). */
export const resetPeakRss = (pid: number): void => writeFileSync(`/proc/${pid}/clear_refs`, "5")

/** A process and its descendants (a cluster's primary and its workers), from /proc. */
export const processTree = (pid: number): Array<number> => {
  const children = (() => {
    try {
      return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(" ").filter((child) => child !== "")
    } catch {
      return []
    }
  })()
  return [pid, ...children.flatMap((child) => processTree(Number(child)))]
}

/** `cpuSeconds` summed over a process and its descendants alive now. */
export const treeCpuSeconds = (pid: number): number =>
  processTree(pid).reduce((total, process) => {
    try {
      return total + cpuSeconds(process)
    } catch {
      return total
    }
  }, 0)

/** `peakRss` summed over a process and its descendants (each one's own peak). */
export const treePeakRss = (pid: number): number => processTree(pid).reduce((total, process) => total + peakRss(process), 0)

/** `resetPeakRss` of a process and its descendants. */
export const resetTreePeakRss = (pid: number): void => processTree(pid).forEach(resetPeakRss)

/** A port free a moment ago, for the tutorial's servers (they cannot bind port 0 and say which). */
export const freePort = (kind: "tcp" | "udp" = "tcp") =>
  Effect.async<number>((resume) => {
    if (kind === "udp") {
      const socket = Dgram.createSocket("udp4")
      socket.bind(0, "127.0.0.1", () => {
        const { port } = socket.address()
        socket.close(() => resume(Effect.succeed(port)))
      })
      return
    }
    const server = Net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resume(Effect.succeed(port)))
    })
  })
