/**
 * Line framing: newline-delimited messages, robust to pipelining and to lines split across reads,
 * with a cap on a line's length so that a peer cannot make us buffer without bound.
 */
import { concat } from "../bytes.js"
import type { Decoder, Message } from "./decoder.js"
import { LineTooLongError } from "./errors.js"
import { CR, LF, lf } from "./terminators.js"

/**
 * Options of `lines`.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * const options: Framing.LinesOptions = { maxLineBytes: 1024 }
 * const decoder = Framing.lines(options)
 * ```
 *
 * @since 0.1.0
 */
export interface LinesOptions {
  /** The longest line accepted, its `\n` (and `\r`) not counted; default 8192 (Netty's telnet example's). */
  readonly maxLineBytes?: number | undefined
}

/** The defaults of `LinesOptions` (exported as `Framing.defaults.lines`). */
export const defaults = {
  maxLineBytes: 8192
} as const

/**
 * Lines exclude their `\n` (and a `\r` before it); the limit counts the line's own bytes. Holds at
 * most one partial line of at most `maxLineBytes + 1` bytes.
 */
class LineDecoder implements Decoder<LineTooLongError> {
  private partial: Array<Uint8Array> = []
  private partialBytes = 0

  get pending(): number {
    return this.partialBytes
  }

  private readonly tooLong: LineTooLongError

  constructor(readonly maxLineBytes: number) {
    this.tooLong = new LineTooLongError({ maxLineBytes })
  }

  push(read: Uint8Array, out: Array<Message>): LineTooLongError | undefined {
    let start = 0
    for (let end = read.indexOf(LF); end !== -1; end = read.indexOf(LF, start)) {
      let line = read.subarray(start, end)
      if (this.partialBytes > 0) {
        line = concat(...this.partial, line)
        this.partial = []
        this.partialBytes = 0
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
      if (line.length > this.maxLineBytes) return this.tooLong
      out.push({ body: line, terminator: lf })
      start = end + 1
    }
    if (start < read.length) {
      const rest = read.subarray(start)
      this.partial.push(rest)
      this.partialBytes += rest.length
      // One byte of slack: a line of exactly the limit may be waiting for the `\n` after its `\r`.
      const over = this.partialBytes - this.maxLineBytes
      if (over > 1 || (over === 1 && rest[rest.length - 1] !== CR)) return this.tooLong
    }
    return undefined
  }

  flush(out: Array<Message>): undefined {
    if (this.partialBytes === 0) return undefined
    let line = concat(...this.partial)
    this.partial = []
    this.partialBytes = 0
    if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
    out.push({ body: line, terminator: lf })
    return undefined
  }
}

/**
 * A decoder of newline-delimited messages: each line's body without its `\n` (or `\r\n`), with
 * `\n` as its terminator. Fails with `LineTooLongError` as soon as a line passes `maxLineBytes`,
 * without waiting for its newline, after the lines before it; an unterminated last line is a
 * message at end of input (as `nc` sends one).
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Framing } from "effect-net"
 *
 * const program = Stream.make("Ada\nGr", "ace\r\n").pipe(
 *   Stream.encodeText,
 *   Framing.frame(() => Framing.lines({ maxLineBytes: 1024 })),
 *   Stream.map((line) => new TextDecoder().decode(line.body)),
 *   Stream.runCollect
 * )
 * Effect.runPromise(program).then(console.log) // { _id: 'Chunk', values: [ 'Ada', 'Grace' ] }
 * ```
 *
 * @since 0.1.0
 */
export const lines = (options: LinesOptions = {}): Decoder<LineTooLongError> =>
  new LineDecoder(options.maxLineBytes ?? defaults.maxLineBytes)
