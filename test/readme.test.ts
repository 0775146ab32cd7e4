// The README and the guides in docs/: their examples run, every code block is the code the tests
// type-check and run (test/readme-*.ts, shown verbatim), every relative link resolves, and the
// README stays a front page.
import * as MsgPack from "@effect/platform/MsgPack"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Either, Layer, Logger, PubSub, type Scope, Stream } from "effect"
import { Framing, TcpClient, type TcpConnection, TcpListener, TcpServer } from "effect-net"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { portOf } from "./helpers/address.js"
import * as Peer from "./helpers/peer.js"
import { program, ShoutLive } from "./readme-example.js"
import * as Library from "./readme-library-example.js"
import * as Protocols from "./readme-protocols-example.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const read = (file: string) => readFileSync(Path.join(root, file), "utf8")

/** The README and every guide in docs/. */
const documents = ["README.md", ...readdirSync(Path.join(root, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)]

/** The code a test/readme-*.ts file shows: from its first import on (its header comment says what runs it). */
const examples = readdirSync(Path.join(root, "test"))
  .filter((name) => /^readme-.*\.ts$/.test(name))
  .map((name) => {
    const text = read(`test/${name}`)
    return { name, code: text.slice(text.indexOf("import ")).trim() }
  })

/** The fenced code blocks of a Markdown text, with their language. */
const codeBlocks = (markdown: string) =>
  [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(([, language, code]) => ({ language: language!, code: code!.trim() }))

/** GitHub's anchors for a Markdown text's headings (a repeated one gets -1, -2 ...). */
const anchors = (markdown: string): Set<string> => {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  const outsideCode = markdown.replace(/^```[\s\S]*?^```$/gm, "")
  for (const [, heading] of outsideCode.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    result.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return result
}

/** Serves `layer` (which holds a listener) for the scope; returns the listener's port. */
const portOfLayer = <A, E>(layer: Layer.Layer<A | TcpListener.TcpListener, E>) =>
  Effect.map(Layer.build(layer), (context) => portOf(Context.get(context, TcpListener.TcpListener).address))

/** Serves `handler` on a free port for the scope; returns the port. */
const serve = <E>(handler: (connection: TcpConnection.Connection) => Effect.Effect<void, E, Scope.Scope>) =>
  portOfLayer(TcpServer.layer(handler).pipe(Layer.provideMerge(TcpListener.layer({ host: "127.0.0.1", port: 0 }))))

const utf8 = (text: string) => new TextEncoder().encode(text)

describe("README", () => {
  it.scoped("its example runs: the server layer and the client layer composed in one program", () =>
    Effect.map(program, (lines) => expect(Chunk.toReadonlyArray(lines)).toEqual(["Welcome!", "Hello, Ada!", "Hello, Grace!"])))

  it.scopedLive("its own protocol serves: lines back in capitals until bye", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.connect(yield* portOfLayer(ShoutLive))
      yield* peer.write("hello\nwor")
      yield* peer.write("ld\nbye\nnot this\n")
      expect(yield* peer.closed()).toBe("HELLO\nWORLD\n")
    }))

  it("is a front page: under 300 lines", () => {
    expect(read("README.md").split("\n").length).toBeLessThan(300)
  })

  it("gives the two set-up commands that CI runs", () => {
    const readme = read("README.md")
    const ci = read(".ci/run")
    expect(readme).toContain("npm install -g pnpm@10 && pnpm install && pnpm start:tcp")
    expect(readme).toContain("bash scripts/test-tools.sh && npm install -g pnpm@10 && pnpm install && pnpm test")
    expect(ci).toContain("bash scripts/test-tools.sh && npm install -g pnpm@10 && pnpm install && pnpm test")
  })

  it("says how to install the package, which is not on npm", () => {
    const readme = read("README.md")
    expect(readme).toContain("pnpm pack")
    expect(readme).not.toMatch(/npm install effect-net\b/)
  })
})

describe("the documents", () => {
  // Each example file in full where its document shows it whole; the @effect/rpc example runs in
  // test/platform/rpc.test.ts, the cluster example in test/cluster/cluster.test.ts.
  for (
    const [file, document] of [
      ["readme-example.ts", "README.md"],
      ["readme-rpc-example.ts", "docs/rpc.md"],
      ["readme-cluster-example.ts", "docs/library.md"]
    ] as const
  ) {
    it(`${document} shows ${file} verbatim`, () => {
      expect(read(document)).toContain(examples.find((example) => example.name === file)!.code)
    })
  }

  // So that every TypeScript block is type-checked (tsc covers test/) and run by the tests here.
  for (const document of documents) {
    it(`every TypeScript block of ${document} is code of a test/readme-*.ts file, verbatim`, () => {
      for (const { code, language } of codeBlocks(read(document))) {
        if (language !== "ts") continue
        expect(examples.some((example) => example.code.includes(code)), `not in any test/readme-*.ts:\n${code}`).toBe(true)
      }
    })

    it(`every relative link of ${document} points at a file (and a heading) that exists`, () => {
      const text = read(document).replace(/^```[\s\S]*?^```$/gm, "")
      const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target!)
      expect(links.length).toBeGreaterThan(0)
      for (const link of links) {
        if (/^[a-z]+:/.test(link)) continue
        const [target, anchor] = link.split("#") as [string, string | undefined]
        const file = target === "" ? document : Path.join(Path.dirname(document), target)
        expect(existsSync(Path.join(root, file)), `${document}: ${link}`).toBe(true)
        if (anchor !== undefined) {
          expect(statSync(Path.join(root, file)).isFile() && anchors(read(file)).has(anchor), `${document}: ${link}`).toBe(true)
        }
      }
    })
  }

  it("the README links every guide", () => {
    const readme = read("README.md")
    for (const document of documents.filter((name) => name !== "README.md")) expect(readme).toContain(`](${document})`)
  })
})

