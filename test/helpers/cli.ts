/**
 * Shared checks of the command-line programs.
 */
import { expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { runScript } from "./process.js"

/** The non-empty lines of a program's output. */
export const lines = (text: string): Array<string> => text.split("\n").filter((line) => line !== "")

/** One test per case: `script` rejects `flags` with exactly `message` on stderr and exit code 2. */
export const rejectsFlags = (script: string, cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]>) => {
  for (const [flags, message] of cases) {
    it.live(`${script} rejects ${flags.join(" ")} with one line and exit code 2`, () =>
      Effect.gen(function*() {
        const { code, stderr } = yield* runScript(script, flags)
        expect(code).toBe(2)
        expect(lines(stderr)).toEqual([message])
      }))
  }
}
