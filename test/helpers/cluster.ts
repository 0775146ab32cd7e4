/**
 * Watching a `--workers N` server from its primary's log lines (which workers started, with which
 * pid, how many lines of a kind it has logged), and reaching it while its workers come up.
 */
import { Duration, Effect, Schedule } from "effect"
import * as Peer from "./peer.js"
import { ProcessError, type Running } from "./process.js"

/** The pid of each worker now, from the primary's `worker N started/restarted (pid P): URL` lines. */
export const workerPids = (server: Running): Map<number, number> => {
  const pids = new Map<number, number>()
  for (const [, id, pid] of server.stderr().matchAll(/message="worker (\d+) (?:started|restarted) \(pid (\d+)\)/g)) {
    pids.set(Number(id), Number(pid))
  }
  return pids
}

/** Waits until stderr has `count` lines matching `pattern` (global). */
export const stderrLines = (server: Running, pattern: RegExp, count: number) =>
  Effect.suspend(() =>
    [...server.stderr().matchAll(pattern)].length >= count ? Effect.void : Effect.fail(new ProcessError({ message: "not yet" }))
  ).pipe(
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutFail({
      duration: Duration.seconds(20),
      onTimeout: () => new ProcessError({ message: `not ${count} lines matching ${pattern} in:\n${server.stderr()}` })
    })
  )

/** Waits until the primary has said that `count` workers started (or restarted) serving, in all. */
export const startedWorkers = (server: Running, count: number) =>
  stderrLines(server, /message="worker \d+ (?:started|restarted) \(pid \d+\): (?:tcp|udp):\/\//g, count)

/** Connects (again, while the port is refused: a worker is on its way) until welcomed. */
export const welcomed = (port: number) =>
  Effect.retry(
    Effect.tap(Peer.connect(port), (peer) => peer.waitFor("Welcome!", "2 seconds")),
    { schedule: Schedule.spaced("100 millis"), times: 50 }
  )
