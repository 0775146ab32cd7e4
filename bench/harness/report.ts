/**
 * The benchmark's results: a row per (case, server, round), a table with ratios to the raw
 * baseline and to the floor of the design (a bare Effect fiber per connection) measured in the
 * same round, and the issue's targets checked against the same run: each round's ratio, and
 * the median over the rounds.
 */

export interface Row {
  readonly case: string
  readonly server: string
  /** Which round of the interleaved TCP and HTTP cases this row belongs to (the others have one). */
  readonly round?: number
  readonly throughput?: number
  readonly unit?: string
  /** Latency percentiles, ms. */
  readonly p50?: number
  readonly p99?: number
  /** Server CPU (user + system) per message, connection or datagram, µs. */
  readonly cpuPerOp?: number
  /** Resident memory per open connection, KiB. */
  readonly memoryPerConnection?: number
  /** The whole run, start-up included, s (HTTP clients, start-up). */
  readonly seconds?: number
  /** Peak resident memory of the server (or of the client, for HTTP), MB. */
  readonly peakRss?: number
  /** CPU seconds the load generator used: it must not be the one that is saturated. */
  readonly loadCpu?: number
}

/** Each case's baseline: the raw Node server (node:net, or node:tls for TLS), or curl for the HTTP client. */
const isBaseline = (row: Row) => /baseline 1|raw node:dgram|^curl/.test(row.server)
const isFloor = (row: Row) => row.server.includes("(floor)")
const isProject = (row: Row) => row.server.startsWith("effect-net") && !row.server.includes("workers")

const fixed = (value: number | undefined, digits = 1) => value === undefined ? "" : value.toFixed(digits)
const ratio = (value: number | undefined, base: number | undefined) =>
  value === undefined || base === undefined || base === 0 ? "" : `${(value / base).toFixed(2)}x`

const cases = (rows: ReadonlyArray<Row>) => [...new Set(rows.map((row) => row.case))]
const sameRound = (row: Row, other: Row) => row.case === other.case && row.round === other.round
const baselineOf = (rows: ReadonlyArray<Row>, row: Row) => rows.find((other) => sameRound(row, other) && isBaseline(other))
const floorOf = (rows: ReadonlyArray<Row>, row: Row) => rows.find((other) => sameRound(row, other) && isFloor(other))

export const table = (rows: ReadonlyArray<Row>): string => {
  const header = [
    "case",
    "round",
    "server",
    "throughput",
    "vs base",
    "p50 ms",
    "p99 ms",
    "CPU/op µs",
    "CPU vs base",
    "CPU vs floor",
    "KiB/conn",
    "mem vs base",
    "mem vs floor",
    "peak RSS MB",
    "wall s"
  ]
  const lines = [header]
  for (const name of cases(rows)) {
    for (const row of rows.filter((row) => row.case === name)) {
      const base = baselineOf(rows, row)
      const floor = floorOf(rows, row)
      lines.push([
        row.case,
        row.round === undefined ? "" : String(row.round),
        row.server,
        row.throughput === undefined ? "" : `${fixed(row.throughput, 0)} ${row.unit}`,
        ratio(row.throughput, base?.throughput),
        fixed(row.p50, 2),
        fixed(row.p99, 2),
        fixed(row.cpuPerOp),
        ratio(row.cpuPerOp, base?.cpuPerOp),
        ratio(row.cpuPerOp, floor?.cpuPerOp),
        fixed(row.memoryPerConnection),
        ratio(row.memoryPerConnection, base?.memoryPerConnection),
        ratio(row.memoryPerConnection, floor?.memoryPerConnection),
        fixed(row.peakRss, 0),
        fixed(row.seconds, 2)
      ])
    }
  }
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)))
  const format = (line: ReadonlyArray<string>) => `| ${line.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`
  return [format(header), `| ${widths.map((width) => "-".repeat(width)).join(" | ")} |`, ...lines.slice(1).map(format)].join("\n")
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

interface Check {
  readonly target: string
  readonly measured: string
  /** Whether the target is met; `undefined` for a figure shown without a target. */
  readonly met: boolean | undefined
}

/**
 * A ratio target over the rounds: each round's ratio of `row`'s value to its reference in the
 * same round, and the median, which decides (without `met`, a ratio shown only).
 */
const ratioCheck = (
  rows: ReadonlyArray<Row>,
  server: string,
  name: string,
  target: string,
  value: (row: Row) => number | undefined,
  reference: (row: Row) => Row | undefined,
  met?: (ratio: number) => boolean
): Check | undefined => {
  const ratios = rows.filter((row) => row.case === name && row.server === server).flatMap((row) => {
    const mine = value(row)
    const ref = reference(row)
    const theirs = ref === undefined ? undefined : value(ref)
    return mine === undefined || theirs === undefined || theirs === 0 ? [] : [mine / theirs]
  })
  if (ratios.length === 0) return undefined
  const decided = median(ratios)
  const each = ratios.length > 1 ? ` (rounds: ${ratios.map((r) => `${r.toFixed(2)}x`).join(", ")})` : ""
  return { target: `${name}, ${server}: ${target}`, measured: `${decided.toFixed(2)}x${each}`, met: met?.(decided) }
}

