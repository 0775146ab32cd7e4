/**
 * `pnpm bench [--quick]`: runs each server under test in a process of its own, drives it with a
 * load generator in another, and reports throughput, latency, the server's CPU time per
 * operation (from /proc) and its peak RSS, with ratios to the baseline measured in the same run.
 * Prints a table and the targets, and writes bench/results.json. See bench/README.md.
 */
import { Command, Options } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Console, Effect, Fiber, Option, Schedule } from "effect"
import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { version } from "../src/version.js"
import {
  cpuSeconds,
  peakRss,
  resetTreePeakRss,
  rss,
  run,
  type Running,
  start,
  treeCpuSeconds,
  treePeakRss
} from "./harness/process.js"
import { type Row, scaling, table, targets } from "./harness/report.js"
import * as Servers from "./harness/servers.js"

const MB = 1024 * 1024

/** Runs a load generator (on the load CPU) to completion; the JSON line it prints last. */
const load = (script: string, args: ReadonlyArray<string | number>) =>
  Effect.flatMap(
    run(Servers.pinned(1, [process.execPath, `dist/bench/load/${script}`, ...args.map(String)]), "10 minutes"),
    (result) => {
      const last = result.stdout.trim().split("\n").at(-1) ?? ""
      return result.code === 0
        ? Effect.succeed(JSON.parse(last) as Record<string, number>)
        : Effect.fail(new Error(`${script} failed (${result.code}): ${result.stderr}`))
    }
  )

/** The server's CPU seconds and peak RSS over `measured`; of all its processes, for one with workers. */
const measure = <A, E, R>(server: Running, measured: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const pid = server.child.pid!
    resetTreePeakRss(pid)
    const before = treeCpuSeconds(pid)
    const result = yield* measured
    return { result, cpu: treeCpuSeconds(pid) - before, peak: treePeakRss(pid) }
  })

/**
 * Starts `server`, warms it up with one run of the load generator `script` (the JIT compiles the
 * hot path), then measures another: a row of throughput and CPU per operation, where the
 * generator reports `count` operations (of `unit`) in `seconds`.
 */
const loadCase = (
  name: string,
  server: Servers.Server,
  script: string,
  args: { readonly warmUp: ReadonlyArray<string | number>; readonly measured: ReadonlyArray<string | number> },
  count: string,
  unit: string
) =>
  Effect.scoped(Effect.gen(function*() {
    const running = yield* server.start
    yield* load(script, [running.port, ...args.warmUp])
    const { cpu, peak, result } = yield* measure(running, load(script, [running.port, ...args.measured]))
    return {
      case: name,
      server: server.name,
      throughput: result[count]! / result.seconds!,
      unit,
      p50: result.p50,
      p99: result.p99,
      cpuPerOp: (cpu / result[count]!) * 1e6,
      peakRss: peak / MB,
      loadCpu: result.loadCpu!
    } satisfies Row
  }))

const pingPong = (server: Servers.Server, framing: "raw" | "line" | "lp", connections: number, roundTrips: number, tls = false) =>
  loadCase(`${tls ? "tls " : ""}${framing === "lp" ? "lp " : ""}ping-pong ${connections}x${roundTrips}`, server, "tcp-pingpong.js", {
    warmUp: [100, Math.max(20, Math.round(roundTrips * connections / 500)), framing, ...(tls ? ["tls"] : [])],
    measured: [connections, roundTrips, framing, ...(tls ? ["tls"] : [])]
  }, "messages", "msg/s")

const idle = (server: Servers.Server, connections: number) =>
  Effect.scoped(Effect.gen(function*() {
    const running = yield* server.start
    const pid = running.child.pid!
    yield* load("tcp-pingpong.js", [running.port, 10, 10, "raw"])
    const before = rss(pid)
    const clients = yield* start(Servers.pinned(1, [process.execPath, "dist/bench/load/tcp-idle.js", String(running.port), String(connections)]))
    yield* clients.waitFor(/"open":/, "2 minutes")
    yield* Effect.sleep("1 second")
    const after = rss(pid)
    clients.send("done\n")
    yield* clients.exited
    return {
      case: `idle ${connections} connections`,
      server: server.name,
      memoryPerConnection: (after - before) / connections / 1024,
      peakRss: after / MB
    } satisfies Row
  }))

