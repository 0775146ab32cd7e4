import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Stream } from "effect"
import type { Message } from "../../src/framing/decoder.js"
import { LineTimeoutError, LineTooLongError } from "../../src/framing/errors.js"
import { rawMessage } from "../../src/framing/raw.js"
import * as Greeting from "../../src/greeting/protocol.js"

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1")
const bytes = (s: string) => Buffer.from(s, "latin1")

describe("greeting protocol", () => {
  it("welcomes with exactly Welcome! and no newline", () => {
    expect(text(Greeting.welcome)).toBe("Welcome!")
  })

  it("answers Hello, <message>! and echoes the terminator", () => {
    expect(text(Greeting.reply(rawMessage(bytes("Michael"))))).toBe("Hello, Michael!")
    expect(text(Greeting.reply(rawMessage(bytes("Michael\n"))))).toBe("Hello, Michael!\n")
    expect(text(Greeting.reply(rawMessage(bytes("Michael\r\n"))))).toBe("Hello, Michael!\r\n")
  })

  it("passes any bytes through unchanged, invalid UTF-8 included", () => {
    const body = new Uint8Array([0xff, 0x00, 0xc3, 0x28, 0x80])
    expect([...Greeting.reply(rawMessage(body))]).toEqual([...bytes("Hello, "), ...body, ...bytes("!")])
  })

  it("treats exit, exit\\n and exit\\r\\n as the end, and nothing else", () => {
    for (const exit of ["exit", "exit\n", "exit\r\n"]) expect(Greeting.isExit(rawMessage(bytes(exit)))).toBe(true)
    for (const other of ["exit!", " exit", "Exit", "exit\n\n", "exi", ""]) {
      expect(Greeting.isExit(rawMessage(bytes(other)))).toBe(false)
    }
  })

  it("words its error lines as specified", () => {
    expect(text(Greeting.framingError(new LineTooLongError({ maxLineBytes: 8192 })))).toBe("Error: line too long (max 8192 bytes)\n")
    expect(text(Greeting.framingError(new LineTimeoutError({ timeout: Duration.seconds(30) })))).toBe("Error: line not complete within 30 s\n")
    expect(text(Greeting.serverBusy)).toBe("Error: server busy\n")
  })
})

describe("the framings by name", () => {
  // The fast loop (`TcpConnection.runMessages`) decodes with `decoder`, the Stream with `frame`:
  // the same messages (test/tcp/connection.test.ts checks the two over a real connection too).
  const show = (messages: ReadonlyArray<Message>) => messages.map((m) => text(m.body) + "|" + JSON.stringify(text(m.terminator)))
  const input = "Ada\nGr" + "ace\r\n\nexit\nlast"
  const splits = [[input], input.split(""), ["Ada\nGr", "ace\r", "\n\nexit\nla", "st"]]
  for (const framing of Greeting.framingNames) {
    for (const reads of splits) {
      it.effect(`give the same messages (${framing} framing, ${reads.length} reads)`, () =>
        Effect.gen(function*() {
          const framed = yield* Stream.fromIterable(reads.map(bytes)).pipe(Greeting.frame(framing), Stream.runCollect)
          const decode = Greeting.decoder(framing)
          const decoded: Array<Message> = []
          for (const read of reads) expect(decode.push(bytes(read), decoded)).toBeUndefined()
          expect(decode.flush(decoded)).toBeUndefined()
          expect(show(Chunk.toReadonlyArray(framed))).toEqual(show(decoded))
        }))
    }
  }

  it("are raw and line, line with its limit", () => {
    expect(Greeting.framingNames).toEqual(["raw", "line"])
    expect(Greeting.decoder("line", 3).push(bytes("abcd\n"), [])).toEqual(new LineTooLongError({ maxLineBytes: 3 }))
  })
})
