/**
 * The lp ping-pong case's protocol, written directly on Buffers: frames of a 4-byte big-endian
 * length and the payload (effect-net's `Framing.lengthPrefixed()` defaults); the client sends a
 * name, the server answers `Hello, <name>!`. The baselines' servers and the load generator frame
 * with this code, and the effect-net server makes its replies' payloads with `greeting`, so that
 * what differs between the servers is the library.
 */

/** The largest payload accepted: effect-net's default, so that every server refuses the same frames. */
export const maxFrameBytes = 1024 * 1024

const headerBytes = 4
const hello = Buffer.from("Hello, ")
const bang = Buffer.from("!")

/** `payload` as a frame: its length, then itself. */
export const frame = (payload: Uint8Array): Buffer => {
  const framed = Buffer.allocUnsafe(headerBytes + payload.length)
  framed.writeUInt32BE(payload.length, 0)
  framed.set(payload, headerBytes)
  return framed
}

/** The reply's payload to a name: `Hello, <name>!`. */
export const greeting = (name: Uint8Array): Buffer => Buffer.concat([hello, name, bang])

/**
 * One connection's frames, across reads. A frame whole in one read is a view of it; the reads a
 * frame spans are held until its header, then the whole frame, has come, and only then joined:
 * no bytes are copied again read after read.
 */
export class FrameReader {
  private readonly held: Array<Buffer> = []
  private heldBytes = 0
  /** What the held bytes must reach before there is something to decode: a header, or the frame it announces. */
  private needed = headerBytes

  /** Calls `onFrame` with each payload `data` completes; false if a frame announces more than `maxFrameBytes`. */
  push(data: Buffer, onFrame: (payload: Buffer) => void): boolean {
    let bytes = data
    if (this.heldBytes > 0) {
      this.held.push(data)
      this.heldBytes += data.length
      if (this.heldBytes < this.needed) return true
      bytes = Buffer.concat(this.held, this.heldBytes)
      this.held.length = 0
      this.heldBytes = 0
    }
    let at = 0
    this.needed = headerBytes
    while (bytes.length - at >= headerBytes) {
      const length = bytes.readUInt32BE(at)
      if (length > maxFrameBytes) return false
      const end = at + headerBytes + length
      if (end > bytes.length) {
        this.needed = headerBytes + length
        break
      }
      onFrame(bytes.subarray(at + headerBytes, end))
      at = end
    }
    if (at < bytes.length) {
      this.held.push(bytes.subarray(at))
      this.heldBytes = bytes.length - at
    }
    return true
  }
}
