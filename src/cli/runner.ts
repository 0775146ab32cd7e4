/**
 * Runs the `effect-net` program: logging to stderr, its command line checked before @effect/cli
 * parses it, one-line errors with the advice that names flags, exit codes, and signals.
 *
 * Exit codes: 0 on success and on `--help`; 1 when the program fails (one line on stderr, no
 * stack trace), or the error's own `exitCode`; 2 for bad flags; 70 for a bug (with its cause).
 * A stop by SIGINT, SIGTERM, SIGHUP (its terminal closed) or SIGQUIT exits 0 (a server stopping
 * cleanly), or, for a command marked with `exitOnSignal` (a client cut short), 128 + the signal's
 * number, as a shell reports a program a signal killed (130 for Ctrl+C). The first signal
 * interrupts the program, so its scopes close (a server drains its connections, a download
 * removes its temporary file); the second completes `ForceShutdown` (the drain stops waiting); a
 * third ends the process at once. Copies of one signal count once (see `signalCopyWindow`).
 */
import { Command, HelpDoc, ValidationError } from "@effect/cli"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Terminal from "@effect/platform/Terminal"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Cause, type Console, Context, Deferred, Duration, Effect, Exit, FiberId, Layer, Logger, LogLevel, Predicate } from "effect"
import { constants } from "node:os"
import * as Cluster from "../cluster/cluster.js"
import * as Logging from "../logging.js"
import { version } from "../version.js"
import { advise } from "./advice.js"
import * as LogWriter from "./log-writer.js"
import * as Logfmt from "./logfmt.js"
import { preflight, UsageError } from "./preflight.js"

/** Completes on the second signal: a shutdown in progress must stop waiting. */
export class ForceShutdown extends Context.Tag("effect-net/cli/ForceShutdown")<ForceShutdown, Effect.Effect<void>>() {}

/** The signals that stop a program gracefully. */
const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const

/**
 * Copies of one signal arrive together: a terminal's Ctrl+C reaches every process of its group
 * (pnpm, which passes it on again, the server, its workers), and systemd's stop every process of
 * its unit. A stop signal within this long of the first of a series counts as a copy of it.
 */
export const signalCopyWindow = Duration.seconds(1)

/** Whether a stop by a signal is a failure of the command (see `exitOnSignal`). */
let signalIsFailure = false

/** Marks a command whose stop by a signal is a failure: it exits 128 + the signal's number (130 for Ctrl+C). */
export const exitOnSignal = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.zipRight(Effect.sync(() => (signalIsFailure = true)), effect)

/** The first signal received, if any. */
let stoppedBy: NodeJS.Signals | undefined

/** The exit code of a stop by the signal received. */
const signalExitCode = (): number => signalIsFailure && stoppedBy !== undefined ? 128 + constants.signals[stoppedBy] : 0

/** Whether @effect/cli is still parsing: what it prints of a bad command line, the runner says itself. */
let parsing = true

/** Marks the start of a command's own work (everything after a successful parse). */
export const handled = <Name extends string, R, E, A>(command: Command.Command<Name, R, E, A>) =>
  Command.transformHandler(command, (effect) => Effect.zipRight(Effect.sync(() => (parsing = false)), effect))

const ansi = /\x1b\[[0-9;]*[A-Za-z]/g

/** Colour only on a terminal, and never with NO_COLOR (https://no-color.org). */
const colour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""

/** A HelpDoc of @effect/cli as one line of plain text, in plain English. */
const oneLine = (doc: HelpDoc.HelpDoc): string =>
  HelpDoc.toAnsiText(doc).replace(ansi, "").replace(/\s+/g, " ").trim()
    .replace(/\bis not a ([aeiou])/g, "is not an $1")

const defaultConsole = Effect.runSync(Effect.console)

/** Help without colour where there should be none; parse errors left to the runner. */
const programConsole: Console.Console = {
  ...defaultConsole,
  log: (...args) => defaultConsole.log(...(colour ? args : args.map((arg) => typeof arg === "string" ? arg.replace(ansi, "") : arg))),
  error: (...args) => parsing ? Effect.void : defaultConsole.error(...args)
}

/** An error may say which exit code it means (`http-get` exits 4 for a 4xx response, say). */
const ownExitCode = (error: unknown): number | undefined =>
  Predicate.hasProperty(error, "exitCode") && typeof error.exitCode === "number" ? error.exitCode : undefined

const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return signalExitCode()
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") {
    process.stderr.write(`internal error (please report it):\n${Cause.pretty(exit.cause)}\n`)
    return 70
  }
  if (ValidationError.isValidationError(failure.value)) {
    process.stderr.write(`error: ${oneLine(failure.value.error)}\n`)
    return 2
  }
  // A cluster worker's failure is the primary's to tell (see Cluster.run): one line in all.
  if (!Cluster.isWorker) process.stderr.write(`error: ${advise(failure.value)}\n`)
  return ownExitCode(failure.value) ?? 1
}

