import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

// The interop tests run copies of the tutorial's reference programs, so that a clone of this
// repository tests on its own; where the shared originals are at hand, the copies must match them.
const shared = fileURLToPath(new URL("../../shared/tutorial/", import.meta.url))
const copies = fileURLToPath(new URL("./fixtures/tutorial/", import.meta.url))

describe("tutorial reference programs", () => {
  it.skipIf(!existsSync(shared))("are byte-identical to ../shared/tutorial", () => {
    const originals = readdirSync(shared).filter((name) => name.endsWith(".py")).sort()
    expect(readdirSync(copies).sort()).toEqual(originals)
    for (const name of originals) expect(readFileSync(copies + name, "utf8"), name).toBe(readFileSync(shared + name, "utf8"))
  })
})
