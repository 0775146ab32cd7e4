// Issue 21 item 1: a server run as users run it (under pnpm), signalled as a terminal's Ctrl+C or
// systemd's stop signals it (the whole process group: pnpm, which passes the signal on again, the
// server and its workers). Copies of one signal count once: every reply owed is delivered; a
// second signal sent later still forces.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { pastSignalCopyWindow } from "../helpers/cli.js"
import { startedWorkers, welcomed } from "../helpers/cluster.js"
import { startServerUnderPnpm } from "../helpers/process.js"

const runs = 5
const names = ["Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "Donald", "Niklaus"]

/** The server under pnpm, with `workers` processes, once they all serve. */
const server = (workers: number, ...flags: ReadonlyArray<string>) =>
  Effect.tap(
    startServerUnderPnpm("start:tcp", ["--port", "0", "--workers", String(workers), ...flags]),
    (server) => workers > 1 ? startedWorkers(server, workers) : Effect.void
  )

/** Each name sent on a connection of its own, and read by the server (its reply owed for `--delay`). */
const owed = (port: number) =>
  Effect.gen(function*() {
    const peers = yield* Effect.forEach(names, (name) => Effect.tap(welcomed(port), (peer) => peer.write(name)))
    yield* Effect.sleep("300 millis")
    return peers
  })

/** The `finished` counts of the server's (or its workers') `shutdown: ...` lines, summed; and the forced ones. */
const shutdownCounts = (stderr: string) => {
  const lines = [...stderr.matchAll(/message="shutdown: (\d+) connection\(s\) finished, (\d+) forced closed"/g)]
  return {
    finished: lines.reduce((total, [, finished]) => total + Number(finished), 0),
    forced: lines.reduce((total, [, , forced]) => total + Number(forced), 0)
  }
}

describe("pnpm start:tcp, signals to the whole process group", () => {
  for (const workers of [1, 2]) {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      it.live(`${workers === 1 ? "one process" : `--workers ${workers}`}, ${signal}, ${runs} runs: every owed reply delivered, exit code 0`, () =>
        Effect.forEach(Array.from({ length: runs }, (_, run) => run), (run) =>
          Effect.scoped(Effect.gen(function*() {
            const pnpm = yield* server(workers, "--delay", "1")
            const peers = yield* owed(pnpm.port)
            process.kill(-pnpm.child.pid!, signal)
            const replies = yield* Effect.forEach(peers, (peer) => peer.closed(), { concurrency: "unbounded" })
            expect({ run, replies }).toEqual({ run, replies: names.map((name) => `Welcome!Hello, ${name}!`) })
            expect({ run, code: yield* pnpm.exited }).toEqual({ run, code: 0 })
            expect(shutdownCounts(pnpm.stderr())).toEqual({ finished: names.length, forced: 0 })
          }))), 120_000)
    }

    it.live(`${workers === 1 ? "one process" : `--workers ${workers}`}: a second Ctrl+C, after the copy window, forces the shutdown`, () =>
      Effect.scoped(Effect.gen(function*() {
        const pnpm = yield* server(workers, "--delay", "30", "--shutdown-grace", "60")
        const peers = yield* owed(pnpm.port)
        process.kill(-pnpm.child.pid!, "SIGINT")
        yield* pastSignalCopyWindow
        expect(pnpm.child.exitCode).toBeNull()
        const forced = Date.now()
        process.kill(-pnpm.child.pid!, "SIGINT")
        expect(yield* pnpm.exited).toBe(0)
        expect(Date.now() - forced).toBeLessThan(5000)
        const replies = yield* Effect.forEach(peers, (peer) => peer.closed(), { concurrency: "unbounded" })
        expect(replies).toEqual(names.map(() => "Welcome!"))
        expect(shutdownCounts(pnpm.stderr())).toEqual({ finished: 0, forced: names.length })
      })), 60_000)
  }
})
