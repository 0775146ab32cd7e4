import { describe, expect, layer } from "@effect/vitest"
import { Effect, Layer, Logger, LogLevel } from "effect"
import * as TcpGreetingServer from "../../src/greeting/tcp-server.js"
import * as TcpListener from "../../src/tcp/listener.js"
import * as Peer from "../helpers/peer.js"
import { portOf } from "../helpers/address.js"

const serverOn = (options: TcpGreetingServer.TcpGreetingServerOptions) =>
  TcpGreetingServer.layer(options).pipe(
    Layer.provideMerge(TcpListener.layer({ port: 0 })),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )

const connect = Effect.flatMap(TcpListener.TcpListener, (listener) => Peer.connect(portOf(listener.address)))

/** Connects, checks the welcome, sends each message and waits for each expected reply. */
const converse = (exchanges: ReadonlyArray<readonly [send: string, expect: string]>) =>
  Effect.gen(function*() {
    const peer = yield* connect
    yield* peer.waitFor("Welcome!")
    let transcript = "Welcome!"
    for (const [message, reply] of exchanges) {
      yield* peer.write(message)
      transcript += reply
      yield* peer.waitFor(transcript)
    }
    return peer
  })

describe("greeting server, raw framing", () => {
  layer(serverOn({ delay: 0 }), { excludeTestServices: true })((it) => {
    it.scoped("answers the tutorial's conversation byte for byte and closes on exit", () =>
      Effect.gen(function*() {
        const peer = yield* converse([["Michael", "Hello, Michael!"], ["Tracy", "Hello, Tracy!"], ["Sarah", "Hello, Sarah!"]])
        yield* peer.write("exit")
        expect(yield* peer.closed()).toBe("Welcome!Hello, Michael!Hello, Tracy!Hello, Sarah!")
      }))

    it.scoped("echoes one trailing newline or CRLF after the !", () =>
      Effect.gen(function*() {
        const peer = yield* converse([["Michael\n", "Hello, Michael!\n"], ["Tracy\r\n", "Hello, Tracy!\r\n"]])
        yield* peer.write("exit\r\n")
        expect(yield* peer.closed()).toBe("Welcome!Hello, Michael!\nHello, Tracy!\r\n")
      }))

    it.scoped("passes binary and invalid UTF-8 bytes through unchanged", () =>
      Effect.gen(function*() {
        const binary = Buffer.from([0xff, 0x00, 0xc3, 0x28, 0xfe])
        const peer = yield* converse([])
        yield* peer.write(binary)
        yield* peer.waitFor(`Welcome!Hello, ${binary.toString("latin1")}!`)
      }))

    it.scoped("ends the conversation at end of stream, without a reply", () =>
      Effect.gen(function*() {
        const peer = yield* converse([["Michael", "Hello, Michael!"]])
        peer.socket.end()
        expect(yield* peer.closed()).toBe("Welcome!Hello, Michael!")
      }))
  })
})

describe("greeting server, line framing", () => {
  layer(serverOn({ delay: 0, framing: "line", maxLineBytes: 64 }), { excludeTestServices: true })((it) => {
    it.scoped("answers several messages sent in one write, in order", () =>
      Effect.gen(function*() {
        const peer = yield* connect
        yield* peer.write("Michael\nTracy\nSarah\n")
        yield* peer.waitFor("Welcome!Hello, Michael!\nHello, Tracy!\nHello, Sarah!\n")
      }))

    it.scoped("answers a message split over several writes once it is complete", () =>
      Effect.gen(function*() {
        const peer = yield* connect
        yield* peer.waitFor("Welcome!")
        for (const part of ["Mi", "cha", "el"]) {
          yield* peer.write(part)
          yield* Effect.sleep("30 millis")
        }
        expect(peer.received()).toBe("Welcome!")
        yield* peer.write("\n")
        yield* peer.waitFor("Welcome!Hello, Michael!\n")
      }))

    it.scoped("drops the CR of CRLF and answers with LF", () =>
      Effect.gen(function*() {
        const peer = yield* converse([["Michael\r\n", "Hello, Michael!\n"]])
        yield* peer.write("exit\r\n")
        expect(yield* peer.closed()).toBe("Welcome!Hello, Michael!\n")
      }))

    it.scoped("answers an over-long line with the error line, closes, and keeps serving others", () =>
      Effect.gen(function*() {
        const other = yield* converse([["before\n", "Hello, before!\n"]])
        const peer = yield* connect
        yield* peer.write(`ok\n${"x".repeat(65)}\nnever\n`)
        expect(yield* peer.closed()).toBe("Welcome!Hello, ok!\nError: line too long (max 64 bytes)\n")
        yield* other.write("after\n")
        yield* other.waitFor("Hello, after!\n")
      }))

    it.scoped("accepts a line of exactly the limit", () =>
      Effect.gen(function*() {
        const line = "y".repeat(64)
        yield* converse([[`${line}\r\n`, `Hello, ${line}!\n`]])
      }))

    it.scoped("answers the last, unterminated line when the client half-closes", () =>
      Effect.gen(function*() {
        const peer = yield* connect
        yield* peer.write("Michael\nTracy")
        peer.socket.end()
        expect(yield* peer.closed()).toBe("Welcome!Hello, Michael!\nHello, Tracy!\n")
      }))
  })
})

