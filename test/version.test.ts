import { expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { version } from "../src/version.js"

it("the version the programs report is package.json's", () => {
  expect(version).toBe(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version)
})
