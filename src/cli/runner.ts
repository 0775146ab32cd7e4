/**
 * Runs the `effect-net` program on this process's command line, putting the pieces together:
 * the command line checked first (`preflight`), logging to stderr, the program's console, the
 * stop signals (`signals`), what nobody handled (`uncaught`), and its end told as an exit code and
 * one line (`exit`). Each run owns its state (`RunState`); commands mark themselves with
 * `handled` (parsed: its own work begins) and `exitOnSignal` (a stop by a signal is a failure).
 */
import { Command, type ValidationError } from "@effect/cli"
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as Path from "@effect/platform/Path"
import type * as Terminal from "@effect/platform/Terminal"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as NodeTerminal from "@effect/platform-node/NodeTerminal"
import { Deferred, Effect, Exit, FiberId, Layer, Logger, LogLevel } from "effect"
import * as Logging from "../logging.js"
import { version } from "../version.js"
import { ignoreOutputErrors, programConsole } from "./console.js"
import { exitCode } from "./exit.js"
import * as LogWriter from "./log-writer.js"
import * as Logfmt from "./logfmt.js"
import { preflight, UsageError } from "./preflight.js"
import * as RunState from "./run-state.js"
import { ForceShutdown, listen } from "./signals.js"
import { logUncaughtErrors } from "./uncaught.js"

/** Changes the state of the run this command runs in. */
const update = (change: (state: RunState.State) => void) => Effect.flatMap(RunState.RunState, (state) => Effect.sync(() => change(state)))

/** Marks a command whose stop by a signal is a failure: it exits 128 + the signal's number (130 for Ctrl+C). */
export const exitOnSignal = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | RunState.RunState> =>
  Effect.zipRight(update((state) => (state.signalIsFailure = true)), effect)

/** Marks the start of a command's own work (everything after a successful parse). */
export const handled = <Name extends string, R, E, A>(command: Command.Command<Name, R, E, A>) =>
  Command.transformHandler(command, (effect) => Effect.zipRight(update((state) => (state.parsing = false)), effect))

/** Runs `command` (`effect-net` and its subcommands) on this process's command line. */
export const run = <
  Name extends string,
  R extends FileSystem.FileSystem | Path.Path | Terminal.Terminal | ForceShutdown | RunState.RunState,
  E,
  A
>(
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
  const state = RunState.make()
  // Logs as logfmt lines on stderr (bounded), leaving stdout to the program's output.
  const log = LogWriter.make(Logfmt.logger)
  const loggerLayer = Logger.replace(Logger.defaultLogger, log.logger)
  const force = Deferred.unsafeMake<void>(FiberId.none)
  const cli = Command.run(command, { name: "effect-net", version })
  const program = cli(argv).pipe(
    Effect.withConsole(programConsole(() => state.parsing)),
    // The program says what the library leaves unsaid by default: accepts, closes, a shutdown's progress.
    Logging.withRoutineLevel(LogLevel.Info),
    // What @effect/cli and the commands use (NodeContext would also load child processes and workers).
    Effect.provide(Layer.mergeAll(
      NodeFileSystem.layer,
      NodePath.layer,
      NodeTerminal.layer,
      loggerLayer,
      Layer.succeed(ForceShutdown, Deferred.await(force)),
      Layer.succeed(RunState.RunState, state)
    ))
  )
  const fiber = Effect.runFork(program as Effect.Effect<void, E | ValidationError.ValidationError>)
  const stopListening = listen({
    interrupt: (signal) => {
      state.stoppedBy = signal
      fiber.unsafeInterruptAsFork(fiber.id())
    },
    force: () => Deferred.unsafeDone(force, Exit.void),
    exit: () => process.exit(RunState.signalExitCode(state))
  })
  const stopLogging = logUncaughtErrors(loggerLayer)
  ignoreOutputErrors()
  fiber.addObserver((exit) => {
    stopListening()
    stopLogging()
    process.exitCode = exitCode(exit, RunState.signalExitCode(state))
    // The last lines (a shutdown summary) go out if stderr takes them in time: on a stuck pipe,
    // Node would wait for ever. Otherwise let stdout drain and Node exit on its own; a signal
    // means the user wants out now.
    Effect.runCallback(log.flush(LogWriter.defaults.exitFlushTimeout), {
      onExit: (flushed) => {
        if (state.stoppedBy !== undefined || !Exit.isSuccess(flushed) || !flushed.value) process.exit()
      }
    })
  })
}
