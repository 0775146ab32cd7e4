// `--workers N` over real processes: a primary and its node:cluster workers on one port, workers
// killed with SIGKILL and replaced (with a back-off), a graceful drain across workers on a
// signal to the primary or to the whole process group, the metrics summed over the workers.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { availableParallelism } from "node:os"
import { lines, pastSignalCopyWindow, rejectsFlags, udpSummary } from "../helpers/cli.js"
import { startedWorkers, stderrLines, welcomed, workerPids } from "../helpers/cluster.js"
import { sample, scrape } from "../helpers/http.js"
import { hasExited, isRunning, runScript, startServer } from "../helpers/process.js"
import * as UdpPeer from "../helpers/udp-peer.js"

type Server = Effect.Effect.Success<ReturnType<typeof startServer>>

/** One conversation: welcomed, one message answered, then gone. */
const greet = (port: number, name: string) =>
  Effect.scoped(Effect.gen(function*() {
    const peer = yield* welcomed(port)
    yield* peer.write(name)
    yield* peer.waitFor(`Hello, ${name}!`)
    return peer.socket.localPort!
  }))

/** Which worker logged the accept of the client on `clientPort`. */
const servedBy = (server: Server, clientPort: number) =>
  server.waitForStderr(new RegExp(`message="Accept new connection from 127\\.0\\.0\\.1:${clientPort}\\.\\.\\."[^\\n]* worker=(\\d+)`)).pipe(
    Effect.map(([, worker]) => Number(worker))
  )

const tcpWorkers = (workers: number | "auto", ...flags: ReadonlyArray<string>) =>
  Effect.tap(
    startServer("start:tcp", ["--port", "0", "--workers", String(workers), ...flags]),
    (server) => startedWorkers(server, workers === "auto" ? availableParallelism() : workers)
  )

