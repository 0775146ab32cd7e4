import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { stopsCleanly } from "../helpers/cli.js"
import { build } from "esbuild"
import * as Path from "node:path"
import { root, scratch, start } from "../helpers/process.js"

/** The fixture as a program of its own (bundled as the real one is). */
const bundle = Effect.promise(async () => {
  const outfile = Path.join(scratch, "uncaught.mjs")
  await build({
    absWorkingDir: root,
    entryPoints: ["test/fixtures/uncaught.ts"],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    logLevel: "warning",
    banner: { js: "import { createRequire } from \"node:module\"; const require = createRequire(import.meta.url);" }
  })
  return outfile
})

describe("the programs' runner", () => {
  it.scopedLive("logs an uncaught exception and an unhandled rejection, and keeps running", () =>
    Effect.gen(function*() {
      const program = yield* start([process.execPath, yield* bundle, "uncaught"])
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
