/**
 * What one run of the program learns as it goes: `run` makes it, provides it to the commands as
 * `RunState`, and reads it when a signal comes and when the program ends. Owned by that run, so
 * that nothing at module level changes while a program runs.
 */
import { Context } from "effect"
import { constants } from "node:os"

export interface State {
  /** @effect/cli is still parsing: what it prints of a bad command line, the runner says itself. */
  parsing: boolean
  /** A stop by a signal is a failure of the command (see `exitOnSignal`). */
  signalIsFailure: boolean
  /** The first stop signal received, if any. */
  stoppedBy: NodeJS.Signals | undefined
}

/** The run of the program a command runs in. */
export class RunState extends Context.Tag("effect-net/cli/RunState")<RunState, State>() {}

/** The state of a run that has just begun: parsing, not stopped. */
export const make = (): State => ({ parsing: true, signalIsFailure: false, stoppedBy: undefined })

/**
 * The exit code of a stop by the signal received: 0 (a server stopping cleanly), or, for a
 * command whose stop is a failure, 128 + the signal's number, as a shell reports a program a
 * signal killed (130 for Ctrl+C).
 */
export const signalExitCode = (state: State): number =>
  state.signalIsFailure && state.stoppedBy !== undefined ? 128 + constants.signals[state.stoppedBy] : 0
