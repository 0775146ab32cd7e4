import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { lines, rejectsFlags } from "../helpers/cli.js"
import { root, run, runScript, scratch, startScript } from "../helpers/process.js"

/** A path for a socket in the scratch directory (short: a Unix socket's path holds 107 bytes at most). */
const socketPath = (name: string) => Path.join(scratch, `cli-${name}.sock`)

/** The greeting server on the Unix socket `path`, once it says it listens. */
const startUnixServer = (path: string, args: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const server = yield* startScript("start:tcp", ["--unix", path, "--delay", "0", ...args])
    yield* server.waitFor(/^listening on unix:/m)
    return server
  })

const shell = (script: string) => run(["sh", "-c", script], "20 seconds")

/** A socket file that nothing listens on, as a crashed server leaves it (bound by Python, which leaves it behind). */
const staleSocket = (path: string) =>
  Effect.map(
    run(["python3", "-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(path)})`]),
    (made) => expect(made.code).toBe(0)
  )

describe("pnpm start:tcp --unix", () => {
  it.scopedLive("says unix:PATH, talks with effect-net tcp-client --unix, nc -U and socat, and removes the file on SIGTERM", () =>
    Effect.gen(function*() {
      const path = socketPath("talk")
      const server = yield* startUnixServer(path, ["--framing", "line"])
      expect(server.stdout()).toBe(`listening on unix:${path}\n`)
      const client = yield* runScript("client:tcp", ["--unix", path, "--framing", "line", "Ada", "Grace"])
      expect(client).toMatchObject({ code: 0, stdout: "Welcome!\nHello, Ada!\nHello, Grace!\n" })
      const nc = yield* shell(`printf 'Ada\\nexit\\n' | nc -U ${path}`)
      expect(nc).toMatchObject({ code: 0, stdout: "Welcome!Hello, Ada!\n" })
      const socat = yield* shell(`printf 'Grace\\nexit\\n' | socat -t 5 - UNIX-CONNECT:${path}`)
      expect(socat).toMatchObject({ code: 0, stdout: "Welcome!Hello, Grace!\n" })
      expect(server.stderr()).toMatch(new RegExp(`message="Accept new connection from unix:${path}\\.\\.\\."`))
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
      expect(existsSync(path)).toBe(false)
    }))

  it.scopedLive("gives the socket file the permissions of --unix-mode", () =>
    Effect.gen(function*() {
      const path = socketPath("mode")
      yield* startUnixServer(path, ["--unix-mode", "660"])
      expect(statSync(path).mode & 0o777).toBe(0o660)
    }))

  it.scopedLive("takes --unix-mode 0 (no one but root may connect) and four digits with a leading 0", () =>
    Effect.gen(function*() {
      const none = socketPath("mode-0")
      yield* startUnixServer(none, ["--unix-mode", "0"])
      expect(statSync(none).mode & 0o7777).toBe(0)
      const four = socketPath("mode-0600")
      yield* startUnixServer(four, ["--unix-mode", "0600"])
      expect(statSync(four).mode & 0o7777).toBe(0o600)
    }))

  it.scopedLive("replaces a stale socket file left by a crashed run", () =>
    Effect.gen(function*() {
      const path = socketPath("stale")
      yield* staleSocket(path)
      yield* startUnixServer(path)
      const client = yield* runScript("client:tcp", ["--unix", path, "Ada"])
      expect(client).toMatchObject({ code: 0, stdout: "Welcome!\nHello, Ada!\n" })
    }))

  it.scopedLive("refuses, with exit code 1 and the flag to change, a socket another server listens on", () =>
    Effect.gen(function*() {
      const path = socketPath("taken")
      const first = yield* startUnixServer(path)
      const second = yield* runScript("start:tcp", ["--unix", path])
      expect(second.code).toBe(1)
      expect(lines(second.stderr)).toEqual([
        `error: cannot listen on unix:${path}: another server is listening on it; choose another --unix path, or free this one`
      ])
      // The first one still serves on it.
      const client = yield* runScript("client:tcp", ["--unix", path, "Ada"])
      expect(client).toMatchObject({ code: 0, stdout: "Welcome!\nHello, Ada!\n" })
      first.child.kill("SIGTERM")
      expect(yield* first.exited).toBe(0)
    }))

  it.live("refuses a path that is a regular file, or in a missing directory, or too long, with exit code 1", () =>
    Effect.gen(function*() {
      const file = socketPath("regular")
      writeFileSync(file, "keep me")
      const regular = yield* runScript("start:tcp", ["--unix", file])
      expect(regular.code).toBe(1)
      expect(lines(regular.stderr)).toEqual([
        `error: cannot listen on unix:${file}: a file that is not a socket is in the way; choose another --unix path, or free this one`
      ])
      expect(statSync(file).isFile()).toBe(true)
      const missing = Path.join(scratch, "no-such-dir", "x.sock")
      const inMissing = yield* runScript("start:tcp", ["--unix", missing])
      expect(inMissing.code).toBe(1)
      expect(lines(inMissing.stderr)).toEqual([
        `error: cannot listen on unix:${missing}: no such file or directory (ENOENT); the directory of --unix must exist`
      ])
      const long = Path.join(scratch, "x".repeat(120))
      const tooLong = yield* runScript("start:tcp", ["--unix", long])
      expect(tooLong.code).toBe(1)
      expect(lines(tooLong.stderr)).toEqual([
        `error: cannot listen on unix:${long}: the path is ${Buffer.byteLength(long)} bytes long, a Unix socket's at most 107; choose a shorter --unix path`
      ])
    }))

  it.scopedLive("speaks TLS on it with --tls-cert and --tls-key", () =>
    Effect.gen(function*() {
      const path = socketPath("tls")
      const cert = `${root}test/fixtures/tls/cert.pem`
      const server = yield* startUnixServer(path, ["--tls-cert", cert, "--tls-key", `${root}test/fixtures/tls/key.pem`])
      expect(server.stdout()).toBe(`listening on unix:${path} (TLS)\n`)
      const client = yield* runScript("client:tcp", ["--unix", path, "--tls", "--ca", cert, "Ada"])
      expect(client).toMatchObject({ code: 0, stdout: "Welcome!\nHello, Ada!\n" })
    }))

  rejectsFlags("start:tcp", [
    [["--unix-mode", "660"], "--unix-mode needs --unix"],
    [["--unix", "x.sock", "--unix-mode", "rw-rw----"], "--unix-mode must be octal permissions such as 660, got rw-rw----"],
    [["--unix", "x.sock", "--unix-mode", "999"], "--unix-mode must be octal permissions such as 660, got 999"],
    ...["7777", "1777", "2770", "4755"].map((mode) =>
      [
        ["--unix", "x.sock", "--unix-mode", mode],
        `--unix-mode takes permissions only, 0 to 777 (set-user-ID, set-group-ID and sticky bits mean nothing on a socket), got ${mode}`
      ] as const
    )
  ])
})

describe("pnpm client:tcp --unix", () => {
  it.live("says so, with exit code 1, when nothing is there or nothing listens", () =>
    Effect.gen(function*() {
      const directory = Path.join(scratch, "client-unix")
      mkdirSync(directory, { recursive: true })
      const missing = Path.join(directory, "missing.sock")
      const none = yield* runScript("client:tcp", ["--unix", missing])
      expect(none.code).toBe(1)
      expect(lines(none.stderr)).toEqual([`error: cannot connect to unix:${missing}: no such file or directory (ENOENT); check the --unix path`])
      const stale = Path.join(directory, "stale.sock")
      yield* staleSocket(stale)
      const refused = yield* runScript("client:tcp", ["--unix", stale])
      expect(refused.code).toBe(1)
      expect(lines(refused.stderr)).toEqual([
        `error: cannot connect to unix:${stale}: connection refused (ECONNREFUSED); is the server running on that socket? (a socket file left by a server that crashed refuses too)`
      ])
    }))
})

