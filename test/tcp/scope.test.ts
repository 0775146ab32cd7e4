import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { root, run } from "../helpers/process.js"

describe("scope safety", () => {
  it.live("closing the server's scope closes every connection and the listener, and leaves nothing running", () =>
    Effect.gen(function*() {
      // The fixture does not call process.exit: it ends only if no socket, fiber or timer is left.
      const result = yield* run([process.execPath, `${root}test/fixtures/scope-close.mjs`], "10 seconds")
      expect(result.stderr).toBe("")
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual({ openBefore: 20, openAfter: 0, clientsClosed: 20 })
    }))
})
