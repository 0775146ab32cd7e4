// The library guide's Cluster example (docs/library.md), kept verbatim there (test/readme.test.ts)
// and run as a program of its own by test/cluster/cluster.test.ts.
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, LogLevel } from "effect"
import { Cluster, formatAddress, Logging, type TcpConnection, TcpListener, TcpServer } from "effect-net"

// Your protocol: the first read back, saying which worker answered.
const answer = (worker: Cluster.Worker) => (connection: TcpConnection.Connection) =>
  Effect.flatMap(connection.read, (bytes) =>
    connection.write(new TextEncoder().encode(`worker ${worker.id}: ${new TextDecoder().decode(bytes)}`)))

// What each worker runs: a listener on the cluster's port (0: a free one, the same for all), served.
const server = Effect.gen(function*() {
  const worker = yield* Cluster.ClusterWorker
  const listener = yield* TcpListener.make({ host: "127.0.0.1", port: worker.port(0) })
  const { address } = listener
  yield* worker.listening(`tcp://${formatAddress(address)}`, address._tag === "TcpAddress" ? address.port : undefined)
  return yield* TcpServer.serve(answer(worker), { forceShutdown: worker.forceShutdown }).pipe(
    Effect.provideService(TcpListener.TcpListener, listener)
  )
}).pipe(Effect.scoped)

// The same file runs in the primary and in each worker: here it forks two workers and says where
// they listen; there it serves. Ctrl+C or SIGTERM drains them all. The library's routine lines
// (workers started and stopped) are Debug by default: shown here at Info.
Cluster.run(server, {
  workers: 2,
  primary: (primary) => Effect.flatMap(primary.listening, (url) => Console.log(`listening on ${url}`))
}).pipe(Logging.withRoutineLevel(LogLevel.Info), NodeRuntime.runMain({ disablePrettyLogger: true }))
