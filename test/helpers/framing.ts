/**
 * What the codec tests share: a decoder driven read by read as a connection would drive it
 * (recording the most it held), and byte streams cut into reads anywhere.
 */
import { FastCheck } from "effect"
import type { Framing } from "effect-net"

/** Latin1 text as bytes, and back: byte-exact. */
export const bytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "latin1"))
export const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("latin1")

export interface Decoded<A> {
  /** The frames emitted, up to the error if any. */
  readonly frames: Array<A>
  /** The error of `push` or `flush`, if any. */
  readonly error: unknown
  /** The most the decoder held after a push that did not fail (after a failure, the connection closes). */
  readonly maxPending: number
}

/** Pushes `reads` one by one into `decoder` (stopping at an error), then flushes it. */
export const decode = <E, A>(decoder: Framing.Decoder<E, A>, reads: Iterable<Uint8Array>): Decoded<A> => {
  const frames: Array<A> = []
  let maxPending = 0
  for (const read of reads) {
    const error = decoder.push(read, frames)
    if (error !== undefined) return { frames, error, maxPending }
    maxPending = Math.max(maxPending, decoder.pending)
  }
  return { frames, error: decoder.flush(frames), maxPending }
}

/** The error's tag, or `undefined`: what a split cannot change (a delimited frame's length may be unknown in pieces). */
export const tagOf = (error: unknown): string | undefined =>
  error === undefined ? undefined : (error as { readonly _tag: string })._tag

/** `bytes` cut into reads at random places (empty reads included), or one byte a read. */
export const splits = (bytes: Uint8Array): FastCheck.Arbitrary<ReadonlyArray<Uint8Array>> =>
  FastCheck.oneof(
    FastCheck.array(FastCheck.integer({ min: 0, max: bytes.length }), { maxLength: 12 }).map((cuts) => {
      const at = [0, ...cuts.sort((a, b) => a - b), bytes.length]
      return at.slice(1).map((end, i) => bytes.subarray(at[i]!, end))
    }),
    FastCheck.constant(Array.from(bytes, (byte) => Uint8Array.of(byte)))
  )

/** A byte stream and a way to cut it into reads. */
export const withSplits = (
  stream: FastCheck.Arbitrary<Uint8Array>
): FastCheck.Arbitrary<readonly [Uint8Array, ReadonlyArray<Uint8Array>]> =>
  stream.chain((bytes) => splits(bytes).map((reads) => [bytes, reads] as const))

/** Bytes of a small alphabet (so that delimiters and headers occur often), as a byte stream. */
export const bytesOf = (alphabet: ReadonlyArray<number>, maxLength = 200): FastCheck.Arbitrary<Uint8Array> =>
  FastCheck.array(FastCheck.constantFrom(...alphabet), { maxLength }).map((array) => Uint8Array.from(array))
