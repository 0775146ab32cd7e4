/**
 * The program's output: colour only on a terminal, and never with NO_COLOR
 * (https://no-color.org); @effect/cli's own report of a bad command line held back, as the
 * runner says it in one line; stdout's errors not fatal.
 */
import { type Console, Effect } from "effect"

const ansi = /\x1b\[[0-9;]*[A-Za-z]/g

/** `text` without its colours and styles. */
export const plain = (text: string): string => text.replace(ansi, "")

const colour = process.stdout.isTTY === true && (process.env.NO_COLOR ?? "") === ""

const defaultConsole = Effect.runSync(Effect.console)

/** Help without colour where there should be none; errors left to the runner while `parsing()`. */
export const programConsole = (parsing: () => boolean): Console.Console => ({
  ...defaultConsole,
  log: (...args) => defaultConsole.log(...(colour ? args : args.map((arg) => typeof arg === "string" ? plain(arg) : arg))),
  error: (...args) => parsing() ? Effect.void : defaultConsole.error(...args)
})

/** For stdout: a closed terminal (EIO) or a reader gone (EPIPE) loses what it shows, nothing more. */
const ignoreOutputError = () => {}

/**
 * Never an uncaught exception, whose log line would fail the same way, again and again, so that
 * a server whose terminal closed still shuts down (stderr's errors are the log writer's, which
 * counts what it could not write; a command writing its output to stdout sees the error there too).
 */
export const ignoreOutputErrors = () => {
  process.stdout.on("error", ignoreOutputError)
}