describe("pnpm start:tcp --workers", () => {
  it.scopedLive("two workers on the port 0 picked: one listening line, each serves, log lines say which", () =>
    Effect.gen(function*() {
      const server = yield* tcpWorkers(2, "--delay", "0")
      const served = new Set<number>()
      for (let i = 0; i < 8 && served.size < 2; i++) served.add(yield* servedBy(server, yield* greet(server.port, `client${i}`)))
      expect(served).toEqual(new Set([1, 2]))
      expect(lines(server.stdout())).toEqual([`listening on tcp://127.0.0.1:${server.port}`])
      expect(server.stderr()).toMatch(/message="Connection from 127\.0\.0\.1:\d+ closed\." peer=\S+ worker=[12]\n/)
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
      expect(server.stderr()).toMatch(/message="stopped: 2 worker\(s\) exited"\n$/)
    }))

  it.scopedLive("replaces a worker killed with SIGKILL; with all killed at once, the new ones take the same port", () =>
    Effect.gen(function*() {
      const server = yield* tcpWorkers(2, "--delay", "0")
      const first = workerPids(server)
      process.kill(first.get(1)!, "SIGKILL")
      yield* server.waitForStderr(new RegExp(`message="worker 1 \\(pid ${first.get(1)}\\) was killed by SIGKILL; starting another in 100ms"`))
      yield* server.waitForStderr(/message="worker 1 restarted \(pid \d+\)/)
      yield* greet(server.port, "Ada")
      // Every worker gone: their shared socket is closed, and the next ones must listen on the same port.
      const second = workerPids(server)
      expect(second.get(1)).not.toBe(first.get(1))
      for (const pid of second.values()) process.kill(pid, "SIGKILL")
      yield* startedWorkers(server, 5)
      const served = new Set<number>()
      for (let i = 0; i < 8 && served.size < 2; i++) served.add(yield* servedBy(server, yield* greet(server.port, `again${i}`)))
      expect(served).toEqual(new Set([1, 2]))
      expect(server.stderr()).not.toMatch(/level=WARN[^\n]*listens on/)
      expect(lines(server.stdout())).toHaveLength(1)
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
    }))

  it.scopedLive("a worker that keeps dying is restarted after a back-off that doubles", () =>
    Effect.gen(function*() {
      const server = yield* tcpWorkers(2, "--delay", "0")
      for (const [restarts, delay] of [[1, "100ms"], [2, "200ms"], [3, "400ms"]] as const) {
        const pid = workerPids(server).get(2)!
        process.kill(pid, "SIGKILL")
        yield* server.waitForStderr(new RegExp(`message="worker 2 \\(pid ${pid}\\) was killed by SIGKILL; starting another in ${delay}"`))
        yield* stderrLines(server, /message="worker 2 restarted/g, restarts)
      }
      yield* greet(server.port, "Ada")
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
    }))

  it.scopedLive("a worker stopped with SIGSTOP is killed after the watchdog's 5 s of silence and replaced; new connections are served", () =>
    Effect.gen(function*() {
      const server = yield* tcpWorkers(2, "--delay", "0")
      const pid = workerPids(server).get(1)!
      // Never left stopped behind the test, whatever becomes of its primary.
      yield* Effect.addFinalizer(() => Effect.sync(() => isRunning(pid) && process.kill(pid, "SIGKILL")))
      process.kill(pid, "SIGSTOP")
      const stopped = Date.now()
      yield* server.waitForStderr(
        new RegExp(`level=WARN [^\\n]*message="worker 1 \\(pid ${pid}\\) sent nothing for 5s \\(stopped, or its event loop blocked\\): killing it \\(SIGKILL\\)"`)
      )
      expect(Date.now() - stopped).toBeGreaterThanOrEqual(4000)
      yield* server.waitForStderr(new RegExp(`message="worker 1 \\(pid ${pid}\\) was killed by SIGKILL; starting another in 100ms"`))
      yield* server.waitForStderr(/message="worker 1 restarted \(pid \d+\)/)
      expect(yield* hasExited(pid, "2 seconds")).toBe(true)
      // Both workers serve again: every new connection is answered, in turn by each.
      const served = new Set<number>()
      for (let i = 0; i < 6; i++) served.add(yield* servedBy(server, yield* Effect.timeout(greet(server.port, `after${i}`), "3 seconds")))
      expect(served).toEqual(new Set([1, 2]))
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
    }), 30_000)

  for (const [how, group] of [["SIGTERM to the primary", false], ["SIGINT to the whole process group (Ctrl+C)", true]] as const) {
    it.scopedLive(`${how} drains every worker: each client mid-delay gets its reply, exit 0`, () =>
      Effect.gen(function*() {
        const server = yield* startServer("start:tcp", ["--port", "0", "--workers", "2", "--delay", "1.5"], { group })
        yield* startedWorkers(server, 2)
        const names = ["Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances"]
        const peers = yield* Effect.forEach(names, (name) => Effect.tap(welcomed(server.port), (peer) => peer.write(name)))
        const workers = yield* Effect.forEach(peers, (peer) => servedBy(server, peer.socket.localPort!))
        expect(new Set(workers)).toEqual(new Set([1, 2]))
        yield* Effect.sleep("300 millis")
        if (group) process.kill(-server.child.pid!, "SIGINT")
        else server.child.kill("SIGTERM")
        yield* Effect.forEach(peers, (peer, i) => peer.waitFor(`Welcome!Hello, ${names[i]}!`), { concurrency: "unbounded" })
        yield* Effect.forEach(peers, (peer) => peer.closed(), { concurrency: "unbounded" })
        expect(yield* server.exited).toBe(0)
        const finished = [...server.stderr().matchAll(/message="shutdown: (\d+) connection\(s\) finished, 0 forced closed" worker=\d/g)]
        expect(finished.reduce((total, [, count]) => total + Number(count), 0)).toBe(names.length)
      }))
  }

  it.scopedLive("a second signal forces the workers' shutdown", () =>
    Effect.gen(function*() {
      const server = yield* tcpWorkers(2, "--delay", "30", "--shutdown-grace", "60")
      const peers = yield* Effect.forEach(["Ada", "Grace", "Alan", "Barbara"], (name) => Effect.tap(welcomed(server.port), (peer) => peer.write(name)))
      yield* Effect.sleep("200 millis")
      server.child.kill("SIGTERM")
      yield* server.waitForStderr(/message="stopping 2 worker\(s\)"/)
      yield* stderrLines(server, /message="shutting down: letting/g, 2)
      yield* pastSignalCopyWindow
      const forced = Date.now()
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
      expect(Date.now() - forced).toBeLessThan(10_000)
      yield* Effect.forEach(peers, (peer) => peer.closed(), { discard: true })
      expect(server.stderr()).toMatch(/forced closed" worker=1/)
      expect(server.stderr()).toMatch(/forced closed" worker=2/)
    }))

  it.scopedLive("--metrics-port on the primary serves the sum over the workers, dead ones' counts included", () =>
    Effect.gen(function*() {
      const server = yield* tcpWorkers(2, "--delay", "0", "--metrics-port", "0")
      const served = new Set<number>()
      for (let i = 0; i < 6; i++) served.add(yield* servedBy(server, yield* greet(server.port, `client${i}`)))
      expect(served).toEqual(new Set([1, 2]))
      const before = yield* scrape(server)
      expect(sample(before, "effect_net_tcp_connections_accepted_total")).toBe(6)
      expect(sample(before, "effect_net_messages_received_total")).toBe(6)
      expect(sample(before, "effect_net_messages_sent_total")).toBe(6)
      expect(sample(before, "effect_net_tcp_connections_active")).toBe(0)
      // Three processes' memory: more than one's.
      expect(sample(before, "process_resident_memory_bytes")).toBeGreaterThan(3 * 30 * 1024 * 1024)
      // A worker gone: its counts stay in the sum (as it last reported them), and the new one adds to them.
      const pid = workerPids(server).get(1)!
      process.kill(pid, "SIGKILL")
      yield* server.waitForStderr(/message="worker 1 restarted/)
      yield* greet(server.port, "after")
      const after = yield* scrape(server)
      expect(sample(after, "effect_net_tcp_connections_accepted_total")).toBe(7)
      expect(sample(after, "effect_net_messages_received_total")).toBe(7)
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
    }))

  it.scopedLive("--workers auto starts one worker per CPU", () =>
    Effect.gen(function*() {
      const server = yield* tcpWorkers("auto", "--delay", "0")
      yield* greet(server.port, "Ada")
      expect(workerPids(server).size).toBe(availableParallelism())
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
    }))

  it.scopedLive("a port in use: the worker's error once, from the primary, exit code 1, no restarts", () =>
    Effect.gen(function*() {
      const taken = yield* startServer("start:tcp", ["--port", "0"])
      const { code, stderr } = yield* runScript("start:tcp", ["--port", String(taken.port), "--workers", "2"])
      expect(code).toBe(1)
      const errors = lines(stderr).filter((line) => !line.startsWith("timestamp="))
      expect(errors).toEqual([
        `error: cannot listen on 127.0.0.1:${taken.port}: the address is already in use (EADDRINUSE); stop the other server or choose another --port (0 picks a free one)`
      ])
      expect(lines(stderr).at(-1)).toBe(errors[0])
      // Failing to start is not a crash loop: no worker is replaced.
      expect(stderr).not.toMatch(/level=WARN/)
    }))

  it.scopedLive("--metrics-port in use: one error line from the primary, the workers stopped, exit code 1", () =>
    Effect.gen(function*() {
      const taken = yield* startServer("start:tcp", ["--port", "0"])
      const { code, stderr } = yield* runScript("start:tcp", ["--port", "0", "--workers", "2", "--metrics-port", String(taken.port)])
      expect(code).toBe(1)
      expect(lines(stderr).filter((line) => !line.startsWith("timestamp="))).toEqual([
        `error: cannot listen on 127.0.0.1:${taken.port}: the address is already in use (EADDRINUSE); stop the other server or choose another --metrics-port (0 picks a free one)`
      ])
      expect(stderr).toMatch(/message="stopped: 2 worker\(s\) exited"/)
    }))

  rejectsFlags("start:tcp", [
    [["--worker-watchdog", "1"], "--worker-watchdog must be 0 (off) or at least 2 seconds, got 1"],
    [["--workers", "0"], "--workers must be a number from 1 to 9999, or auto, got 0"],
    [["--workers", "two"], "--workers must be a number from 1 to 9999, or auto, got two"],
    [["--workers", "1.5"], "--workers must be a number from 1 to 9999, or auto, got 1.5"]
  ])
})

describe("pnpm start:udp --workers", () => {
  /** Each worker's last line, `stopped: R datagram(s) received, A answered, D dropped ... worker=N`, as numbers. */
  const workerSummaries = (stderr: string) =>
    lines(stderr).filter((line) => line.includes("datagram(s) received") && / worker=\d+$/.test(line)).map(udpSummary)

  /** Sends `message` from a fresh socket and returns the reply. */
  const ask = (port: number, message: string) =>
    Effect.scoped(Effect.gen(function*() {
      const peer = yield* UdpPeer.open()
      peer.send(message, port)
      return (yield* peer.waitFor(1, 5_000))[0]
    })).pipe(Effect.retry({ times: 3 }))

  it.scopedLive("two workers share the socket of the port 0 picked: one line, replies, a killed worker replaced, metrics summed", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--workers", "2", "--metrics-port", "0"])
      yield* startedWorkers(server, 2)
      expect(lines(server.stdout())[0]).toBe(`listening on udp://127.0.0.1:${server.port}`)
      for (let i = 0; i < 20; i++) expect(yield* ask(server.port, `n${i}`)).toBe(`Hello, n${i}!`)
      expect(sample(yield* scrape(server), "effect_net_udp_datagrams_answered_total")).toBe(20)
      const pid = workerPids(server).get(2)!
      process.kill(pid, "SIGKILL")
      yield* server.waitForStderr(/message="worker 2 restarted/)
      for (const pid of workerPids(server).values()) process.kill(pid, "SIGKILL")
      yield* startedWorkers(server, 5)
      yield* Effect.sleep("300 millis")
      for (let i = 0; i < 10; i++) expect(yield* ask(server.port, `m${i}`)).toBe(`Hello, m${i}!`)
      const metrics = yield* scrape(server)
      expect(sample(metrics, "effect_net_udp_datagrams_answered_total")).toBe(30)
      expect(lines(server.stdout())).toHaveLength(2)
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
    }))

  /** Two workers, `--delay 1`, a datagram `lateN` from each of 8 peers, then SIGTERM while they wait out their delay. */
  const stoppedMidDelay = (...flags: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const server = yield* startServer("start:udp", ["--port", "0", "--workers", "2", "--delay", "1", ...flags])
      yield* startedWorkers(server, 2)
      yield* Effect.sleep("300 millis")
      const peers = yield* Effect.forEach(Array.from({ length: 8 }, (_, i) => i), () => UdpPeer.open())
      peers.forEach((peer, i) => peer.send(`late${i}`, server.port))
      yield* Effect.sleep("300 millis")
      server.child.kill("SIGTERM")
      return { server, peers }
    })

  it.scopedLive("SIGTERM lets every worker's delayed replies go out, exit 0", () =>
    Effect.gen(function*() {
      const { peers, server } = yield* stoppedMidDelay()
      for (const [i, peer] of peers.entries()) expect(yield* peer.waitFor(1)).toEqual([`Hello, late${i}!`])
      expect(yield* server.exited).toBe(0)
      const summaries = workerSummaries(server.stderr())
      expect(summaries).toHaveLength(2)
      expect(summaries.reduce((total, { answered }) => total + answered, 0)).toBe(8)
    }))

  it.scopedLive("the primary's last line sums the workers' counts, as one process's last line says them", () =>
    Effect.gen(function*() {
      // One slot per worker: some datagrams are answered, the others dropped at the shutdown.
      const { server } = yield* stoppedMidDelay("--concurrency", "1")
      expect(yield* server.exited).toBe(0)
      const workers = workerSummaries(server.stderr())
      expect(workers).toHaveLength(2)
      const total = (what: "received" | "answered" | "dropped") => workers.reduce((sum, counts) => sum + counts[what], 0)
      expect(total("received")).toBe(8)
      const last = lines(server.stderr()).at(-1)!
      expect(last).not.toMatch(/ worker=/)
      expect(udpSummary(last)).toEqual({ received: 8, answered: total("answered"), dropped: total("dropped") })
    }))

  rejectsFlags("start:udp", [[["--workers", "0"], "--workers must be a number from 1 to 9999, or auto, got 0"]])
})
