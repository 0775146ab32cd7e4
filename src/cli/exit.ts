/**
 * How the program's end is told: its exit code, and a failure's one line on stderr, without a
 * stack trace. 0 on success and on `--help`; 2 for bad flags; 1 when the program fails, or the
 * error's own `exitCode`; 70 for a bug, with its cause; a stop by a signal as `signalExitCode`.
 */
import { HelpDoc, ValidationError } from "@effect/cli"
import { Cause, Exit, Predicate } from "effect"
import * as Cluster from "../cluster/cluster.js"
import { advise } from "./advice.js"
import { plain } from "./console.js"

/** A HelpDoc of @effect/cli as one line of plain text, in plain English. */
const oneLine = (doc: HelpDoc.HelpDoc): string =>
  plain(HelpDoc.toAnsiText(doc)).replace(/\s+/g, " ").trim()
    .replace(/\bis not a ([aeiou])/g, "is not an $1")

/** An error may say which exit code it means (`http-get` exits 4 for a 4xx response, say). */
const ownExitCode = (error: unknown): number | undefined =>
  Predicate.hasProperty(error, "exitCode") && typeof error.exitCode === "number" ? error.exitCode : undefined

/** The exit code of a program that ended with `exit`, once its error line is written; `stopped` is that of a stop by a signal. */
export const exitCode = (exit: Exit.Exit<unknown, unknown>, stopped: number): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.isInterruptedOnly(exit.cause)) return stopped
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
