import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { TcpListener } from "../src/tcp/listener.js"
import { portOf } from "./helpers/address.js"
import * as Peer from "./helpers/peer.js"
import { program, ShoutLive } from "./readme-example.js"

describe("README", () => {
  it.scoped("its example runs: the server layer and the client layer composed in one program", () =>
    Effect.map(program, (lines) => expect(Chunk.toReadonlyArray(lines)).toEqual(["Welcome!", "Hello, Ada!", "Hello, Grace!"])))

  it.scopedLive("its own protocol serves: lines back in capitals until bye", () =>
    Effect.gen(function*() {
      const { address } = yield* Effect.provide(TcpListener, yield* Layer.build(ShoutLive))
      const peer = yield* Peer.connect(portOf(address))
      yield* peer.write("hello\nwor")
      yield* peer.write("ld\nbye\nnot this\n")
      expect(yield* peer.closed()).toBe("HELLO\nWORLD\n")
    }))

  // The @effect/rpc example runs in test/platform/rpc.test.ts, the cluster example in
  // test/cluster/cluster.test.ts.
  for (const file of ["readme-example.ts", "readme-rpc-example.ts", "readme-cluster-example.ts"]) {
    it(`shows ${file} verbatim`, () => {
      const example = readFileSync(new URL(`./${file}`, import.meta.url), "utf8")
      const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
      expect(readme).toContain(example.slice(example.indexOf("import ")).trim())
    })
  }

  it("gives the two set-up commands that CI runs", () => {
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const ci = readFileSync(new URL("../.ci/run", import.meta.url), "utf8")
    expect(readme).toContain("npm install -g pnpm@10 && pnpm install && pnpm start:tcp")
    expect(readme).toContain("bash scripts/test-tools.sh && npm install -g pnpm@10 && pnpm install && pnpm test")
    expect(ci).toContain("bash scripts/test-tools.sh && npm install -g pnpm@10 && pnpm install && pnpm test")
  })
})
