/**
 * The library's log lines. A routine line logs at the level the program chose (see
 * `Logging.routineLevel`); a line about a peer is annotated with it. Both are made only when
 * they would be logged: a server writes several per connection, unseen by default, and the
 * annotation alone costs more than the rest of a connection's end.
 */
import { type Cause, Effect, FiberRef, LogLevel } from "effect"
import { type Address, formatAddress } from "../address.js"
import { routineLevel } from "../logging.js"

/** Logs a routine line at `Logging.routineLevel`. */
export const logRoutine = (message: string): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(routineLevel), (level) => Effect.logWithLevel(level, message))

/**
 * Logs a line about the peer at `address` at `level` (`"routine"`: the routine level), with
 * `cause` if given, annotated `peer=` unless `annotated` is false; `message` gets the peer's name.
 */
export const logAbout = (
  level: LogLevel.LogLevel | "routine",
  address: Address,
  message: (peer: string) => string,
  cause?: Cause.Cause<unknown>,
  annotated = true
): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    const at = level === "routine" ? fiber.getFiberRef(routineLevel) : level
    if (LogLevel.lessThan(at, fiber.getFiberRef(FiberRef.currentMinimumLogLevel))) return Effect.void
    const peer = formatAddress(address)
    const line = cause === undefined ? Effect.logWithLevel(at, message(peer)) : Effect.logWithLevel(at, message(peer), cause)
    return annotated ? Effect.annotateLogs(line, "peer", peer) : line
  })
