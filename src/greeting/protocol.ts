/**
 * The tutorial's greeting protocol as pure functions of bytes: its two framings by the names
 * `--framing` gives them, what the server says on accept, how it answers a message, which
 * message ends the conversation. No I/O here: the servers and clients in `TcpGreetingServer`,
 * `TcpGreetingClient`, `UdpGreetingServer` and `UdpGreetingClient` put it on the wire.
 *
 * @since 0.1.0
 * @module
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
 *
 * @example
 * ```ts
 * import { Greeting } from "effect-net"
 *
 * const framing: Greeting.FramingName = process.env.FRAMING === "line" ? "line" : "raw"
 * ```
 *
 * @since 0.1.0
 */
export type FramingName = "raw" | "line"

/**
 * Every `FramingName`, for a program that checks a name it was given.
 *
 * @example
 * ```ts
 * import { Greeting } from "effect-net"
 *
 * const isFramingName = (name: string): name is Greeting.FramingName => (Greeting.framingNames as ReadonlyArray<string>).includes(name)
 * console.log(isFramingName("line"), isFramingName("json")) // true false
 * ```
 *
 * @since 0.1.0
 */
export const framingNames: ReadonlyArray<FramingName> = ["raw", "line"]

/**
 * A new decoder (one per connection) of the framing named; `maxLineBytes` for `line`.
 *
 * @example
 * ```ts
 * import { Greeting, type Message } from "effect-net"
 *
 * const decoder = Greeting.decoder("line", 1024)
 * const messages: Array<Message> = []
 * decoder.push(new TextEncoder().encode("Ada\nGrace\nexi"), messages)
 * console.log(messages.map((message) => new TextDecoder().decode(message.body)), decoder.pending) // [ 'Ada', 'Grace' ] 3
 * ```
 *
 * @since 0.1.0
 */
export const decoder = (framing: FramingName, maxLineBytes?: number): Decoder<LineTooLongError> =>
  framing === "raw" ? raw() : lines({ maxLineBytes })

/**
 * The Stream transformation of the framing named (see `decoder`).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Greeting } from "effect-net"
 *
 * // Reads split anywhere, and their replies.
 * const replies = Stream.make("Ada\nGr", "ace\n").pipe(
 *   Stream.encodeText,
 *   Greeting.frame("line"),
 *   Stream.map((message) => new TextDecoder().decode(Greeting.reply(message))),
 *   Stream.runCollect
 * )
 * console.log([...await Effect.runPromise(replies)]) // [ 'Hello, Ada!\n', 'Hello, Grace!\n' ]
 * ```
 *
 * @since 0.1.0
 */
export const frame = (framing: FramingName, maxLineBytes?: number) => frameWith(() => decoder(framing, maxLineBytes))

/**
 * The port the tutorial's servers listen on and its clients connect to.
 *
 * @example
 * ```ts
 * import { Greeting, TcpListener } from "effect-net"
 *
 * const listener = TcpListener.layer({ port: Greeting.defaultPort })
 * console.log(Greeting.defaultPort) // 9999
 * ```
 *
 * @since 0.1.0
 */
export const defaultPort = 9999

/**
 * The names the tutorial's clients greet when given none.
 *
 * @example
 * ```ts
 * import { Greeting } from "effect-net"
 *
 * console.log(Greeting.defaultNames.join(", ")) // Michael, Tracy, Sarah
 * ```
 *
 * @since 0.1.0
 */
export const defaultNames: ReadonlyArray<string> = ["Michael", "Tracy", "Sarah"]

/**
 * Sent once on accept, with no newline (byte-exact with the tutorial).
 *
 * @example
 * ```ts
 * import { Greeting } from "effect-net"
 *
 * console.log(new TextDecoder().decode(Greeting.welcome)) // Welcome!
 * ```
 *
 * @since 0.1.0
 */
export const welcome: Uint8Array = utf8("Welcome!")

