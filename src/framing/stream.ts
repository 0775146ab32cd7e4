/**
 * The Stream side of the codecs: any decoder as a transformation of a Stream of reads into a
 * Stream of frames, the composable counterpart of the server's fast loop.
 */
import { Channel, Chunk, Stream } from "effect"
import type { Decoder } from "./decoder.js"

/**
 * Frames a Stream of reads with a decoder made by `makeDecoder`, one per run of the Stream (a
 * Stream may be run more than once, and a decoder holds the state of one run). Emits each frame
 * as its last byte comes; on a decoder's error, emits the frames before it, then fails with it;
 * at the end of the reads, emits the last frame or fails as the decoder's `flush` says.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Framing, TcpConnection } from "effect-net"
 *
 * // Each line a client sends, logged as it comes.
 * const handler = (connection: TcpConnection.Connection) =>
 *   connection.reads.pipe(
 *     Framing.frame(Framing.lines),
 *     Stream.runForEach((line) => Effect.log(new TextDecoder().decode(line.body)))
 *   )
 * ```
 *
 * @since 0.1.0
 */
export const frame = <E, A>(makeDecoder: () => Decoder<E, A>) =>
<E1, R>(reads: Stream.Stream<Uint8Array, E1, R>): Stream.Stream<A, E1 | E, R> =>
  Stream.suspend(() => {
    const decoder = makeDecoder()
    type Loop = Channel.Channel<Chunk.Chunk<A>, Chunk.Chunk<Uint8Array>, E1 | E, E1, unknown, unknown>
    /** Emits `out`, then goes on with `next`. */
    const emit = (out: Array<A>, next: Loop): Loop =>
      out.length === 0 ? next : Channel.zipRight(Channel.write(Chunk.unsafeFromArray(out)), next)
    const loop: Loop = Channel.readWithCause({
      onInput: (input: Chunk.Chunk<Uint8Array>) => {
        const out: Array<A> = []
        for (const read of input) {
          const error = decoder.push(read, out)
          if (error !== undefined) return emit(out, Channel.fail(error))
        }
        return emit(out, loop)
      },
      onFailure: Channel.failCause,
      onDone: () => {
        const out: Array<A> = []
        const error = decoder.flush(out)
        return emit(out, error === undefined ? Channel.void : Channel.fail(error))
      }
    })
    return Stream.pipeThroughChannelOrFail(reads, loop)
  })