describe("greeting server, line framing with a line timeout", () => {
  layer(serverOn({ delay: 0, framing: "line", lineTimeout: "600 millis" }), { excludeTestServices: true })((it) => {
    it.scoped("cuts off a line trickled a byte at a time, however often the bytes come", () =>
      Effect.gen(function*() {
        const peer = yield* converse([["ok\n", "Hello, ok!\n"]])
        const started = Date.now()
        // A byte every 100 ms: the idle timeout would never fire.
        yield* Effect.forkScoped(Effect.forever(Effect.zipRight(peer.write("a"), Effect.sleep("100 millis"))))
        expect(yield* peer.closed()).toBe("Welcome!Hello, ok!\nError: line not complete within 0.6 s\n")
        expect(Date.now() - started).toBeGreaterThanOrEqual(550)
        expect(Date.now() - started).toBeLessThan(3000)
      }))

    it.scoped("times each line from its own first byte: slow lines that each arrive in time are answered", () =>
      Effect.gen(function*() {
        const peer = yield* converse([])
        for (const line of ["one", "two", "three"]) {
          yield* peer.write(line.slice(0, 2))
          yield* Effect.sleep("300 millis")
          yield* peer.write(`${line.slice(2)}\n`)
        }
        yield* peer.waitFor("Welcome!Hello, one!\nHello, two!\nHello, three!\n")
      }))

    it.scoped("does not time an idle connection that holds no partial line", () =>
      Effect.gen(function*() {
        const peer = yield* converse([["first\n", "Hello, first!\n"]])
        yield* Effect.sleep("900 millis")
        yield* peer.write("second\n")
        yield* peer.waitFor("Welcome!Hello, first!\nHello, second!\n")
      }))
  })
})

describe("greeting server with the tutorial's delay", () => {
  layer(serverOn({ delay: "300 millis", framing: "line" }), { excludeTestServices: true })((it) => {
    it.scoped("answers pipelined messages in order, each after the delay", () =>
      Effect.gen(function*() {
        const peer = yield* connect
        const start = Date.now()
        yield* peer.write("1\n2\n3\n")
        yield* peer.waitFor("Welcome!Hello, 1!\nHello, 2!\nHello, 3!\n")
        expect(Date.now() - start).toBeGreaterThanOrEqual(900)
      }))

    it.scoped("still sends the replies owed when the client half-closes right after sending", () =>
      Effect.gen(function*() {
        const peer = yield* connect
        yield* peer.write("Michael\nTracy\n")
        peer.socket.end()
        expect(yield* peer.closed()).toBe("Welcome!Hello, Michael!\nHello, Tracy!\n")
      }))
  })

  layer(serverOn({ delay: "1 second" }), { excludeTestServices: true })((it) => {
    it.scoped("serves 200 clients at once in about one delay, not 200 (fiber per connection)", () =>
      Effect.gen(function*() {
        const start = Date.now()
        yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => converse([[`client${i}`, `Hello, client${i}!`]]),
          { concurrency: "unbounded" }
        )
        const elapsed = Date.now() - start
        expect(elapsed).toBeGreaterThanOrEqual(1000)
        expect(elapsed).toBeLessThan(10_000)
      }), 30_000)
  })
})