/** A last line of defence: a bug in a callback is logged, and the server keeps serving the others. */
const logUncaught = (loggerLayer: Layer.Layer<never>, what: string) => (error: unknown) =>
  Effect.runSync(
    Effect.logError(`${what} (a bug, please report it); still running`, Cause.die(error)).pipe(Effect.provide(loggerLayer))
  )

/** For stdout: a closed terminal (EIO) or a reader gone (EPIPE) loses what it shows, nothing more. */
const ignoreOutputError = () => {}

/** Runs `command` (`effect-net` and its subcommands) on this process's command line. */
export const run = <Name extends string, R extends FileSystem.FileSystem | Path.Path | Terminal.Terminal | ForceShutdown, E, A>(
  command: Command.Command<Name, R, E, A>,
  subcommands: ReadonlyArray<Command.Command<any, any, any, any>>
): void => {
  const [node, script, ...args] = process.argv
  let argv: Array<string>
  try {
    argv = [node!, script!, ...preflight(args, subcommands)]
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`error: ${error.message}\n`)
    process.exitCode = 2
    return
  }
  // Logs as logfmt lines on stderr (bounded), leaving stdout to the program's output.
  const log = LogWriter.make(Logfmt.logger)
  const loggerLayer = Logger.replace(Logger.defaultLogger, log.logger)
  const force = Deferred.unsafeMake<void>(FiberId.none)
  const cli = Command.run(command, { name: "effect-net", version })
  const program = cli(argv).pipe(
    Effect.withConsole(programConsole),
    // The program says what the library leaves unsaid by default: accepts, closes, a shutdown's progress.
    Logging.withRoutineLevel(LogLevel.Info),
    // What @effect/cli and the commands use (NodeContext would also load child processes and workers).
    Effect.provide(Layer.mergeAll(
      NodeFileSystem.layer,
      NodePath.layer,
      NodeTerminal.layer,
      loggerLayer,
      Layer.succeed(ForceShutdown, Deferred.await(force))
    ))
  )
  const fiber = Effect.runFork(program as Effect.Effect<void, E | ValidationError.ValidationError>)
  /** The signals that counted, copies left out. */
  let signals = 0
  let copies = false
  // A copy the event loop was too busy to hear in time is heard before the window closes: the
  // timer runs, then the signals that came meanwhile, then the immediate that closes it.
  const closeWindow = () => setImmediate(() => (copies = false))
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy ??= signal
    if (copies) return
    copies = true
    setTimeout(closeWindow, Duration.toMillis(signalCopyWindow)).unref()
    signals++
    if (signals === 1) fiber.unsafeInterruptAsFork(fiber.id())
    else if (signals === 2) Deferred.unsafeDone(force, Exit.void)
    else process.exit(signalExitCode())
  }
  const onUncaughtException = logUncaught(loggerLayer, "uncaught exception")
  const onUnhandledRejection = logUncaught(loggerLayer, "unhandled promise rejection")
  for (const signal of stopSignals) process.on(signal, onSignal)
  process.on("uncaughtException", onUncaughtException)
  process.on("unhandledRejection", onUnhandledRejection)
  // Never an uncaught exception, whose log line would fail the same way, again and again, so that
  // a server whose terminal closed still shuts down (stderr's errors are the log writer's, which
  // counts what it could not write; a command writing its output to stdout sees the error there too).
  process.stdout.on("error", ignoreOutputError)
  fiber.addObserver((exit) => {
    for (const signal of stopSignals) process.off(signal, onSignal)
    process.off("uncaughtException", onUncaughtException)
    process.off("unhandledRejection", onUnhandledRejection)
    process.exitCode = exitCode(exit)
    // The last lines (a shutdown summary) go out if stderr takes them in time: on a stuck pipe,
    // Node would wait for ever. Otherwise let stdout drain and Node exit on its own; a signal
    // means the user wants out now.
    Effect.runCallback(log.flush(LogWriter.defaults.exitFlushTimeout), {
      onExit: (flushed) => {
        if (signals > 0 || !Exit.isSuccess(flushed) || !flushed.value) process.exit()
      }
    })
  })
}
