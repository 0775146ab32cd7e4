// Cluster.run over real processes: the README's program (a protocol of its own in two workers),
// bundled as a program is, and a cluster whose workers cannot start.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import { lines } from "../helpers/cli.js"
import { bundle, start, startServer } from "../helpers/process.js"

/** Sends `text` on a new connection and returns everything the server sent before closing. */
const ask = (port: number, text: string) =>
  Effect.async<string, Error>((resume) => {
    const socket = Net.connect({ port, host: "127.0.0.1" }, () => socket.write(text))
    let received = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => (received += chunk))
    socket.on("error", (error) => resume(Effect.fail(error)))
    socket.on("close", () => resume(Effect.succeed(received)))
    return Effect.sync(() => socket.destroy())
  })

describe("Cluster.run", () => {
  it.scopedLive("the README's program: two workers answer on one port, one listening line, SIGTERM stops them all", () =>
    Effect.gen(function*() {
      const program = yield* bundle("test/readme-cluster-example.ts")
      const server = yield* start([process.execPath, program])
      const [, port] = yield* server.waitFor(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)$/m)
      // Effect's default logger writes to stdout, between the program's own lines.
      yield* server.waitFor(/message="worker 1 started/)
      yield* server.waitFor(/message="worker 2 started/)
      const answers = new Set<string>()
      for (let i = 0; i < 8 && answers.size < 2; i++) {
        const answer = yield* ask(Number(port), "hello")
        expect(answer).toMatch(/^worker [12]: hello$/)
        answers.add(answer)
      }
      expect(answers).toEqual(new Set(["worker 1: hello", "worker 2: hello"]))
      expect(lines(server.stdout()).filter((line) => !line.startsWith("timestamp="))).toEqual([`listening on tcp://127.0.0.1:${port}`])
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
      expect(server.stdout()).toMatch(/message="stopped: 2 worker\(s\) exited"/)
    }))

  it.scopedLive("workers that cannot bind: the primary fails once with their error (ClusterStartError), no restarts, exit 1", () =>
    Effect.gen(function*() {
      const taken = yield* startServer("start:tcp", ["--port", "0"])
      const program = yield* bundle("test/fixtures/cluster-start-failure.ts")
      const cluster = yield* start([process.execPath, program, String(taken.port)])
      expect(yield* cluster.exited).toBe(1)
      // Each worker's runtime logs its own failure; the primary fails once, with it.
      const output = cluster.stdout()
      expect([...output.matchAll(/ClusterStartError: (.*)/g)].map(([, message]) => message)).toEqual([
        `cannot listen on 127.0.0.1:${taken.port}: the address is already in use (EADDRINUSE)`
      ])
      expect(output).not.toMatch(/level=WARN/)
    }))
})
