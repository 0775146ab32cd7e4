import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { stopsCleanly } from "../helpers/cli.js"
import { lines } from "../helpers/cli.js"
import { bundle, processExit, start } from "../helpers/process.js"

describe("the programs' runner", () => {
  it.scopedLive("logs an uncaught exception and an unhandled rejection, and keeps running", () =>
    Effect.gen(function*() {
      const program = yield* start([process.execPath, yield* bundle("test/fixtures/uncaught.ts"), "uncaught"])
      yield* program.waitFor(/^ready$/m)
      yield* Effect.sleep("300 millis")
      expect(program.child.exitCode).toBeNull()
      expect(program.stderr()).toMatch(/level=ERROR .*message="uncaught exception \(a bug, please report it\); still running"/)
      expect(program.stderr()).toContain("thrown in a callback")
      expect(program.stderr()).toMatch(/level=ERROR .*message="unhandled promise rejection \(a bug, please report it\); still running"/)
      expect(program.stderr()).toContain("rejected in a callback")
      yield* stopsCleanly(program, 2000)
    }))

  // 5,000 lines of about 90 bytes: more than a pipe and its reader's buffer hold, within the bound.
  it.scopedLive("at the end, the lines still waiting for stderr go out when it takes them", () =>
    Effect.gen(function*() {
      const program = yield* start([process.execPath, yield* bundle("test/fixtures/log-lines.ts"), "log-lines", "5000"], { stderrUnread: true })
      yield* program.waitFor(/^done$/m)
      yield* Effect.sleep("300 millis")
      program.readStderr()
      expect(yield* program.exited).toBe(0)
      const logged = lines(program.stderr())
      expect(logged).toHaveLength(5000)
      expect(logged.at(-1)).toMatch(/level=INFO .*message="line 5000 of 5000"/)
    }))

  it.scopedLive("an abrupt exit (process.exit) still writes the lines logged just before, in order with stderr's other writes", () =>
    Effect.gen(function*() {
      const program = yield* start([process.execPath, yield* bundle("test/fixtures/log-lines.ts"), "log-lines", "--exit", "100"])
      expect(yield* program.exited).toBe(3)
      const logged = lines(program.stderr())
      expect(logged).toHaveLength(101)
      logged.slice(0, 100).forEach((line, i) => expect(line).toMatch(new RegExp(`level=INFO .*message="line ${i + 1} of 100"`)))
      expect(logged.at(-1)).toBe("error: exiting at once")
    }))

  it.scopedLive("at the end, a stuck stderr does not keep the program from exiting", () =>
    Effect.gen(function*() {
      const program = yield* start([process.execPath, yield* bundle("test/fixtures/log-lines.ts"), "log-lines", "5000"], { stderrUnread: true })
      yield* program.waitFor(/^done$/m)
      const done = Date.now()
      expect(yield* processExit(program.child).pipe(Effect.timeout("5 seconds"))).toBe(0)
      expect(Date.now() - done).toBeLessThan(3000)
    }))
})
