import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { lines, rejectsFlags, stopsCleanly } from "../helpers/cli.js"
import { run, runScript, scriptCommand, startServer } from "../helpers/process.js"

const program = scriptCommand("start:tcp").slice(0, -1)
const subcommands = ["tcp-server", "tcp-client", "udp-server", "udp-client", "http-get"]
const ansi = /\x1b\[/

describe("effect-net", () => {
  it.live("--help lists the subcommands, each has its own --help, and no colour goes into a pipe", () =>
    Effect.gen(function*() {
      const help = yield* run([...program, "--help"])
      expect(help.code).toBe(0)
      for (const name of subcommands) expect(help.stdout).toContain(`- ${name} `)
      expect(help.stdout).not.toMatch(ansi)
      for (const name of subcommands) {
        const own = yield* run([...program, name, "--help"])
        expect(own.code).toBe(0)
        expect(own.stdout).toContain(`$ ${name}`)
        expect(own.stdout).not.toMatch(ansi)
      }
    }))

  it.live("colours its help on a terminal, and not with NO_COLOR", () =>
    Effect.gen(function*() {
      // `script` gives the program a terminal for its stdout.
      const command = [...program, "--help"].join(" ")
      const coloured = yield* run(["script", "-qec", command, "/dev/null"])
      expect(coloured.stdout).toMatch(ansi)
      const plain = yield* run(["env", "NO_COLOR=1", "script", "-qec", command, "/dev/null"])
      expect(plain.code).toBe(0)
      expect(plain.stdout).toContain("tcp-server")
      expect(plain.stdout).not.toMatch(ansi)
    }))

  it.live("--completions generates for the command's real name", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* run([...program, "--completions", "bash"])
      expect(code).toBe(0)
      expect(stdout).toContain("_effect-net_bash_completions")
      expect(stdout).toMatch(/^complete -F _effect-net_bash_completions .* effect-net$/m)
    }))

  it.live("--wizard without a terminal says it needs one, exit code 2", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* run([...program, "--wizard"])
      expect(code).toBe(2)
      expect(stderr).toBe("error: --wizard asks its questions on a terminal, and stdin is not one; run it in a terminal\n")
    }))
})

describe("a flag without its value, or with a bad one", () => {
  rejectsFlags("client:tcp", [
    [["--port"], "expected a value after --port"],
    [["--port", "--host", "::1"], "expected a value after --port"],
    [["--timeout", "x", "Ada"], "invalid value for --timeout: x is not a number"]
  ])
  rejectsFlags("start:tcp", [
    [["--port"], "expected a value after --port"],
    [["--log-level", "bogus"], "invalid value for --log-level: bogus (one of all, trace, debug, info, warning, error, fatal, none)"],
    [["--port", "0", "--log-level"], "expected a value after --log-level"],
    [["--framing=words"], "invalid value for --framing: words (one of raw, line)"]
  ])
  rejectsFlags("http:get", [
    [["-o"], "expected a value after -o"],
    [["http://127.0.0.1:1/", "-o"], "expected a value after -o"]
  ])

  it.live("--log-level works in any position and in any case", () =>
    Effect.gen(function*() {
      const { code, stderr } = yield* runScript("client:tcp", ["--port", "1", "--log-level", "Debug", "--timeout", "1"])
      expect(code).toBe(1)
      expect(lines(stderr).at(-1)).toMatch(/^error: cannot connect to 127\.0\.0\.1:1: connection refused/)
    }))
})

describe("tcp-server", () => {
  it.scopedLive("logs a stop line when stopped with no connection open", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0"])
      yield* stopsCleanly(server, 2000)
      expect(server.stderr()).toMatch(/level=INFO .*message="stopped: 0 connection\(s\) accepted"/)
    }))

  it.scopedLive("says the metrics port is in use, and which flag to change", () =>
    Effect.gen(function*() {
      const first = yield* startServer("start:tcp", ["--port", "0", "--metrics-port", "0"])
      const [, metricsPort] = yield* first.waitFor(/^metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics$/m)
      const { code, stderr } = yield* runScript("start:tcp", ["--port", "0", "--metrics-port", metricsPort!])
      expect(code).toBe(1)
      expect(stderr).toBe(
        `error: cannot listen on 127.0.0.1:${metricsPort}: the address is already in use (EADDRINUSE); ` +
          "stop the other server or choose another --metrics-port (0 picks a free one)\n"
      )
    }))
})
