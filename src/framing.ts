/**
 * Framing: how a connection's reads become messages.
 * - `raw` (the tutorial's semantics): one read is one message.
 * - `lines`: newline-delimited messages, robust to pipelining and to lines split across reads,
 *   with a cap on line length so a peer cannot make us buffer without bound.
 * Each is a `Decoder` (pure, incremental: a read in, the messages it completes out) and a Stream
 * transformation made of it.
 */
import { Channel, Chunk, Data, Stream } from "effect"
import { concat } from "./bytes.js"

/** A message as framed from the byte stream: its body and the terminator it came with, if any. */
export interface Message {
  readonly body: Uint8Array
  /** `\n`, `\r\n` or empty: what ended the message on the wire (a protocol may echo it). */
  readonly terminator: Uint8Array
}

export type Framing = "raw" | "line"
export const framings: ReadonlyArray<Framing> = ["raw", "line"]

export const defaultMaxLineBytes = 8192

const LF = 0x0a
const CR = 0x0d
const none = new Uint8Array(0)
const lf = new Uint8Array([LF])
const crlf = new Uint8Array([CR, LF])

/** A line grew past the limit before its newline arrived. */
export class LineTooLongError extends Data.TaggedError("LineTooLongError")<{
  readonly maxLineBytes: number
}> {
  override get message(): string {
    return `line too long (max ${this.maxLineBytes} bytes)`
  }
}

/** A line did not arrive whole within the time allowed from its first byte (a peer trickling bytes). */
export class LineTimeoutError extends Data.TaggedError("LineTimeoutError")<{
  readonly seconds: number
}> {
  override get message(): string {
    return `line not complete within ${this.seconds} s`
  }
}

/** What can go wrong in framing a peer's bytes: what a protocol may answer before it closes. */
export type FramingError = LineTooLongError | LineTimeoutError

/** One read as one message; a single trailing `\n` or `\r\n` becomes its terminator. */
export const rawMessage = (read: Uint8Array): Message => {
  const n = read.length
  if (n > 0 && read[n - 1] === LF) {
    return n > 1 && read[n - 2] === CR
      ? { body: read.subarray(0, n - 2), terminator: crlf }
      : { body: read.subarray(0, n - 1), terminator: lf }
  }
  return { body: read, terminator: none }
}

/** Turns reads into messages, one read at a time. */
export interface Decoder {
  /**
   * Appends the messages that `read` completes to `out`. Returns the error when a line is over
   * the limit (`out` then holds the complete messages before it), else nothing.
   */
  readonly push: (read: Uint8Array, out: Array<Message>) => LineTooLongError | undefined
  /** The unterminated last message at end of input, if any. */
  readonly flush: () => Message | undefined
  /** Bytes held of a message not complete yet (a line waiting for its newline). */
  readonly pending: number
  /**
   * Its messages are the reads themselves (`raw`): a reader must hand it each read whole. Other
   * decoders give the same messages for any split of the bytes into reads.
   */
  readonly framesAreReads?: boolean | undefined
}

const rawDecoder: Decoder = {
  push: (read, out) => {
    out.push(rawMessage(read))
    return undefined
  },
  flush: () => undefined,
  pending: 0,
  framesAreReads: true
}

/** One read as one message (see `rawMessage`). */
export const raw = <E, R>(reads: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Message, E, R> =>
  Stream.mapChunks(reads, Chunk.map(rawMessage))

/**
 * Incremental line splitter. Lines exclude their `\n` (and a `\r` before it); the limit counts
 * the line's own bytes. Holds at most one partial line of at most `maxLineBytes + 1` bytes.
 */
export class LineDecoder implements Decoder {
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

  flush(): Message | undefined {
    if (this.partialBytes === 0) return undefined
    let line = concat(...this.partial)
    this.partial = []
    this.partialBytes = 0
    if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
    return { body: line, terminator: lf }
  }
}

/**
 * Newline-delimited messages. Fails with `LineTooLongError` after emitting every complete line
 * that came before the over-long one; an unterminated last line is emitted at end of input.
 */
export const lines = (maxLineBytes: number = defaultMaxLineBytes) =>
<E, R>(reads: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Message, E | LineTooLongError, R> =>
  Stream.suspend(() => {
    const decoder = new LineDecoder(maxLineBytes)
    const loop: Channel.Channel<
      Chunk.Chunk<Message>,
      Chunk.Chunk<Uint8Array>,
      E | LineTooLongError,
      E,
      unknown,
      unknown
    > = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<Uint8Array>) => {
        const out: Array<Message> = []
        for (const read of input) {
          const tooLong = decoder.push(read, out)
          if (tooLong !== undefined) return Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), Channel.fail(tooLong))
        }
        return out.length === 0 ? loop : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), loop)
      },
      onFailure: Channel.failCause,
      onDone: () => {
        const last = decoder.flush()
        return last === undefined ? Channel.void : Channel.write(Chunk.of(last))
      }
    })
    return Stream.pipeThroughChannelOrFail(reads, loop)
  })

/** The decoder of the framing named on the command line (a new one per connection). */
export const decoder = (framing: Framing, maxLineBytes: number = defaultMaxLineBytes): Decoder =>
  framing === "raw" ? rawDecoder : new LineDecoder(maxLineBytes)

/** The Stream transformation of the framing named on the command line. */
export const frame = (framing: Framing, maxLineBytes: number = defaultMaxLineBytes) =>
<E, R>(reads: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Message, E | LineTooLongError, R> =>
  framing === "raw" ? raw(reads) : lines(maxLineBytes)(reads)
