/**
 * The tutorial's TCP greeting client: reads the welcome, sends each name and reads its reply,
 * then says `exit`. The conversation is a Stream of the lines to show, so a caller prints each
 * reply as it arrives.
 */
import { Chunk, Data, Duration, Effect, Option, Stream } from "effect"
import { utf8 } from "../bytes.js"
import type { Message } from "../framing/decoder.js"
import { lines as lineDecoder } from "../framing/lines.js"
import { rawMessage } from "../framing/raw.js"
import { TcpClient } from "../tcp/client.js"
import type { TcpError } from "../tcp/connection.js"
import * as Greeting from "./protocol.js"

export interface TcpGreetingClientOptions {
  /** Default: the tutorial's Michael, Tracy and Sarah. */
  readonly names?: ReadonlyArray<string> | undefined
  readonly framing?: Greeting.FramingName | undefined
  /** How long to wait for the welcome and for each reply; default 30 seconds (the tutorial's). */
  readonly replyTimeout?: Duration.DurationInput | undefined
}

export const defaults = {
  names: Greeting.defaultNames,
  framing: "raw" as Greeting.FramingName,
  replyTimeout: Duration.seconds(30)
} as const

/** The server did not hold up its side of the conversation. */
export class GreetingClientError extends Data.TaggedError("GreetingClientError")<{
  readonly reason: "ClosedEarly" | "Timeout" | "ServerError"
  /** What we were waiting for: `the welcome`, `the reply to Tracy`. */
  readonly awaiting: string
  readonly detail?: string
}> {
  override get message(): string {
    switch (this.reason) {
      case "ClosedEarly":
        return `the server closed the connection before sending ${this.awaiting}`
      case "Timeout":
        return `no answer from the server while waiting for ${this.awaiting} (${this.detail})`
      case "ServerError":
        return `the server refused the conversation: ${this.detail}`
    }
  }
}

const decoder = new TextDecoder()
const errorPrefix = "Error: "
const maxReplyBytes = 1024 * 1024

/**
 * Splits what the server sends into the lines to show. `raw`: one read per reply, as the
 * tutorial's client. `line`: the welcome (which has no newline) and then one reply per line.
 */
const replies = (framing: Greeting.FramingName) => (reads: Stream.Stream<Uint8Array, TcpError>): Stream.Stream<string, TcpError> => {
  if (framing === "raw") return Stream.map(reads, (read) => decoder.decode(rawMessage(read).body))
  return Stream.suspend(() => {
    const lines = lineDecoder({ maxLineBytes: maxReplyBytes })
    let welcomed = false
    return Stream.mapConcat(reads, (read) => {
      const out: Array<string> = []
      if (!welcomed) {
        welcomed = true
        if (Greeting.startsWithWelcome(read)) {
          out.push(decoder.decode(Greeting.welcome))
          read = read.subarray(Greeting.welcome.length)
        }
      }
      const messages: Array<Message> = []
      const tooLong = lines.push(read, messages)
      for (const message of messages) out.push(decoder.decode(message.body))
      // Reported like a server's own error line, so the conversation stops there.
      if (tooLong !== undefined) out.push(`${errorPrefix}a reply is longer than ${maxReplyBytes} bytes`)
      return out
    })
  })
}

/**
 * Runs the conversation on the `TcpClient`'s connection: emits the welcome, then each reply in the order
 * of the names; finally sends `exit` and half-closes.
 */
export const converse = (
  options: TcpGreetingClientOptions = {}
): Stream.Stream<string, GreetingClientError | TcpError, TcpClient> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    const connection = yield* TcpClient
    const framing = options.framing ?? defaults.framing
    const timeout = Duration.decode(options.replyTimeout ?? defaults.replyTimeout)
    const pull = yield* Stream.toPull(replies(framing)(connection.reads))
    const pending: Array<string> = []

    const next = (awaiting: string): Effect.Effect<string, GreetingClientError | TcpError> => {
      const text = pending.shift()
      if (text !== undefined) {
        return text.startsWith(errorPrefix)
          ? Effect.fail(new GreetingClientError({ reason: "ServerError", awaiting, detail: text.slice(errorPrefix.length) }))
          : Effect.succeed(text)
      }
      return pull.pipe(
        Effect.mapError(Option.getOrElse(() => new GreetingClientError({ reason: "ClosedEarly", awaiting }))),
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new GreetingClientError({ reason: "Timeout", awaiting, detail: `${Duration.format(timeout)}` })
        }),
        Effect.flatMap((chunk) => {
          pending.push(...Chunk.toReadonlyArray(chunk))
          return next(awaiting)
        })
      )
    }

    const terminator = framing === "line" ? "\n" : ""
    const send = (text: string) => connection.write(utf8(text + terminator))
    return Stream.concat(
      Stream.fromEffect(next("the welcome")),
      Stream.mapEffect(
        Stream.fromIterable(options.names ?? defaults.names),
        (name) => Effect.zipRight(send(name), next(`the reply to ${name}`))
      )
    ).pipe(Stream.concat(Stream.execute(Effect.zipRight(send("exit"), connection.end))))
  }))
