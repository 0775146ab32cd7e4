/**
 * The servers the benchmark compares, each started in a process of its own, and how to find the
 * port it listens on.
 */
import { Effect, type Scope } from "effect"
import { freePort, type Running, start } from "./process.js"

export interface Server {
  readonly name: string
  /** Starts it; resolves once it listens, with its port. */
  readonly start: Effect.Effect<Running & { readonly port: number }, unknown, Scope.Scope>
}

// Paths are relative to the repository's root, where `pnpm bench` runs.
const node = process.execPath
const tutorial = (program: string) => `test/fixtures/tutorial/${program}`

/** A server that prints `listening on PROTO://HOST:PORT` once bound (port 0 asked). */
const listening = (name: string, command: ReadonlyArray<string>): Server => ({
  name,
  start: Effect.gen(function*() {
    const running = yield* start(command)
    const [, port] = yield* running.waitFor(/^listening on \w+:\/\/[^\s]*:(\d+)$/m)
    return { ...running, port: Number(port) }
  })
})

/** A tutorial program: bound to a port we chose, ready once it prints `ready`. */
const tutorialServer = (name: string, kind: "tcp" | "udp", program: string, args: ReadonlyArray<string>, ready: RegExp): Server => ({
  name,
  start: Effect.gen(function*() {
    const port = yield* freePort(kind)
    const running = yield* start(["python3", tutorial(program), String(port), ...args])
    yield* running.waitFor(ready)
    return { ...running, port }
  })
})

// Logs off in the project's servers: the baselines do not log either.
const quiet = ["--log-level", "warning"]

export const tcpProject = (framing: "raw" | "line") =>
  listening(`effect-net ${framing}`, [node, "dist/cli/tcp-server.js", "--port", "0", "--delay", "0", "--framing", framing, ...quiet])
export const tcpRaw = listening("node:net (baseline 1)", [node, "dist/bench/baselines/tcp-raw.js", "0"])
export const tcpPlatform = listening("@effect/platform (baseline 2)", [node, "dist/bench/baselines/tcp-platform.js", "0"])
export const tcpPython = tutorialServer("tcp_server.py (baseline 3)", "tcp", "tcp_server.py", ["0"], /Waiting for connection/)
