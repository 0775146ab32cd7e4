/**
 * The tutorial's greeting protocol as pure functions of bytes: its two framings by the names
 * `--framing` gives them, what the server says on accept, how it answers a message, which
 * message ends the conversation. No I/O here.
 */
import { concat, equals, utf8 } from "../bytes.js"
import type { Decoder, Message } from "../framing/decoder.js"
import type { LineTimeoutError, LineTooLongError } from "../framing/errors.js"
import { lines } from "../framing/lines.js"
import { raw } from "../framing/raw.js"
import { frame as frameWith } from "../framing/stream.js"

/**
 * The greeting service's framings: `raw`, one read is one message (the tutorial's), and `line`,
 * newline-delimited messages.
 */
export type FramingName = "raw" | "line"
export const framingNames: ReadonlyArray<FramingName> = ["raw", "line"]

/** A new decoder (one per connection) of the framing named; `maxLineBytes` for `line`. */
export const decoder = (framing: FramingName, maxLineBytes?: number): Decoder<LineTooLongError> =>
  framing === "raw" ? raw() : lines({ maxLineBytes })

/** The Stream transformation of the framing named (see `decoder`). */
export const frame = (framing: FramingName, maxLineBytes?: number) => frameWith(() => decoder(framing, maxLineBytes))

/** The port the tutorial's servers listen on and its clients connect to. */
export const defaultPort = 9999

/** The names the tutorial's clients greet when given none. */
export const defaultNames: ReadonlyArray<string> = ["Michael", "Tracy", "Sarah"]

/** Sent once on accept, with no newline (byte-exact with the tutorial). */
export const welcome: Uint8Array = utf8("Welcome!")

/** Whether `bytes` begins with the welcome (a line-framed client reads it before the first line). */
export const startsWithWelcome = (bytes: Uint8Array): boolean =>
  bytes.length >= welcome.length && equals(bytes.subarray(0, welcome.length), welcome)

const exitBody = utf8("exit")
const hello = utf8("Hello, ")
const bang = utf8("!")

/** The message that ends a conversation (no reply is sent). */
export const isExit = (message: Message): boolean =>
  message.body.length === exitBody.length && equals(message.body, exitBody)

/** `Hello, <body>!<terminator>` */
export const reply = (message: Message): Uint8Array => concat(hello, message.body, bang, message.terminator)

/**
 * Sent before closing a connection whose line is over the limit, or did not arrive whole in
 * time (line framing): `Error: line too long (max N bytes)\n`, `Error: line not complete within N s\n`.
 */
export const framingError = (error: LineTooLongError | LineTimeoutError): Uint8Array => utf8(`Error: ${error.message}\n`)

/** Sent to a connection refused because the server is at its connection limit. */
export const serverBusy: Uint8Array = utf8("Error: server busy\n")

/** How many bytes `reply` adds to a message's own. */
export const replyOverhead = hello.length + bang.length

/** Sent instead of a reply too large for one UDP datagram. */
export const datagramTooLong = (maxBytes: number): Uint8Array =>
  utf8(`Error: datagram too long (max ${maxBytes} bytes)\n`)
