/**
 * The protocol between the primary and its workers: the environment a worker is forked with (its
 * number, the port to bind) and the messages each sends the other over the cluster's IPC channel.
 */
import type { Worker as WorkerProcess } from "node:cluster"
import type { Sample } from "./metrics.js"

const workerVariable = "EFFECT_NET_CLUSTER_WORKER"
const portVariable = "EFFECT_NET_CLUSTER_PORT"

/** The environment of the worker numbered `id`, told to bind `port` if the cluster has one (see `Worker.port`). */
export const workerEnv = (id: number, port: number | undefined): Record<string, string> => {
  const env: Record<string, string> = { [workerVariable]: String(id) }
  if (port !== undefined) env[portVariable] = String(port)
  return env
}

/** This process's number and port, if a primary forked it with `workerEnv`. */
export const assignment = (): { readonly id: number; readonly port: number | undefined } | undefined => {
  const id = process.env[workerVariable]
  if (id === undefined) return undefined
  const port = process.env[portVariable]
  return { id: Number(id), port: port === undefined ? undefined : Number(port) }
}

/** Messages between the primary and a worker, told apart from the program's own by their key. */
export type ToPrimary =
  | { readonly effectNet: "up" }
  | { readonly effectNet: "listening"; readonly url: string; readonly port: number | undefined }
  | { readonly effectNet: "failed"; readonly detail: string }
  | { readonly effectNet: "metrics"; readonly request: number | undefined; readonly samples: ReadonlyArray<Sample> }
export type ToWorker =
  | { readonly effectNet: "stop" }
  | { readonly effectNet: "force" }
  | { readonly effectNet: "metrics"; readonly request: number }

export const isMessage = <A extends { readonly effectNet: string }>(message: unknown): message is A =>
  typeof message === "object" && message !== null && "effectNet" in message

/** Sends over IPC if it is still open; a closed channel (the peer is gone) is not an error here. */
const ignore = () => {}
export const sendToPrimary = (message: ToPrimary) => {
  if (process.connected) process.send!(message, undefined, undefined, ignore)
}
export const sendToWorker = (worker: WorkerProcess, message: ToWorker) => {
  if (worker.isConnected()) worker.send(message, undefined, ignore)
}

/** Sending to a worker that just died can fail: its exit is what counts. */
export const ignoreSendErrors = (worker: WorkerProcess) => {
  worker.on("error", ignore)
}
