/**
 * What the example programs share: a small command line (node:util's `parseArgs`: `--help`, and
 * one `error:` line with exit code 2 for a bad flag), a `main` that runs the program with
 * `NodeRuntime.runMain`: SIGINT or SIGTERM interrupts it, its scopes close (a server drains its
 * connections), and it exits 0 (a second signal ends it at once); a failure is one `error:` line
 * and exit code 1. Log lines (the library's warnings, such as a handler's failure) go to stderr.
 * And `serve`, which says where a server listens once it does.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Data, Effect, Exit, Logger, Option } from "effect"
import { formatAddress, TcpServer } from "effect-net"
import { parseArgs, type ParseArgsConfig } from "node:util"

/** A command line the program refuses (exit code 2). */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** What `parseArgs` makes of a command line with `config`. */
export type Arguments<C extends ParseArgsConfig> = ReturnType<typeof parseArgs<C & { args: Array<string>; strict: true }>>

const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return 0
  const failure = Cause.failureOption(exit.cause)
  if (Option.isNone(failure)) {
    process.stderr.write(`${Cause.pretty(exit.cause)}\n`)
    return 1
  }
  const error = failure.value
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`)
  return error instanceof UsageError ? 2 : 1
}

/**
 * Runs `program` on this process's command line, parsed with `config`; `--help` (or `-h`)
 * anywhere prints `usage` instead.
 */
export const main = <const C extends ParseArgsConfig, E>(
  usage: string,
  config: C,
  program: (args: Arguments<C>) => Effect.Effect<void, E>
): void => {
  const argv = process.argv.slice(2)
  const run = argv.includes("--help") || argv.includes("-h")
    ? Console.log(usage.trim())
    : Effect.flatMap(
      Effect.try({
        try: () => parseArgs({ ...config, args: argv, strict: true }),
        catch: (error) => new UsageError({ message: `${(error as Error).message} (see --help)` })
      }),
      program
    )
  // stdout is the program's output (the `listening on` line, a value); colours only for a terminal.
  const logger = Logger.prettyLogger({ stderr: true, colors: process.stderr.isTTY === true && (process.env.NO_COLOR ?? "") === "" })
  NodeRuntime.runMain(Effect.provide(run, Logger.replace(Logger.defaultLogger, logger)), {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => onExit(exitCode(exit))
  })
}

/**
 * Serves the `TcpListener` with `handler` until interrupted, then drains (see `TcpServer.make`);
 * prints `listening on tcp://HOST:PORT` once it accepts.
 */
export const serve = <E, R>(handler: TcpServer.Handler<E, R>) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* TcpServer.make(handler)
    yield* Console.log(`listening on tcp://${formatAddress(server.address)}`)
    return yield* Effect.never
  }))

/** A port number, `0` for any free one. */
export const port = (flag: string, value: string): Effect.Effect<number, UsageError> =>
  /^\d+$/.test(value) && Number(value) <= 65535
    ? Effect.succeed(Number(value))
    : Effect.fail(new UsageError({ message: `${flag} must be a port number, 0 to 65535, got ${value}` }))

/** A number of seconds, `0` for never. */
export const seconds = (flag: string, value: string): Effect.Effect<number, UsageError> =>
  value.trim() !== "" && Number(value) >= 0
    ? Effect.succeed(Number(value))
    : Effect.fail(new UsageError({ message: `${flag} must be a number of seconds >= 0, got ${value}` }))
