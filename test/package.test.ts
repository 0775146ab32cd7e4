// The package as a user gets it: packed, installed from the tarball into a fresh npm project with
// the Effect peers (from the npm registry), a consumer type-checked against the shipped
// declarations under NodeNext and run, and the `effect-net` command run with npx.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import * as Peer from "./helpers/peer.js"
import { root, run, start } from "./helpers/process.js"

const pkg = JSON.parse(readFileSync(Path.join(root, "package.json"), "utf8"))
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")

/** The consumer: composes the package's layers and serves until stopped. */
const consumer = `import { Effect, Layer } from "effect"
import { formatAddress, TcpGreetingServer, TcpListener, type TcpConnection } from "effect-net"

const ServerLive = TcpGreetingServer.layer({ delay: 0 }).pipe(
  Layer.provideMerge(TcpListener.layer({ host: "127.0.0.1", port: 0 }))
)

const program = Effect.gen(function*() {
  const listener = yield* TcpListener.TcpListener
  const echo: (connection: TcpConnection.Connection) => string = (connection) => formatAddress(connection.remote)
  console.log(\`listening on tcp://\${formatAddress(listener.address)} \${typeof echo}\`)
  return yield* Effect.never
})

Effect.runFork(program.pipe(Effect.provide(ServerLive)))
`

/** A mistake the declarations must catch. */
const mistaken = `import { TcpListener } from "effect-net"
export const port: string = TcpListener.defaults.backlog
`

describe("the package", () => {
  it.scopedLive("packs with its built library, declarations and program, and nothing of test/, bench/ or examples/", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDirectory
      // The test run built dist/ already; packing again must not rebuild it under the other tests.
      const packed = yield* run(["npm", "pack", "--ignore-scripts", "--json", "--pack-destination", dir, root], "60 seconds")
      expect(packed.code, packed.stderr).toBe(0)
      const files: Array<string> = JSON.parse(packed.stdout)[0].files.map((file: { path: string }) => file.path)
      expect(files).toEqual(expect.arrayContaining([
        "package.json",
        "README.md",
        "LICENSE",
        "dist/index.js",
        "dist/index.d.ts",
        "dist/index.js.map",
        "dist/metrics/prometheus.d.ts",
        "dist/bin/effect-net.js"
      ]))
      const outside = files.filter((file) => !file.startsWith("dist/") || file.startsWith("dist/bench/") || file.startsWith("dist/examples/"))
      // The README's guides come with it: it links them.
      const guides = readdirSync(new URL("../docs", import.meta.url)).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)
      expect(outside.sort()).toEqual(["LICENSE", "README.md", ...guides, "package.json"].sort())
      expect(pkg.private).toBeUndefined()
      expect(pkg.scripts.prepack).toContain("scripts/build.mjs")
      expect(Object.keys(pkg.peerDependencies).sort()).toEqual(["@effect/platform", "@effect/platform-node", "effect"])
      expect(pkg.dependencies).toBeUndefined()
    }))

  it.scopedLive("installs from the tarball, type-checks a consumer against its declarations, runs it, and runs effect-net with npx", () =>
    Effect.gen(function*() {
      const dir = yield* temporaryDirectory
      const packed = yield* run(["npm", "pack", "--ignore-scripts", "--pack-destination", dir, root], "60 seconds")
      expect(packed.code, packed.stderr).toBe(0)
      const tarball = Path.join(dir, packed.stdout.trim().split("\n").at(-1)!)
      writeFileSync(Path.join(dir, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
      const peers = Object.entries(pkg.devDependencies as Record<string, string>)
        .filter(([name]) => name in pkg.peerDependencies || name === "@types/node")
        .map(([name, range]) => `${name}@${range}`)
      const install = yield* run(
        ["npm", "install", "--prefix", dir, "--no-audit", "--no-fund", "--prefer-offline", tarball, ...peers],
        "180 seconds"
      )
      expect(install.code, install.stderr).toBe(0)

      writeFileSync(Path.join(dir, "consumer.ts"), consumer)
      writeFileSync(Path.join(dir, "mistaken.ts"), mistaken)
      const compilerOptions = {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2022",
        strict: true,
        skipLibCheck: false,
        types: ["node"],
        outDir: "out"
      }
      writeFileSync(Path.join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions, files: ["consumer.ts"] }))
      const checked = yield* run([process.execPath, tsc, "-p", dir], "120 seconds")
      expect(checked.stdout + checked.stderr).toBe("")
      expect(checked.code).toBe(0)
      writeFileSync(Path.join(dir, "tsconfig.mistaken.json"), JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, files: ["mistaken.ts"] }))
      const mistake = yield* run([process.execPath, tsc, "-p", Path.join(dir, "tsconfig.mistaken.json")], "120 seconds")
      expect(mistake.stdout).toContain("Type 'number' is not assignable to type 'string'")

      const served = yield* start([process.execPath, "out/consumer.js"], { cwd: dir })
      const [, port] = yield* served.waitFor(/^listening on tcp:\/\/127\.0\.0\.1:(\d+) function$/m)
      const peer = yield* Peer.connect(Number(port))
      yield* peer.waitFor("Welcome!")
      yield* peer.write("Michael")
      yield* peer.waitFor("Welcome!Hello, Michael!")

      const help = yield* run(["npx", "--prefix", dir, "--no-install", "effect-net", "--help"], "60 seconds")
      expect(help.code, help.stderr).toBe(0)
      expect(help.stdout).toContain("tcp-server")
      // npx runs the program as a child of its own: the whole group is stopped, as Ctrl+C would.
      const server = yield* start(["npx", "--no-install", "effect-net", "tcp-server", "--port", "0"], { cwd: dir, group: true })
      const [, serverPort] = yield* server.waitFor(/^listening on tcp:\/\/127\.0\.0\.1:(\d+)$/m)
      const client = yield* Peer.connect(Number(serverPort))
      yield* client.waitFor("Welcome!")
      process.kill(-server.child.pid!, "SIGINT")
      yield* client.closed()
    }), { timeout: 300_000 })
})

/** A directory of the test's own, removed with its scope. */
const temporaryDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(Path.join(tmpdir(), "effect-net-package-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)
