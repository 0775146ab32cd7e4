/**
 * Shared checks of the command-line programs.
 */
import { expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { signalCopyWindow } from "../../src/cli/signals.js"
import { type Running, runScript } from "./process.js"

/** The non-empty lines of a program's output. */
export const lines = (text: string): Array<string> => text.split("\n").filter((line) => line !== "")

/** A UDP server's last words, `stopped: R datagram(s) received, A answered, D dropped`, as numbers. */
export const udpSummary = (stderr: string) => {
  const match = stderr.match(/message="stopped: (\d+) datagram\(s\) received, (\d+) answered, (\d+) dropped"/)
  if (!match) throw new Error(`no summary in the server's logs:\n${stderr}`)
  return { received: Number(match[1]), answered: Number(match[2]), dropped: Number(match[3]) }
}

/** One test per case: `script` rejects `flags` with exactly `error: message` on stderr and exit code 2. */
export const rejectsFlags = (script: string, cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]>) => {
  for (const [flags, message] of cases) {
    it.live(`${script} rejects ${flags.join(" ")} with one line and exit code 2`, () =>
      Effect.gen(function*() {
        const { code, stderr } = yield* runScript(script, flags)
        expect(code).toBe(2)
        expect(stderr).toBe(`error: ${message}\n`)
      }))
  }
}

/** One test: `script --help` exits 0, its help containing `text`. */
export const printsHelp = (script: string, text: string) =>
  it.live(`${script} prints its help and exits 0`, () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runScript(script, ["--help"])
      expect(code).toBe(0)
      expect(stdout).toContain(text)
    }))

/** Sends `signal` to a server and checks that it exits with code 0 within `withinMillis`. */
export const stopsCleanly = (server: Running, withinMillis: number, signal: NodeJS.Signals = "SIGTERM") =>
  Effect.gen(function*() {
    const sent = Date.now()
    server.child.kill(signal)
    expect(yield* server.exited).toBe(0)
    expect(Date.now() - sent).toBeLessThan(withinMillis)
  })

/** Waits until a signal sent now is one of its own, not a copy of the one sent before (see `signalCopyWindow`). */
export const pastSignalCopyWindow = Effect.sleep(Duration.sum(signalCopyWindow, Duration.millis(500)))