describe("the library guide's examples", () => {
  it.scopedLive("an echo server and a client, as layers", () =>
    Effect.map(Library.program, (reply) => expect(reply).toBe("hello")))

  it.scopedLive("the echo server with make, in a scope of its own", () =>
    Effect.gen(function*() {
      const server = yield* Library.serveEcho
      const reply = yield* Effect.gen(function*() {
        const connection = yield* TcpClient.TcpClient
        yield* connection.write(utf8("ping"))
        yield* connection.end
        return Buffer.concat([...yield* Stream.runCollect(connection.reads)]).toString()
      }).pipe(Effect.provide(TcpClient.layer({ port: portOf(server.address) })))
      expect(reply).toBe("ping")
    }))

  it.scopedLive("the relay: one client's bytes reach the others, through a subscription in each handler's scope", () =>
    Effect.gen(function*() {
      const hub = yield* PubSub.unbounded<Uint8Array>()
      const port = yield* serve(Library.relay(hub))
      const ada = yield* Peer.connect(port)
      const grace = yield* Peer.connect(port)
      // Both subscribed before anyone speaks.
      yield* Effect.sleep("100 millis")
      yield* ada.write("hi from Ada\n")
      yield* grace.waitFor("hi from Ada\n")
      yield* grace.write("hi from Grace\n")
      yield* ada.waitFor("hi from Ada\nhi from Grace\n")
    }))

  it.live("a UDP echo", () => Effect.map(Library.udpProgram, (reply) => expect(reply).toBe("ping")))

  it.scopedLive("quiet by default; Logging.layerRoutineLevel(Info) shows a peer's reset and the shutdown at Info", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const logger = Logger.replace(Logger.defaultLogger, Logger.make(({ logLevel, message }) => void lines.push(`${logLevel.label} ${String(message)}`)))
      const resetOn = <A, E>(layer: Layer.Layer<A | TcpListener.TcpListener, E>) =>
        Effect.scoped(Effect.gen(function*() {
          const peer = yield* Peer.connect(yield* portOfLayer(layer))
          yield* peer.write("x")
          yield* peer.waitFor("x")
          peer.socket.resetAndDestroy()
          yield* Effect.sleep("200 millis")
        })).pipe(Effect.provide(logger))
      yield* resetOn(Library.EchoLive)
      expect(lines.filter((line) => !line.startsWith("DEBUG"))).toEqual([])
      yield* resetOn(Library.EchoLogged)
      expect(lines.filter((line) => line.startsWith("INFO"))).toEqual([
        expect.stringMatching(/^INFO the connection with 127\.0\.0\.1:\d+ failed: connection reset by peer/),
        "INFO stopped: 1 connection(s) accepted"
      ])
    }))

  it.scopedLive("fetchText: GET with redirects followed", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(
        Effect.async<Http.Server>((resume) => {
          const server = Http.createServer((request, response) => {
            if (request.url === "/old") response.writeHead(302, { Location: "/new" }).end()
            else response.writeHead(200, { "Content-Type": "text/plain" }).end("hello")
          })
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const { port } = server.address() as { port: number }
      expect(yield* Library.fetchText(`http://127.0.0.1:${port}/old`)).toEqual({ status: 200, text: "hello" })
    }))
})

