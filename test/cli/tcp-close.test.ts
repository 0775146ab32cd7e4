// Issue 11 item 3: when thousands of idle clients close at once, the server closes its side
// promptly (no socket left in CLOSE_WAIT for seconds) and its memory does not jump.
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { root, rss, start, startServer } from "../helpers/process.js"

const MB = 1024 * 1024
const connections = Number(process.env.CLOSE_TEST_CONNECTIONS ?? 4000)

/** Sockets of the server's port in CLOSE_WAIT (state 08 in /proc/net/tcp): the peer closed, we did not yet. */
const closeWait = (port: number): number => {
  const local = `:${port.toString(16).toUpperCase().padStart(4, "0")}`
  return ["/proc/net/tcp", "/proc/net/tcp6"].flatMap((file) => readFileSync(file, "utf8").split("\n").slice(1))
    .filter((line) => {
      const fields = line.trim().split(/\s+/)
      return fields[1]?.endsWith(local) === true && fields[3] === "08"
    }).length
}

const peakRss = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB$/m)![1]) * 1024

describe("start:tcp closing many connections at once", () => {
  it.scopedLive(`${connections} idle clients closing together, three times: no CLOSE_WAIT left after a second, no memory jump`, () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0"])
      const pid = server.child.pid!
      const rounds: Array<{ readonly closeWaitAfter: number; readonly settledMs: number; readonly rssGrowthMB: number }> = []
      for (let round = 0; round < 3; round++) {
        const clients = yield* start([process.execPath, `${root}dist/bench/load/tcp-idle.js`, String(server.port), String(connections)])
        yield* clients.waitFor(/"open":/, "60 seconds")
        const before = rss(pid)
        writeFileSync(`/proc/${pid}/clear_refs`, "5")
        const closed = Date.now()
        clients.send("done\n")
        yield* clients.exited
        const settled = yield* Effect.suspend(() => closeWait(server.port) === 0 ? Effect.succeed(Date.now() - closed) : Effect.fail("still closing")).pipe(
          Effect.retry(Schedule.spaced("20 millis")),
          Effect.timeout("5 seconds"),
          Effect.orElseSucceed(() => Infinity)
        )
        yield* Effect.sleep("200 millis")
        rounds.push({ closeWaitAfter: closeWait(server.port), settledMs: settled, rssGrowthMB: (peakRss(pid) - before) / MB })
      }
      const worst = { settledMs: Math.max(...rounds.map((r) => r.settledMs)), rssGrowthMB: Math.max(...rounds.map((r) => r.rssGrowthMB)) }
      console.log(`closing ${connections} connections at once, per round: ${JSON.stringify(rounds)}`)
      expect(rounds.map((r) => r.closeWaitAfter)).toEqual([0, 0, 0])
      expect(worst.settledMs).toBeLessThan(1000)
      expect(worst.rssGrowthMB).toBeLessThan(40)
    }), 120_000)
})
