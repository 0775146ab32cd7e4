import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { stopsCleanly } from "../helpers/cli.js"
import { bundle, start } from "../helpers/process.js"

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
})