// Four at a time: the tutorial's server listens with a backlog of 5.
const churn = (server: Servers.Server, total: number) =>
  loadCase(`churn ${total} connections`, server, "tcp-churn.js", {
    warmUp: [Math.min(total, 500), 4],
    measured: [total, 4]
  }, "connections", "conn/s")

const udp = (server: Servers.Server, total: number) =>
  loadCase(`udp ${total} datagrams`, server, "udp-flood.js", {
    warmUp: [4, 32, Math.round(total / 5)],
    measured: [4, 32, total]
  }, "datagrams", "dgram/s")

const installed = (program: string) => {
  try {
    execFileSync(program, ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** The transfer times the HTTP source has reported, in order. */
const transfers = (source: Running): Array<number> =>
  source.stdout().split("\n").filter((line) => line.startsWith("{\"seconds\"")).map((line) => JSON.parse(line).seconds)

/**
 * Downloads the source's body with `client`: the transfer's throughput (as the source saw it,
 * without the client's start-up), the whole run's wall time, the client's CPU and peak RSS.
 */
const download = (client: Servers.HttpClient, source: Running, url: URL, bytes: number) =>
  Effect.scoped(Effect.gen(function*() {
    const done = transfers(source).length
    const started = Date.now()
    const running = yield* start(Servers.pinned(1, client.command(url)))
    const pid = running.child.pid!
    let peak = 0
    let cpu = 0
    const sample = Effect.sync(() => {
      try {
        peak = Math.max(peak, peakRss(pid))
        cpu = cpuSeconds(pid)
      } catch {
        // Gone between samples: the last ones stand.
      }
    })
    const sampler = yield* Effect.fork(Effect.repeat(sample, Schedule.spaced("10 millis")))
    const code = yield* running.exited
    yield* Fiber.interrupt(sampler)
    const wall = (Date.now() - started) / 1000
    if (code !== 0) return yield* Effect.fail(new Error(`${client.name} failed (${code}): ${running.stderr()}`))
    // The source reports the transfer when its last byte is taken: just before the client's exit.
    yield* Effect.repeat(Effect.sync(() => transfers(source).length), {
      until: (count) => count > done,
      schedule: Schedule.spaced("10 millis")
    }).pipe(Effect.timeout("5 seconds"))
    const transfer = transfers(source)[done]!
    return {
      case: `http GET ${bytes / MB} MiB`,
      server: client.name,
      throughput: bytes / MB / transfer,
      unit: "MiB/s",
      seconds: wall,
      cpuPerOp: (cpu / (bytes / MB)) * 1e6,
      peakRss: peak / MB
    } satisfies Row
  }))

const http = (bytes: number) =>
  Effect.scoped(Effect.gen(function*() {
    const source = yield* Servers.httpSource(bytes).start
    const url = new URL(`http://127.0.0.1:${source.port}/big`)
    const rows: Array<Row> = []
    for (const client of Servers.httpClients) {
      if (client.name === "curl" && !installed("curl")) continue
      rows.push(yield* download(client, source, url, bytes))
    }
    return rows
  }))

/**
 * Start-up of each command: `effect-net SUBCOMMAND --help` (its peak RSS and wall time), and
 * the servers once they listen (their RSS then: what a server costs before any client).
 */
const startup = Effect.gen(function*() {
  const rows: Array<Row> = []
  for (const subcommand of ["tcp-server", "tcp-client", "udp-server", "udp-client", "http-get"]) {
    const started = Date.now()
    const running = yield* start([process.execPath, "dist/bin/effect-net.js", subcommand, "--help"])
    const pid = running.child.pid!
    let peak = 0
    const sampler = yield* Effect.fork(Effect.repeat(Effect.sync(() => {
      try {
        peak = Math.max(peak, peakRss(pid))
      } catch {
        // Gone between samples: the last one stands.
      }
    }), Schedule.spaced("5 millis")))
    yield* running.exited
    yield* Fiber.interrupt(sampler)
    rows.push({ case: "start-up", server: `${subcommand} --help`, seconds: (Date.now() - started) / 1000, peakRss: peak / MB })
  }
  for (const server of [Servers.tcpProject("raw"), Servers.udpProject]) {
    rows.push(yield* Effect.scoped(Effect.map(server.start, (running) => ({
      case: "start-up",
      server: `${server.name} listening`,
      peakRss: peakRss(running.child.pid!) / MB
    }))))
  }
  return rows
})

const command = Command.make("bench", {
  quick: Options.boolean("quick").pipe(Options.withDescription("A smaller run of about a minute, for a quick look.")),
  rounds: Options.integer("rounds").pipe(
    Options.withDescription("Rounds of the TCP and HTTP cases, each measuring every server (client) in turn (default 3)."),
    Options.withDefault(3)
  ),
  only: Options.text("only").pipe(
    Options.withDescription("Run only the cases whose kind is one of these, comma-separated: ping-pong, lp, tls, idle, churn, udp, http, start-up."),
    Options.optional
  )
}, ({ only, quick, rounds }) =>
  Effect.gen(function*() {
    const scale = quick ? 0.05 : 1
    const rows: Array<Row> = []
    const add = (row: Row) => Effect.zipRight(Effect.sync(() => rows.push(row)), Console.error(`  ${row.case}: ${row.server}`))
    const kinds = Option.map(only, (kinds) => kinds.split(","))
    const runs = (kind: string) => Option.match(kinds, { onNone: () => true, onSome: (kinds) => kinds.includes(kind) })
    const tcp = [
      Servers.tcpRaw,
      Servers.tcpFiber,
      Servers.tcpProject("raw"),
      Servers.tcpProject("line"),
      Servers.tcpPlatform,
      Servers.tcpPython,
      Servers.tcpProjectWorkers("0,1"),
      Servers.tcpProjectWorkers("0")
    ]
    // Interleaved rounds: the machine's drift shows in every server alike.
    for (let round = 1; round <= rounds; round++) {
      const inRound = (row: Row): Row => ({ ...row, round })
      for (const [connections, roundTrips] of [[100, 2000], [1000, 200]] as const) {
        if (!runs("ping-pong")) break
        for (const server of tcp) {
          const framing = server === tcp[3] ? "line" : "raw"
          yield* Effect.flatMap(pingPong(server, framing, connections, Math.round(roundTrips * scale)), (row) => add(inRound(row)))
        }
      }
      // Length-prefixed frames: effect-net's lengthPrefixed against the same protocol on node:net and on a bare fiber.
      for (const server of runs("lp") ? [Servers.lpRaw, Servers.lpFiber, Servers.lpProject] : []) {
        yield* Effect.flatMap(pingPong(server, "lp", 100, Math.round(2000 * scale)), (row) => add(inRound(row)))
      }
      // TLS: effect-net against node:tls, both with the test certificate.
      for (const server of runs("tls") ? [Servers.tlsRaw, Servers.tlsProject] : []) {
        yield* Effect.flatMap(pingPong(server, "raw", 100, Math.round(2000 * scale), true), (row) => add(inRound(row)))
      }
      for (const server of runs("idle") ? [Servers.tcpRaw, Servers.tcpFiber, Servers.tcpProject("raw"), Servers.tcpPlatform] : []) {
        yield* Effect.flatMap(idle(server, Math.round(5000 * scale)), (row) => add(inRound(row)))
      }
      const churned = [Servers.tcpRaw, Servers.tcpFiber, Servers.tcpProject("raw"), Servers.tcpProjectLogging, Servers.tcpPlatform, Servers.tcpPython]
      for (const server of runs("churn") ? churned : []) {
        yield* Effect.flatMap(churn(server, Math.round(10000 * scale)), (row) => add(inRound(row)))
      }
      // curl's own throughput moves by 3x from run to run here: each round compares it with the others anew.
      if (runs("http")) for (const row of yield* http(quick ? 64 * MB : 1024 * MB)) yield* add(inRound(row))
    }
    for (const server of runs("udp") ? [Servers.udpRaw, Servers.udpProject, Servers.udpPython] : []) {
      yield* Effect.flatMap(udp(server, Math.round(200_000 * scale)), add)
    }
    if (runs("start-up")) for (const row of yield* Effect.scoped(startup)) yield* add(row)

    yield* Console.log(table(rows))
    yield* Console.log(targets(rows))
    yield* Console.log(scaling(rows))
    writeFileSync("bench/results.json", JSON.stringify({ date: new Date().toISOString(), quick, rounds, rows }, null, 2) + "\n")
    yield* Console.log("\nresults written to bench/results.json")
  }))

Effect.runPromise(
  Command.run(command, { name: "effect-net bench", version })(process.argv).pipe(Effect.provide(NodeContext.layer))
).catch((error) => {
  console.error(error)
  process.exit(1)
})