/**
 * Whether `bytes` begins with the welcome (a line-framed client reads it before the first line).
 *
 * @example
 * ```ts
 * import { Greeting } from "effect-net"
 *
 * // The welcome and the first reply may come in one read.
 * const read = new TextEncoder().encode("Welcome!Hello, Ada!\n")
 * const rest = Greeting.startsWithWelcome(read) ? read.subarray(Greeting.welcome.length) : read
 * console.log(JSON.stringify(new TextDecoder().decode(rest))) // "Hello, Ada!\n"
 * ```
 *
 * @since 0.1.0
 */
export const startsWithWelcome = (bytes: Uint8Array): boolean =>
  bytes.length >= welcome.length && equals(bytes.subarray(0, welcome.length), welcome)

const exitBody = utf8("exit")
const hello = utf8("Hello, ")
const bang = utf8("!")

/**
 * The message that ends a conversation (no reply is sent).
 *
 * @example
 * ```ts
 * import { Framing, Greeting } from "effect-net"
 *
 * const message = Framing.rawMessage(new TextEncoder().encode("exit\r\n"))
 * console.log(Greeting.isExit(message)) // true
 * ```
 *
 * @since 0.1.0
 */
export const isExit = (message: Message): boolean =>
  message.body.length === exitBody.length && equals(message.body, exitBody)

/**
 * The reply to a message: `Hello, <body>!<terminator>` (the terminator it came with, if any).
 *
 * @example
 * ```ts
 * import { Framing, Greeting } from "effect-net"
 *
 * const reply = Greeting.reply(Framing.rawMessage(new TextEncoder().encode("Michael\n")))
 * console.log(JSON.stringify(new TextDecoder().decode(reply))) // "Hello, Michael!\n"
 * ```
 *
 * @since 0.1.0
 */
export const reply = (message: Message): Uint8Array => concat(hello, message.body, bang, message.terminator)

/**
 * Sent before closing a connection whose line is over the limit, or did not arrive whole in
 * time (line framing): `Error: line too long (max N bytes)\n`, `Error: line not complete within N s\n`.
 *
 * @example
 * ```ts
 * import { Greeting, LineTooLongError } from "effect-net"
 *
 * const said = Greeting.framingError(new LineTooLongError({ maxLineBytes: 8192 }))
 * console.log(JSON.stringify(new TextDecoder().decode(said))) // "Error: line too long (max 8192 bytes)\n"
 * ```
 *
 * @since 0.1.0
 */
export const framingError = (error: LineTooLongError | LineTimeoutError): Uint8Array => utf8(`Error: ${error.message}\n`)

/**
 * Sent to a connection refused because the server is at its connection limit.
 *
 * @example
 * ```ts
 * import { Greeting, TcpServer } from "effect-net"
 *
 * const options: TcpServer.TcpServerOptions = { maxConnections: 100, busyMessage: Greeting.serverBusy }
 * console.log(JSON.stringify(new TextDecoder().decode(Greeting.serverBusy))) // "Error: server busy\n"
 * ```
 *
 * @since 0.1.0
 */
export const serverBusy: Uint8Array = utf8("Error: server busy\n")

/**
 * How many bytes `reply` adds to a message's own: the longest message whose reply fits a limit
 * is that limit less this.
 *
 * @example
 * ```ts
 * import { Greeting } from "effect-net"
 *
 * console.log(Greeting.replyOverhead, 65507 - Greeting.replyOverhead) // 8 65499
 * ```
 *
 * @since 0.1.0
 */
export const replyOverhead = hello.length + bang.length

/**
 * Sent instead of a reply too large for one UDP datagram; `maxBytes` is the longest message
 * that can be answered.
 *
 * @example
 * ```ts
 * import { Greeting } from "effect-net"
 *
 * console.log(JSON.stringify(new TextDecoder().decode(Greeting.datagramTooLong(65499)))) // "Error: datagram too long (max 65499 bytes)\n"
 * ```
 *
 * @since 0.1.0
 */
export const datagramTooLong = (maxBytes: number): Uint8Array =>
  utf8(`Error: datagram too long (max ${maxBytes} bytes)\n`)
