import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, FiberId, Logger, LogLevel } from "effect"
import * as Logfmt from "../../src/cli/logfmt.js"

type Entry = Logger.Logger.Options<unknown>

/** The entries that `effect` logs, as a logger receives them. */
const entries = (effect: Effect.Effect<void>): Array<Entry> => {
  const captured: Array<Entry> = []
  const capture = Logger.replace(Logger.defaultLogger, Logger.make((entry) => void captured.push(entry)))
  Effect.runSync(effect.pipe(Logger.withMinimumLogLevel(LogLevel.All), Effect.provide(capture)))
  return captured
}

const logged = entries(Effect.gen(function*() {
  yield* Effect.logInfo("Accept new connection from 127.0.0.1:40000...")
  yield* Effect.logInfo("Connection from 127.0.0.1:40000 closed.").pipe(Effect.annotateLogs("peer", "127.0.0.1:40000"))
  yield* Effect.logWarning("spaces, \"quotes\", a=b, \\ and a tab\t")
  yield* Effect.logDebug("")
  yield* Effect.logTrace("é ✓ \u0000 \n")
  yield* Effect.logError("several", { an: ["object"] }, 42, null, undefined, new Error("boom"))
  yield* Effect.logFatal("odd annotations").pipe(
    Effect.annotateLogs({ "a key": "a value", "k=\"": { nested: [1, "two"] }, n: 5, empty: "" })
  )
  // Entries with a cause or a span: Effect's own formatting.
  yield* Effect.logError("crashed", Cause.die(new Error("boom")))
  yield* Effect.logInfo("in a span").pipe(Effect.withLogSpan("a span"))
}))

describe("Logfmt.logger", () => {
  it("formats every entry as Effect's logfmtLogger does, byte for byte", () => {
    expect(logged).toHaveLength(9)
    for (const entry of logged) expect(Logfmt.logger.log(entry)).toBe(Logger.logfmtLogger.log(entry))
  })

  it("names fibers as Effect does: none, composite", () => {
    const entry = logged[0]!
    const ids = [FiberId.none, FiberId.composite(FiberId.make(1, 0), FiberId.make(2, 0)), FiberId.make(12, 0)]
    for (const fiberId of ids) expect(Logfmt.logger.log({ ...entry, fiberId })).toBe(Logger.logfmtLogger.log({ ...entry, fiberId }))
  })

  it("gives each line its own millisecond's timestamp", () => {
    const entry = logged[0]!
    const dates = [0, 0, 1, 999, 1000, 1000, 86_400_000, 1].map((offset) => new Date(Date.UTC(2026, 10, 26) + offset))
    for (const date of dates) expect(Logfmt.logger.log({ ...entry, date })).toBe(Logger.logfmtLogger.log({ ...entry, date }))
  })
})