describe("the protocol guide's examples", () => {
  const greetings = [
    { _tag: "Greeting", id: 0, text: "Hello, Ada!" },
    { _tag: "Greeting", id: 1, text: "Hello, Grace!" }
  ]

  it.scopedLive("length-prefixed Schema-typed JSON: the server on runMessages, the client pulling with messages", () =>
    Effect.gen(function*() {
      const port = yield* serve(Protocols.greeter)
      const replies = yield* Effect.flatMap(TcpClient.TcpClient, (connection) => Protocols.greetAll(connection, ["Ada", "Grace"])).pipe(
        Effect.provide(TcpClient.layer({ port }))
      )
      expect(replies).toEqual(greetings)
    }))

  it.scopedLive("a frame that is not a Request gets a Refused reply, then the connection closes", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.connect(yield* serve(Protocols.greeter))
      const json = "{\"id\":1}"
      yield* peer.write(Buffer.concat([Buffer.from([0, json.length]), Buffer.from(json)]))
      const received = Buffer.from(yield* peer.closed(), "latin1")
      const decoded: Array<typeof Protocols.Reply.Type> = []
      expect(Framing.schemaJson(Protocols.Reply, Framing.lengthPrefixed({ lengthBytes: 2 })).push(received, decoded)).toBeUndefined()
      expect(decoded).toEqual([{ _tag: "Refused", reason: expect.stringContaining("frame 0") }])
    }))

  it.scopedLive("patient: a pull cut short by a timeout loses nothing, half a line included", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.connect(yield* serve(Protocols.patient("200 millis")))
      yield* peer.write("hel")
      yield* peer.waitFor("still there?\n")
      yield* peer.write("lo\n")
      yield* peer.waitFor("you said: hello\n")
      peer.socket.end()
      yield* peer.closed()
    }))

  it.scopedLive("readRecord: a length, then that many bytes, whatever the reads; too large a record fails", () =>
    Effect.gen(function*() {
      const port = yield* serve((connection) =>
        Effect.gen(function*() {
          for (let record = yield* Protocols.readRecord(connection); record !== undefined; record = yield* Protocols.readRecord(connection)) {
            yield* connection.write(utf8(`${Buffer.from(record).toString()};`))
          }
        }).pipe(Effect.catchTag("RecordTooLarge", ({ length }) => connection.write(utf8(`too large: ${length}`))))
      )
      const peer = yield* Peer.connect(port)
      yield* peer.write(Buffer.from([0, 0, 0]))
      yield* Effect.sleep("50 millis")
      yield* peer.write(Buffer.from([5, 104, 101, 108]))
      yield* Effect.sleep("50 millis")
      yield* peer.write(Buffer.from([108, 111, 0, 0, 0, 2, 104, 105, 0, 1, 0, 1]))
      expect(yield* peer.closed()).toBe(`hello;hi;too large: ${0x10001}`)
    }))

  it.scopedLive("shout: NUL-delimited frames back in capitals, through Framing.frame and the writes Sink", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.connect(yield* serve(Protocols.shout))
      yield* peer.write("ab\0c")
      yield* Effect.sleep("50 millis")
      yield* peer.write("d\0")
      peer.socket.end()
      expect(yield* peer.closed()).toBe("AB\0CD\0")
    }))

  it.scopedLive("Ndjson over reads", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.connect(yield* serve(Protocols.ndjsonGreeter))
      yield* peer.write("{\"id\":0,\"name\":\"Ada\"}\n{\"id\":1,")
      yield* Effect.sleep("50 millis")
      yield* peer.write("\"name\":\"Grace\"}\n")
      peer.socket.end()
      const lines = (yield* peer.closed()).trim().split("\n").map((line) => JSON.parse(line))
      expect(lines).toEqual(greetings)
    }))

  it.scopedLive("MsgPack over reads", () =>
    Effect.gen(function*() {
      const peer = yield* Peer.connect(yield* serve(Protocols.msgpackGreeter))
      const requests = yield* Stream.make({ id: 0, name: "Ada" }, { id: 1, name: "Grace" }).pipe(
        Stream.pipeThroughChannelOrFail(MsgPack.packSchema(Protocols.Request)()),
        Stream.runCollect
      )
      yield* peer.write(Buffer.concat([...requests]))
      peer.socket.end()
      const received = new Uint8Array(Buffer.from(yield* peer.closed(), "latin1"))
      const replies = yield* Stream.make(received).pipe(Stream.pipeThroughChannelOrFail(MsgPack.unpackSchema(Protocols.Reply)()), Stream.runCollect)
      expect(Chunk.toReadonlyArray(replies)).toEqual(greetings)
    }))

  it("capped NDJSON: a line over the cap fails, a reply is one JSON line", () => {
    const decoded: Array<typeof Protocols.Request.Type> = []
    expect(Protocols.cappedRequests().push(utf8("{\"id\":0,\"name\":\"Ada\"}\n"), decoded)).toBeUndefined()
    expect(decoded).toEqual([{ id: 0, name: "Ada" }])
    expect(Protocols.cappedRequests().push(utf8(`{"id":0,"name":"${"x".repeat(70_000)}"}\n`), [])).toMatchObject({ _tag: "LineTooLongError" })
    const line = Either.getOrThrow(Protocols.encodeLine({ _tag: "Greeting", id: 0, text: "a\nb" }))
    expect(Buffer.from(line).toString()).toBe("{\"_tag\":\"Greeting\",\"id\":0,\"text\":\"a\\nb\"}\n")
  })
})