/** The issue's targets, each measured against the references of the same run. */
export const targets = (rows: ReadonlyArray<Row>): string => {
  const checks: Array<Check | undefined> = []
  const projects = (name: string) => [...new Set(rows.filter((row) => row.case === name && isProject(row)).map((row) => row.server))]
  const cpu = (row: Row) => row.cpuPerOp
  const memory = (row: Row) => row.memoryPerConnection
  for (const name of cases(rows)) {
    for (const server of projects(name)) {
      const base = (row: Row) => baselineOf(rows, row)
      const floor = (row: Row) => floorOf(rows, row)
      if (name.startsWith("tls ping-pong")) {
        checks.push(ratioCheck(rows, server, name, "CPU/msg <= 1.35x node:tls", cpu, base, (r) => r <= 1.35))
      }
      if (name.startsWith("lp ping-pong")) {
        checks.push(ratioCheck(rows, server, name, "CPU/msg <= 1.2x the bare-fiber floor", cpu, floor, (r) => r <= 1.2))
        checks.push(ratioCheck(rows, server, name, "CPU/msg vs node:net (shown, no target)", cpu, base))
      }
      if (name.startsWith("ping-pong")) {
        const limit = server.includes("line") ? 1.2 : 1.1
        checks.push(ratioCheck(rows, server, name, `CPU/msg <= ${limit}x the bare-fiber floor`, cpu, floor, (r) => r <= limit))
        checks.push(ratioCheck(rows, server, name, "CPU/msg vs node:net (about 1.35x or better)", cpu, base, (r) => r <= 1.35))
      }
      if (name.startsWith("idle")) {
        checks.push(ratioCheck(rows, server, name, "memory/connection <= 2.0x node:net", memory, base, (r) => r <= 2))
      }
      if (name.startsWith("churn")) {
        const limit = server.includes("logs") ? 2.7 : 2
        checks.push(ratioCheck(rows, server, name, `CPU/connection <= ${limit}x node:net`, cpu, base, (r) => r <= limit))
      }
      if (name.startsWith("udp")) {
        checks.push(ratioCheck(rows, server, name, "CPU/datagram <= 1.25x node:dgram", cpu, base, (r) => r <= 1.25))
      }
      if (name.startsWith("http")) {
        checks.push(ratioCheck(rows, server, name, "throughput >= 0.8x curl", (row) => row.throughput, base, (r) => r >= 0.8))
        const peak = Math.max(...rows.filter((row) => row.case === name && row.server === server).map((row) => row.peakRss!))
        checks.push({ target: `${name}, ${server}: peak RSS < 100 MB (the highest of the rounds)`, measured: `${fixed(peak, 0)} MB`, met: peak < 100 })
      }
    }
    if (name === "start-up") {
      for (const row of rows.filter((row) => row.case === name)) {
        checks.push({ target: `start-up, ${row.server}: RSS < 60 MB`, measured: `${fixed(row.peakRss, 0)} MB`, met: row.peakRss! < 60 })
      }
    }
  }
  const shown = checks.filter((check): check is Check => check !== undefined)
  const mark = (check: Check) => check.met === undefined ? "      " : check.met ? "met   " : "MISSED"
  return ["", "targets:", ...shown.map((check) => `  ${mark(check)} ${check.target}: ${check.measured}`)].join("\n")
}

/**
 * `--workers 2` against one worker (the single process, `effect-net raw`), each round and the
 * median: throughput and CPU per message (all the cluster's processes).
 */
export const scaling = (rows: ReadonlyArray<Row>): string => {
  const lines = ["", "--workers 2 against one worker (effect-net raw), same rounds:"]
  for (const name of cases(rows)) {
    for (const server of [...new Set(rows.filter((row) => row.case === name && row.server.includes("workers")).map((row) => row.server))]) {
      const one = (row: Row) => rows.find((other) => sameRound(row, other) && other.server === "effect-net raw")
      const throughput = ratioCheck(rows, server, name, "throughput", (row) => row.throughput, one)
      const cpu = ratioCheck(rows, server, name, "CPU/msg", (row) => row.cpuPerOp, one)
      if (throughput !== undefined && cpu !== undefined) lines.push(`  ${throughput.target}: ${throughput.measured}; CPU/msg ${cpu.measured}`)
    }
  }
  return lines.join("\n")
}
