/**
 * A worker's place in the primary's cluster: the process in it now, if any, and what the primary
 * knows of it. A replacement takes the place, and the number, of the process it replaces.
 */
import { Deferred, Exit, FiberId } from "effect"
import cluster, { type Worker as WorkerProcess } from "node:cluster"
import { ignoreSendErrors, workerEnv } from "./ipc.js"
import type { Sample } from "./metrics.js"

/** How a worker process ended. */
export interface ProcessExit {
  readonly code: number | null
  readonly signal: string | null
}

export interface Slot {
  readonly id: number
  process: WorkerProcess | undefined
  /** Completed once the process has exited and its channel is closed (every message read). */
  exited: Deferred.Deferred<ProcessExit> | undefined
  /** The port the process was told to bind, if any (see `Worker.port`). */
  port: number | undefined
  /** It hears our messages. */
  up: boolean
  /** It serves. */
  listening: boolean
  /** How it described its failure, if it failed. */
  failure: string | undefined
  /** When it last sent anything (see `ClusterOptions.watchdog`). */
  heardAt: number
  /** The watchdog has killed it. */
  silenced: boolean
  /** Its last metrics. */
  samples: ReadonlyArray<Sample>
  startedAt: number
  /** How many processes it has had, this one included. */
  processes: number
  /** Deaths in a row, each after a short life: the back-off's exponent. */
  deaths: number
}

/** The empty place of worker `id`. */
export const make = (id: number): Slot => ({
  id,
  process: undefined,
  exited: undefined,
  port: undefined,
  up: false,
  listening: false,
  failure: undefined,
  heardAt: 0,
  silenced: false,
  samples: [],
  startedAt: 0,
  processes: 0,
  deaths: 0
})

export const describeExit = ({ code, signal }: ProcessExit) =>
  signal !== null ? `was killed by ${signal}` : code === 0 ? "exited" : `exited with code ${code}`

/**
 * Forks a process into `slot`, told to bind `port`. `onMessage` hears what it sends; `onGone`
 * runs once it has exited and its channel is closed, while `slot` still holds what it reported,
 * and before its `exited` completes.
 */
export const fork = (
  slot: Slot,
  port: number | undefined,
  onMessage: (worker: WorkerProcess) => (message: unknown) => void,
  onGone: (slot: Slot) => void
) => {
  slot.port = port
  const worker = cluster.fork(workerEnv(slot.id, port))
  const exited = Deferred.unsafeMake<ProcessExit>(FiberId.none)
  const now = Date.now()
  Object.assign(slot, {
    process: worker,
    exited,
    up: false,
    listening: false,
    failure: undefined,
    heardAt: now,
    silenced: false,
    samples: [],
    startedAt: now
  })
  slot.processes++
  let exit: ProcessExit | undefined
  let disconnected = false
  const done = () => {
    if (exit === undefined || !disconnected) return
    onGone(slot)
    slot.process = undefined
    Deferred.unsafeDone(exited, Exit.succeed(exit))
  }
  worker.on("message", onMessage(worker))
  ignoreSendErrors(worker)
  worker.on("exit", (code: number | null, signal: string | null) => {
    exit = { code, signal }
    done()
  })
  worker.on("disconnect", () => {
    disconnected = true
    done()
  })
  return { pid: worker.process.pid, exited }
}
