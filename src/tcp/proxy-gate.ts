/**
 * The PROXY protocol step of a listener's accept path: each accepted connection's header is read
 * (with a timeout and a size cap), in a fiber of its own, before the connection is handed to the
 * server, so that the server (its logs, metrics and limits) sees the client the header names, and
 * the bytes after the header are its first read. A connection from a peer not trusted to send a
 * header, without one or with an invalid one is closed, with one log line and a count.
 */
import { Cause, Effect, FiberRef, FiberSet, type Scope } from "effect"
import { formatAddress } from "../address.js"
import * as Metrics from "../metrics/metrics.js"
import { matcher } from "./cidr.js"
import { ConnectionScheduler, wake } from "../internal/scheduler.js"
import { logRoutine } from "../internal/log.js"
import { setProxied } from "../internal/socket-connection.js"
import type { Connection } from "./connection.js"
import type { ProxyProtocolError, TcpSocketError, TcpTimeoutError } from "./errors.js"
import { clientAddress, defaults, type ListenerOptions, readHeader } from "./proxy-protocol.js"

export interface Gate {
  /** Reads `connection`'s header, then hands it to `handOver`; or closes it. */
  readonly admit: (connection: Connection, handOver: (connection: Connection) => void) => void
  /** Closes the connections whose header is still awaited, without handing them over. */
  readonly stop: Effect.Effect<void>
}

/** `NotProxyProtocol` as `not_proxy_protocol`: the metric's tag. */
const reasonTag = (error: ProxyProtocolError | TcpSocketError | TcpTimeoutError): Metrics.ProxyRejectedReason => {
  switch (error._tag) {
    case "ProxyProtocolError":
      return error.reason.replace(/(?<=.)[A-Z]/g, (letter) => `_${letter}`).toLowerCase() as Metrics.ProxyRejectedReason
    case "TcpTimeoutError":
      return "timeout"
    case "TcpSocketError":
      return "failed"
  }
}

/** The gate of a listener; the scope interrupts what it is still reading. */
export const make = (options: ListenerOptions): Effect.Effect<Gate, never, Scope.Scope> =>
  Effect.gen(function*() {
    const trusted = matcher(options.trusted ?? defaults.trusted)
    const headerOptions = { timeout: options.timeout, maxHeaderBytes: options.maxHeaderBytes }
    const pending = yield* FiberSet.make<void>()
    const runFork = yield* FiberSet.runtime(pending)<never>()
    // Started and woken within the socket's events, as a server's connection fibers are.
    const scheduler = new ConnectionScheduler(yield* FiberRef.get(FiberRef.currentScheduler))

    /** One line naming the peer and why: at info for a peer that sent nothing (a balancer's health check), else a warning. */
    const refuse = (connection: Connection, peer: string, reason: Metrics.ProxyRejectedReason, why: string) => {
      Metrics.proxyRejected.unsafeUpdate(1, Metrics.proxyRejectedTags[reason])
      const message = `refused ${peer}: ${why}`
      return Effect.zipRight(
        connection.close,
        (reason === "closed" ? logRoutine(message) : Effect.logWarning(message)).pipe(Effect.annotateLogs("peer", peer))
      )
    }

    const admit = (connection: Connection, handOver: (connection: Connection) => void) => {
      const remote = connection.remote
      const peer = formatAddress(remote)
      // A peer on a Unix socket has no IP address to trust.
      if (remote._tag === "UnixAddress" || !trusted(remote.hostname)) {
        runFork(refuse(connection, peer, "untrusted", "not a trusted proxy, so it may not send a PROXY protocol header"))
        return
      }
      const readAndHandOver = Effect.matchCauseEffect(readHeader(connection.read, headerOptions), {
          onSuccess: ({ header, rest }) =>
            Effect.sync(() => {
              setProxied(connection, clientAddress(header), rest)
              handOver(connection)
            }),
          onFailure: (cause) => {
            const failure = Cause.failureOption(cause)
            return failure._tag === "Some"
              ? refuse(connection, peer, reasonTag(failure.value), failure.value.message)
              : connection.close
          }
        }).pipe(Effect.onInterrupt(() => connection.close))
      wake((effect) => runFork(effect, { scheduler }), readAndHandOver)
    }

    return { admit, stop: FiberSet.clear(pending) }
  })
