/**
 * The stop signals: SIGINT, SIGTERM, SIGHUP (its terminal closed) and SIGQUIT. The first
 * interrupts the program, so its scopes close (a server drains its connections, a download
 * removes its temporary file); the second forces the shutdown under way (`ForceShutdown`: the
 * drain stops waiting); a third ends the process at once. Copies of one signal count once.
 */
import { Context, Duration, type Effect } from "effect"

/** Completes on the second signal: a shutdown in progress must stop waiting. */
export class ForceShutdown extends Context.Tag("effect-net/cli/ForceShutdown")<ForceShutdown, Effect.Effect<void>>() {}

const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const

/**
 * Copies of one signal arrive together: a terminal's Ctrl+C reaches every process of its group
 * (pnpm, which passes it on again, the server, its workers), and systemd's stop every process of
 * its unit. A stop signal within this long of the first of a series counts as a copy of it.
 */
export const signalCopyWindow = Duration.seconds(1)

/** What each stop signal that counts does, in turn. */
export interface Steps {
  readonly interrupt: (signal: NodeJS.Signals) => void
  readonly force: () => void
  readonly exit: () => void
}

/** Takes `steps` on the stop signals, copies left out, until the returned function stops listening. */
export const listen = (steps: Steps): (() => void) => {
  /** The signals that counted, copies left out. */
  let signals = 0
  let copies = false
  // A copy the event loop was too busy to hear in time is heard before the window closes: the
  // timer runs, then the signals that came meanwhile, then the immediate that closes it.
  const closeWindow = () => setImmediate(() => (copies = false))
  const onSignal = (signal: NodeJS.Signals) => {
    if (copies) return
    copies = true
    setTimeout(closeWindow, Duration.toMillis(signalCopyWindow)).unref()
    signals++
    if (signals === 1) steps.interrupt(signal)
    else if (signals === 2) steps.force()
    else steps.exit()
  }
  for (const signal of stopSignals) process.on(signal, onSignal)
  return () => {
    for (const signal of stopSignals) process.off(signal, onSignal)
  }
}
