/**
 * `pnpm bench [--quick]`: runs each server under test in a process of its own, drives it with a
 * load generator in another, and reports throughput, latency, the server's CPU time per
 * operation (from /proc) and its peak RSS, with ratios to the baseline measured in the same run.
 * Prints a table and writes bench/results.json.
 */
import { Command, Options } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import { Console, Effect } from "effect"
import { writeFileSync } from "node:fs"
import { cpuSeconds, peakRss, resetPeakRss, rss, run, type Running, start } from "./harness/process.js"
import * as Servers from "./harness/servers.js"
import { version } from "../src/version.js"
import { type Row, table, targets } from "./harness/report.js"

const MB = 1024 * 1024

/** Runs a load generator to completion and parses the JSON line it prints last. */
const load = (script: string, args: ReadonlyArray<string | number>) =>
  Effect.flatMap(run([process.execPath, `dist/bench/load/${script}`, ...args.map(String)], "10 minutes"), (result) => {
    const last = result.stdout.trim().split("\n").at(-1) ?? ""
    return result.code === 0
      ? Effect.succeed(JSON.parse(last) as Record<string, number>)
      : Effect.fail(new Error(`${script} failed (${result.code}): ${result.stderr}`))
  })

/** The server's CPU seconds and peak RSS over `measured`. */
const measure = <A, E, R>(server: Running, measured: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const pid = server.child.pid!
    resetPeakRss(pid)
    const before = cpuSeconds(pid)
    const result = yield* measured
    return { result, cpu: cpuSeconds(pid) - before, peak: peakRss(pid) }
  })

const pingPong = (server: Servers.Server, framing: "raw" | "line", connections: number, roundTrips: number) =>
  Effect.scoped(Effect.gen(function*() {
    const running = yield* server.start
    yield* load("tcp-pingpong.js", [running.port, Math.min(connections, 50), 100, framing])
    const { cpu, peak, result } = yield* measure(running, load("tcp-pingpong.js", [running.port, connections, roundTrips, framing]))
    return {
      case: `ping-pong ${connections}x${roundTrips}`,
      server: server.name,
      throughput: result.messages! / result.seconds!,
      unit: "msg/s",
      p50: result.p50!,
      p99: result.p99!,
      cpuPerOp: (cpu / result.messages!) * 1e6,
      peakRss: peak / MB,
      loadCpu: result.loadCpu!
    } satisfies Row
  }))

const idle = (server: Servers.Server, connections: number) =>
  Effect.scoped(Effect.gen(function*() {
    const running = yield* server.start
    const pid = running.child.pid!
    const before = rss(pid)
    const clients = yield* start([process.execPath, "dist/bench/load/tcp-idle.js", String(running.port), String(connections)])
    yield* clients.waitFor(/"open":/, "2 minutes")
    yield* Effect.sleep("500 millis")
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

const churn = (server: Servers.Server, total: number, workers: number) =>
  Effect.scoped(Effect.gen(function*() {
    const running = yield* server.start
    yield* load("tcp-churn.js", [running.port, Math.min(total, 200), workers])
    const { cpu, peak, result } = yield* measure(running, load("tcp-churn.js", [running.port, total, workers]))
    return {
      case: `churn ${total} connections`,
      server: server.name,
      throughput: result.connections! / result.seconds!,
      unit: "conn/s",
      cpuPerOp: (cpu / result.connections!) * 1e6,
      peakRss: peak / MB,
      loadCpu: result.loadCpu!
    } satisfies Row
  }))

const command = Command.make("bench", {
  quick: Options.boolean("quick").pipe(Options.withDescription("A smaller run of about 30 s, for a quick look."))
}, ({ quick }) =>
  Effect.gen(function*() {
    const scale = quick ? 0.1 : 1
    const rows: Array<Row> = []
    const add = (row: Row) => Effect.zipRight(Effect.sync(() => rows.push(row)), Console.error(`  ${row.case}: ${row.server} done`))
    const tcpServers = [Servers.tcpRaw, Servers.tcpProject("raw"), Servers.tcpProject("line"), Servers.tcpPlatform, Servers.tcpPython]
    for (const [connections, roundTrips] of [[100, 2000], [1000, 200]] as const) {
      for (const server of tcpServers) {
        const framing = server === tcpServers[2] ? "line" : "raw"
        yield* Effect.flatMap(pingPong(server, framing, connections, Math.round(roundTrips * scale)), add)
      }
    }
    for (const server of [Servers.tcpRaw, Servers.tcpProject("raw"), Servers.tcpPlatform]) {
      yield* Effect.flatMap(idle(server, Math.round(5000 * scale)), add)
    }
    for (const server of [Servers.tcpRaw, Servers.tcpProject("raw"), Servers.tcpPlatform, Servers.tcpPython]) {
      yield* Effect.flatMap(churn(server, Math.round(20000 * scale), 4), add)
    }
    yield* Console.log(table(rows))
    yield* Console.log(targets(rows))
    writeFileSync("bench/results.json", JSON.stringify({ date: new Date().toISOString(), quick, rows }, null, 2) + "\n")
    yield* Console.log("results written to bench/results.json")
  }))

Effect.runPromise(
  Command.run(command, { name: "effect-net bench", version })(process.argv).pipe(Effect.provide(NodeContext.layer))
).catch((error) => {
  console.error(error)
  process.exit(1)
})
