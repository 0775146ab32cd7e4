import { describe, expect, it } from "@effect/vitest"
import * as Greeting from "../../src/greeting/protocol.js"
import { LineTimeoutError, LineTooLongError, rawMessage } from "../../src/framing.js"

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
    expect(text(Greeting.framingError(new LineTimeoutError({ seconds: 30 })))).toBe("Error: line not complete within 30 s\n")
    expect(text(Greeting.serverBusy)).toBe("Error: server busy\n")
  })
})
