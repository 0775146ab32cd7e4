/**
 * Load generator: `connections` clients, each doing `roundTrips` ping-pongs (send a name, wait
 * for its reply) with the greeting protocol, all at once. Plain node:net callbacks, so that the
 * generator costs as little CPU as possible. Prints one JSON line: messages, elapsed seconds,
 * latency p50/p99 in ms, and the generator's own CPU seconds. With `tls`, over TLS (any
 * certificate accepted); the clock starts once every connection's handshake is done. With `lp`,
 * the length-prefixed greeting (`harness/length-prefixed.ts`, no welcome): each reply is parsed
 * as a frame, and a reply that is not the expected one fails the run.
 * Usage: node tcp-pingpong.js PORT CONNECTIONS ROUND_TRIPS [raw|line|lp] [tls]
 */
import * as Net from "node:net"
import * as Tls from "node:tls"
import { FrameReader, frame, greeting } from "../harness/length-prefixed.js"

const [port, connections, roundTrips, framing, tls] = [
  Number(process.argv[2]),
  Number(process.argv[3]),
  Number(process.argv[4]),
  process.argv[5] ?? "raw",
  process.argv[6] === "tls"
]
const lp = framing === "lp"
const name = Buffer.from("Michael")
const message = lp ? frame(name) : Buffer.from(framing === "line" ? "Michael\n" : "Michael")
const expected = greeting(name)
const replyLength = expected.length + (framing === "line" ? 1 : 0)
const welcomeLength = "Welcome!".length
const latencies = new Float64Array(connections * roundTrips)
let recorded = 0
let finished = 0
let start = 0n

const fail = (message: string) => {
  console.error(`load: ${message}`)
  process.exit(1)
}

/** Opened a few at a time (the tutorial's server listens with a backlog of 5), then all start at once. */
const clients: Array<() => void> = []
let opened = 0
const client = () => {
  opened++
  const options = { port, host: "127.0.0.1", noDelay: true }
  const socket = tls ? Tls.connect({ ...options, rejectUnauthorized: false }) : Net.connect(options)
  let pending = welcomeLength
  let done = 0
  let sentAt = 0n
  let awaiting = false
  const send = () => {
    sentAt = process.hrtime.bigint()
    pending = replyLength
    awaiting = true
    socket.write(message)
  }
  /** Connected (and welcomed): starts with the others once all are. */
  const ready = () => {
    clients.push(send)
    if (opened < connections) return void client()
    if (clients.length < connections) return
    start = process.hrtime.bigint()
    clients.forEach((go) => go())
  }
  const replied = () => {
    latencies[recorded++] = Number(process.hrtime.bigint() - sentAt) / 1e6
    if (++done < roundTrips) return send()
    socket.end()
    if (++finished === connections) report()
  }
  if (lp) {
    const frames = new FrameReader()
    const onFrame = (payload: Buffer) => {
      if (!awaiting || !payload.equals(expected)) fail(`unexpected reply: ${JSON.stringify(payload.toString("latin1"))}`)
      awaiting = false
      replied()
    }
    socket.once(tls ? "secureConnect" : "connect", ready)
    socket.on("data", (data: Buffer) => {
      if (!frames.push(data, onFrame)) fail("a reply's frame announces more than its cap")
    })
  } else {
    socket.on("data", (data: Buffer) => {
      pending -= data.length
      if (pending > 0) return
      if (sentAt === 0n) return ready()
      replied()
    })
  }
  socket.on("error", (error) => fail(error.message))
}

const report = () => {
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9
  const sorted = latencies.subarray(0, recorded).sort()
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  const cpu = process.cpuUsage()
  console.log(JSON.stringify({
    messages: recorded,
    seconds: elapsed,
    p50: at(0.5),
    p99: at(0.99),
    loadCpu: (cpu.user + cpu.system) / 1e6
  }))
  process.exit(0)
}

for (let i = 0; i < Math.min(4, connections); i++) client()
