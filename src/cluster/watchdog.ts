/**
 * The primary's watchdog: kills a worker that has sent nothing for too long (stopped, or its event
 * loop blocked), so that its supervisor replaces it as a dead one (see `ClusterOptions.watchdog`).
 */
import { Duration, Effect } from "effect"
import { defaults } from "./options.js"
import type { Slot } from "./slot.js"

/**
 * Resumes in the check phase of this turn of the event loop, after its poll phase: by then the
 * messages that waited while the primary was busy have been read, and a silence is the worker's.
 */
const afterPendingMessages = Effect.async<void>((resume) => {
  const immediate = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(immediate))
})

/**
 * Kills the workers of `slots` silent for `watchdog`, until interrupted; also while they drain: a
 * stuck one would hold the primary's drain for ever.
 */
export const watch = (slots: ReadonlyArray<Slot>, watchdog: Duration.Duration): Effect.Effect<never> =>
  Effect.gen(function*() {
    const limit = Duration.toMillis(watchdog)
    yield* Effect.sleep(Duration.min(defaults.metricsInterval, Duration.millis(limit / 4)))
    yield* afterPendingMessages
    const now = Date.now()
    for (const slot of slots) {
      const worker = slot.process
      if (worker === undefined || slot.silenced || now - slot.heardAt < limit) continue
      slot.silenced = true
      yield* Effect.logWarning(
        `worker ${slot.id} (pid ${worker.process.pid}) sent nothing for ${Duration.format(watchdog)} (stopped, or its event loop blocked): killing it (SIGKILL)`
      )
      worker.process.kill("SIGKILL")
    }
  }).pipe(Effect.forever)
