/**
 * The last line of defence: an exception or a promise rejection nobody handled (a bug in a
 * callback) is logged, and the program keeps running (a server keeps serving the others).
 */
import { Cause, Effect, type Layer } from "effect"

const logUncaught = (loggerLayer: Layer.Layer<never>, what: string) => (error: unknown) =>
  Effect.runSync(
    Effect.logError(`${what} (a bug, please report it); still running`, Cause.die(error)).pipe(Effect.provide(loggerLayer))
  )

/** Logs what nobody handled with `loggerLayer`, until the returned function stops listening. */
export const logUncaughtErrors = (loggerLayer: Layer.Layer<never>): (() => void) => {
  const onUncaughtException = logUncaught(loggerLayer, "uncaught exception")
  const onUnhandledRejection = logUncaught(loggerLayer, "unhandled promise rejection")
  process.on("uncaughtException", onUncaughtException)
  process.on("unhandledRejection", onUnhandledRejection)
  return () => {
    process.off("uncaughtException", onUncaughtException)
    process.off("unhandledRejection", onUnhandledRejection)
  }
}
