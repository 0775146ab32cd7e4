/**
 * Runs a command-line program: logging to stderr, exit codes, and signals.
 *
 * Exit codes: 0 on success, on `--help` and on a stop by SIGINT/SIGTERM; 1 when the program
 * fails (one line on stderr, no stack trace); 2 for bad flags; 70 for a bug (with its cause).
 * The first SIGINT/SIGTERM interrupts the program, so its scopes close (sockets, drain); a
 * second one ends the process at once.
 */
import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Cause, Effect, Exit, Layer, Logger } from "effect"

/** Logs as logfmt lines on stderr, leaving stdout to the program's output. */
export const loggerLayer = Logger.replace(Logger.defaultLogger, Logger.withConsoleError(Logger.logfmtLogger))

const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") {
    process.stderr.write(`internal error (please report it):\n${Cause.pretty(exit.cause)}\n`)
    return 70
  }
  // @effect/cli has already printed the problem with the flags.
  if (ValidationError.isValidationError(failure.value)) return 2
  const message = failure.value instanceof Error ? failure.value.message : String(failure.value)
  process.stderr.write(`error: ${message}\n`)
  return 1
}

export const run = <Name extends string, R extends NodeContext.NodeContext, E, A>(
  command: Command.Command<Name, R, E, A>
): void => {
  const cli = Command.run(command, { name: "effect-net", version: "0.1.0" })
  const program = cli(process.argv).pipe(Effect.provide(Layer.merge(NodeContext.layer, loggerLayer)))
  const fiber = Effect.runFork(program as Effect.Effect<void, E | ValidationError.ValidationError>)
  let signalled = false
  const onSignal = () => {
    if (signalled) process.exit(exitCode(Exit.interrupt(fiber.id())))
    signalled = true
    fiber.unsafeInterruptAsFork(fiber.id())
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  fiber.addObserver((exit) => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
    process.exitCode = exitCode(exit)
    // Let stdout drain and Node exit on its own; a signal means the user wants out now.
    if (signalled) process.exit()
  })
}
