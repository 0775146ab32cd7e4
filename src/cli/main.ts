/**
 * Runs a command-line program: logging to stderr, exit codes, and signals.
 *
 * Exit codes: 0 on success and on `--help`; 1 when the program fails (one line on stderr, no
 * stack trace), or the error's own `exitCode`; 2 for bad flags; 70 for a bug (with its cause).
 * A stop by SIGINT/SIGTERM exits 0 (a server stopping cleanly), or `interruptedExitCode`.
 * The first SIGINT/SIGTERM interrupts the program, so its scopes close (a server drains its
 * connections); the second completes `ForceShutdown` (the drain stops waiting); a third ends the
 * process at once.
 */
import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Context, Deferred, Effect, Exit, FiberId, Layer, Logger, Predicate } from "effect"
import { version } from "../version.js"

/** Logs as logfmt lines on stderr, leaving stdout to the program's output. */
export const loggerLayer = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

/** Completes on the second SIGINT/SIGTERM: a shutdown in progress must stop waiting. */
export class ForceShutdown extends Context.Tag("effect-net/cli/ForceShutdown")<ForceShutdown, Effect.Effect<void>>() {}

/** An error may say which exit code it means (`http:get` exits 4 for a 4xx response, say). */
const ownExitCode = (error: unknown): number | undefined =>
  Predicate.hasProperty(error, "exitCode") && typeof error.exitCode === "number" ? error.exitCode : undefined

const exitCode = (exit: Exit.Exit<unknown, unknown>, interrupted: number): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return interrupted
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") {
    process.stderr.write(`internal error (please report it):\n${Cause.pretty(exit.cause)}\n`)
    return 70
  }
  // @effect/cli has already printed the problem with the flags.
  if (ValidationError.isValidationError(failure.value)) return 2
  const message = failure.value instanceof Error ? failure.value.message : String(failure.value)
  process.stderr.write(`error: ${message}\n`)
  return ownExitCode(failure.value) ?? 1
}

/** A last line of defence: a bug in a callback is logged, and the server keeps serving the others. */
const logUncaught = (what: string) => (error: unknown) =>
  Effect.runSync(
    Effect.logError(`${what} (a bug, please report it); still running`, Cause.die(error)).pipe(Effect.provide(loggerLayer))
  )

/**
 * @effect/cli 0.77 only recognises its built-in `--log-level` before the command's own flags;
 * move it there so that it works wherever the user puts it.
 */
const logLevelFirst = (argv: ReadonlyArray<string>): Array<string> => {
  const [node, script, ...args] = argv
  const logLevel: Array<string> = []
  const rest: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg.startsWith("--log-level=")) logLevel.push(arg)
    else if (arg === "--log-level" && i + 1 < args.length) logLevel.push(arg, args[++i]!)
    else rest.push(arg)
  }
  return [node!, script!, ...logLevel, ...rest]
}

export const run = <Name extends string, R extends NodeContext.NodeContext | ForceShutdown, E, A>(
  command: Command.Command<Name, R, E, A>,
  options: {
    /** The exit code of a program stopped by a signal: 0 for a server, 130 for a client cut short. */
    readonly interruptedExitCode?: number
  } = {}
): void => {
  const force = Deferred.unsafeMake<void>(FiberId.none)
  const cli = Command.run(command, { name: "effect-net", version })
  const program = cli(logLevelFirst(process.argv)).pipe(
    Effect.provide(Layer.mergeAll(NodeContext.layer, loggerLayer, Layer.succeed(ForceShutdown, Deferred.await(force))))
  )
  const interrupted = options.interruptedExitCode ?? 0
  const fiber = Effect.runFork(program as Effect.Effect<void, E | ValidationError.ValidationError>)
  let signals = 0
  const onSignal = () => {
    signals++
    if (signals === 1) fiber.unsafeInterruptAsFork(fiber.id())
    else if (signals === 2) Deferred.unsafeDone(force, Exit.void)
    else process.exit(interrupted)
  }
  const onUncaughtException = logUncaught("uncaught exception")
  const onUnhandledRejection = logUncaught("unhandled promise rejection")
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  process.on("uncaughtException", onUncaughtException)
  process.on("unhandledRejection", onUnhandledRejection)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    process.off("uncaughtException", onUncaughtException)
    process.off("unhandledRejection", onUnhandledRejection)
    process.exitCode = exitCode(exit, interrupted)
    // Let stdout drain and Node exit on its own; a signal means the user wants out now.
    if (signals > 0) process.exit()
  })
}
