// Set-up of the whole test run: builds dist/ from the current source (the CLI tests run the
// programs the pnpm scripts run, and a test installs the packed package), gives the tests a
// scratch directory to run programs in, and checks at the end that no test wrote into the
// repository.
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"

const root = fileURLToPath(new URL("../..", import.meta.url))

/** What git sees changed in the working tree (untracked files included). */
const changes = (): string => execFileSync("git", ["status", "--porcelain", "--untracked-files=all"], { cwd: root, encoding: "utf8" })

declare module "vitest" {
  export interface ProvidedContext {
    /** A directory of this run's own: the working directory of the programs the tests start. */
    readonly scratch: string
  }
}

export default function setup(project: TestProject) {
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" })
  const scratch = mkdtempSync(Path.join(tmpdir(), "effect-net-test-"))
  project.provide("scratch", scratch)
  const before = changes()
  return () => {
    rmSync(scratch, { recursive: true, force: true })
    const after = changes()
    if (after !== before) {
      throw new Error(`the tests changed the repository's working tree (a test must write to its own temporary directory):\n${after}`)
    }
  }
}
