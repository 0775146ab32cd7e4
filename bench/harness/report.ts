/**
 * The benchmark's results: a row per (case, server), a table with ratios to each case's
 * baseline, and the targets checked against the same run.
 */

export interface Row {
  readonly case: string
  readonly server: string
  readonly throughput?: number
  readonly unit?: string
  /** Latency percentiles, ms. */
  readonly p50?: number
  readonly p99?: number
  /** Server CPU (user + system) per message, connection or datagram, µs. */
  readonly cpuPerOp?: number
  /** Resident memory per open connection, KiB. */
  readonly memoryPerConnection?: number
  /** The whole run, start-up included, s (HTTP clients). */
  readonly seconds?: number
  /** Peak resident memory of the server (or of the client, for HTTP), MB. */
  readonly peakRss?: number
  /** CPU seconds the load generator used: it must not be the one that is saturated. */
  readonly loadCpu?: number
}

/** Each case's baseline: the raw Node server, or curl for the HTTP client. */
const isBaseline = (row: Row) => /baseline 1|raw node:dgram|^curl/.test(row.server)
const isProject = (row: Row) => row.server.startsWith("effect-net")

const fixed = (value: number | undefined, digits = 1) => value === undefined ? "" : value.toFixed(digits)
const ratio = (value: number | undefined, base: number | undefined) =>
  value === undefined || base === undefined || base === 0 ? "" : `${(value / base).toFixed(2)}x`

const cases = (rows: ReadonlyArray<Row>) => [...new Set(rows.map((row) => row.case))]
const baselineOf = (rows: ReadonlyArray<Row>, name: string) => rows.find((row) => row.case === name && isBaseline(row))

export const table = (rows: ReadonlyArray<Row>): string => {
  const header = [
    "case",
    "server",
    "throughput",
    "vs base",
    "p50 ms",
    "p99 ms",
    "CPU/op µs",
    "CPU vs base",
    "KiB/conn",
    "mem vs base",
    "peak RSS MB",
    "wall s"
  ]
  const lines = [header]
  for (const name of cases(rows)) {
    const base = baselineOf(rows, name)
    for (const row of rows.filter((row) => row.case === name)) {
      lines.push([
        row.case,
        row.server,
        row.throughput === undefined ? "" : `${fixed(row.throughput, 0)} ${row.unit}`,
        ratio(row.throughput, base?.throughput),
        fixed(row.p50, 2),
        fixed(row.p99, 2),
        fixed(row.cpuPerOp),
        ratio(row.cpuPerOp, base?.cpuPerOp),
        fixed(row.memoryPerConnection),
        ratio(row.memoryPerConnection, base?.memoryPerConnection),
        fixed(row.peakRss, 0),
        fixed(row.seconds, 2)
      ])
    }
  }
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)))
  const format = (line: ReadonlyArray<string>) => `| ${line.map((cell, column) => cell.padEnd(widths[column]!)).join(" | ")} |`
  return [format(header), `| ${widths.map((width) => "-".repeat(width)).join(" | ")} |`, ...lines.slice(1).map(format)].join("\n")
}

interface Check {
  readonly target: string
  readonly measured: string
  readonly met: boolean
}

/** The targets, each measured against the baseline of the same run. */
export const targets = (rows: ReadonlyArray<Row>): string => {
  const checks: Array<Check> = []
  for (const name of cases(rows)) {
    const base = baselineOf(rows, name)
    const ours = rows.filter((row) => row.case === name && isProject(row))
    const platform = rows.find((row) => row.case === name && row.server.includes("baseline 2"))
    if (name.startsWith("ping-pong") && base?.cpuPerOp !== undefined) {
      for (const row of ours) {
        const r = row.cpuPerOp! / base.cpuPerOp
        checks.push({ target: `${name}, ${row.server}: CPU/msg <= 1.25x node:net`, measured: `${r.toFixed(2)}x`, met: r <= 1.25 })
        if (platform?.cpuPerOp !== undefined) {
          const better = platform.cpuPerOp / row.cpuPerOp!
          checks.push({
            target: `${name}, ${row.server}: CPU/msg >= 1.5x better than @effect/platform`,
            measured: `${better.toFixed(2)}x better`,
            met: better >= 1.5
          })
        }
      }
    }
    if (name.startsWith("idle") && base?.memoryPerConnection !== undefined) {
      for (const row of ours) {
        const r = row.memoryPerConnection! / base.memoryPerConnection
        checks.push({ target: `${name}, ${row.server}: memory/connection <= 2x node:net`, measured: `${r.toFixed(2)}x`, met: r <= 2 })
      }
    }
    if (name.startsWith("udp") && base?.cpuPerOp !== undefined) {
      for (const row of ours) {
        const r = row.cpuPerOp! / base.cpuPerOp
        checks.push({ target: `${name}, ${row.server}: CPU/datagram <= 1.25x node:dgram`, measured: `${r.toFixed(2)}x`, met: r <= 1.25 })
      }
    }
    if (name.startsWith("http") && base?.throughput !== undefined) {
      for (const row of ours) {
        const r = row.throughput! / base.throughput
        checks.push({ target: `${name}, ${row.server}: throughput >= 0.8x curl`, measured: `${r.toFixed(2)}x`, met: r >= 0.8 })
        checks.push({
          target: `${name}, ${row.server}: peak RSS < 100 MB`,
          measured: `${row.peakRss!.toFixed(0)} MB`,
          met: row.peakRss! < 100
        })
      }
    }
  }
  return ["", "targets:", ...checks.map((check) => `  ${check.met ? "met   " : "MISSED"} ${check.target}: ${check.measured}`)].join("\n")
}
