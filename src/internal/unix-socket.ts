/**
 * The socket file of a listener on a Unix domain socket: its path checked (Node would cut a long
 * one short without a word), a stale file from a crashed run replaced only when nothing listens
 * on it, and its permissions set. Closing the listener removes the file (libuv does).
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { unixAddress } from "../address.js"
import { bindReason, errorCode } from "../internal/os-error.js"
import { TcpListenError } from "../tcp/errors.js"

/** The longest path of a Unix socket: Linux's `sun_path` holds 108 bytes, its NUL included. */
const maxPathBytes = 107

/**
 * Why `path` cannot be a Unix socket's, if it is too long (Node would use the first 107 bytes of
 * it without a word).
 */
export const tooLong = (path: string): Error | undefined => {
  const bytes = Buffer.byteLength(path)
  return bytes > maxPathBytes ? new Error(`the path is ${bytes} bytes long, a Unix socket's at most ${maxPathBytes}`) : undefined
}

const failure = (path: string, reason: TcpListenError["reason"], cause: unknown) =>
  new TcpListenError({ address: unixAddress(path), reason, cause })

/** The OS error `cause`, at `path`. */
const failed = (path: string) => (cause: unknown) => failure(path, bindReason(cause), cause)

/** Connects to the socket at `path`: whether a server takes the connection (false: refused, a stale file). */
const isListening = (path: string) =>
  Effect.async<boolean, TcpListenError>((resume) => {
    const socket = Net.connect({ path })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", (cause) => {
      socket.destroy()
      // EAGAIN: its backlog is full, so something listens.
      const code = errorCode(cause)
      if (code === "ECONNREFUSED") resume(Effect.succeed(false))
      else if (code === "EAGAIN") resume(Effect.succeed(true))
      else resume(Effect.fail(failed(path)(cause)))
    })
    return Effect.sync(() => socket.destroy())
  })

/**
 * Removes what is at `path`, found in use when binding, if it is a stale socket file (nothing
 * listens on it); fails if a server listens there, or the file is no socket.
 */
const removeStale = (path: string): Effect.Effect<void, TcpListenError> =>
  Effect.gen(function*() {
    const stats = yield* Effect.try({
      try: () => Fs.lstatSync(path, { throwIfNoEntry: false }),
      catch: failed(path)
    })
    // Gone meanwhile: free.
    if (stats === undefined) return
    if (!stats.isSocket()) return yield* Effect.fail(failure(path, "AddressInUse", new Error("a file that is not a socket is in the way")))
    if (yield* isListening(path)) return yield* Effect.fail(failure(path, "AddressInUse", new Error("another server is listening on it")))
    yield* Effect.try({ try: () => Fs.unlinkSync(path), catch: failed(path) })
  })

/**
 * Why the directory of `path` cannot hold it, if it is missing or no directory: libuv reports
 * either as EACCES when binding.
 */
const directoryError = (path: string): unknown => {
  try {
    Fs.opendirSync(Path.dirname(path)).closeSync()
    return undefined
  } catch (cause) {
    return errorCode(cause) === "EACCES" ? undefined : cause
  }
}

/**
 * Binds a listener to `path` with `listen` (a server's `listen` as an Effect): checks the path's
 * length first (see `tooLong`); replaces a stale socket file; then gives the file `mode`, if any.
 */
export const bind = (
  path: string,
  mode: number | undefined,
  listen: Effect.Effect<void, unknown>
): Effect.Effect<void, TcpListenError> =>
  Effect.gen(function*() {
    const long = tooLong(path)
    if (long !== undefined) return yield* Effect.fail(failure(path, "Other", long))
    yield* listen.pipe(
      Effect.catchIf((cause) => errorCode(cause) === "EADDRINUSE", () => Effect.zipRight(removeStale(path), listen)),
      Effect.mapError((cause) => cause instanceof TcpListenError ? cause : failed(path)(directoryError(path) ?? cause))
    )
    // Set once bound: a client may connect in between with the umask's permissions (make its directory private if that matters).
    if (mode !== undefined) {
      yield* Effect.try({ try: () => Fs.chmodSync(path, mode), catch: failed(path) })
    }
  })
