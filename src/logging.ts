/**
 * How much the library says. What needs attention (a handler's failure, accepts failing, a server
 * at its connection limit) logs at Warning or Error. Routine events (a peer that reset or timed
 * out, a failed TLS handshake, a shutdown's progress, the tutorial services' lines) log at
 * `routineLevel`: Debug, unseen by default, unless the program raises it, as the `effect-net`
 * program does to Info.
 *
 * @since 0.1.0
 * @module
 */
import { Effect, FiberRef, Layer, LogLevel } from "effect"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"

/**
 * The level of the library's routine lines; Debug by default.
 *
 * @example
 * ```ts
 * import { Effect, FiberRef, LogLevel } from "effect"
 * import { Logging } from "effect-net"
 *
 * const level = Effect.runSync(FiberRef.get(Logging.routineLevel))
 * console.log(level.label) // DEBUG
 * ```
 *
 * @since 0.1.0
 */
export const routineLevel: FiberRef.FiberRef<LogLevel.LogLevel> = globalValue(
  Symbol.for("effect-net/Logging/routineLevel"),
  () => FiberRef.unsafeMake<LogLevel.LogLevel>(LogLevel.Debug)
)

/**
 * Runs `effect` with the library's routine lines at `level` (a server's accepts and closes at
 * Info, say).
 *
 * @example
 * ```ts
 * import { Effect, LogLevel } from "effect"
 * import { Logging, TcpGreetingServer, TcpListener } from "effect-net"
 *
 * const program = TcpGreetingServer.serve().pipe(
 *   Logging.withRoutineLevel(LogLevel.Info),
 *   Effect.provide(TcpListener.layer({ port: 9999 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const withRoutineLevel: {
  (level: LogLevel.LogLevel): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, level: LogLevel.LogLevel): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(effect: Effect.Effect<A, E, R>, level: LogLevel.LogLevel) => Effect.locally(effect, routineLevel, level))

/**
 * The library's routine lines at `level` for everything the program builds with this layer.
 *
 * @example
 * ```ts
 * import { Layer, LogLevel } from "effect"
 * import { Logging, TcpGreetingServer, TcpListener } from "effect-net"
 *
 * const main = TcpGreetingServer.layer().pipe(
 *   Layer.provide(TcpListener.layer({ port: 9999 })),
 *   Layer.provide(Logging.layerRoutineLevel(LogLevel.Info))
 * )
 * ```
 *
 * @since 0.1.0
 */
export const layerRoutineLevel = (level: LogLevel.LogLevel): Layer.Layer<never> => Layer.locallyScoped(routineLevel, level)
