/** The library's routine lines, at the level a program chose (see `Logging.routineLevel`). */
import { Effect, FiberRef } from "effect"
import { routineLevel } from "../logging.js"

/** Logs a routine line at `Logging.routineLevel`. */
export const logRoutine = (message: string): Effect.Effect<void> =>
  Effect.flatMap(FiberRef.get(routineLevel), (level) => Effect.logWithLevel(level, message))
