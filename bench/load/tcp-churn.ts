/**
 * Load generator: WORKERS clients in parallel (keep it small: the tutorial's server listens
 * with a backlog of 5), TOTAL conversations in all, each a new
 * connection: welcome, one message and its reply, `exit`, and the server's close.
 * Prints `{"connections", "seconds", "loadCpu"}`.
 * Usage: node tcp-churn.js PORT TOTAL WORKERS
 */
import * as Net from "node:net"

const [port, total, workers] = [Number(process.argv[2]), Number(process.argv[3]), Number(process.argv[4])]
const reply = "Welcome!Hello, Michael!".length
let started = 0
let finished = 0
const start = process.hrtime.bigint()

const converse = () => {
  started++
  const socket = Net.connect({ port, host: "127.0.0.1", noDelay: true })
  let received = 0
  socket.on("data", (data: Buffer) => {
    const before = received
    received += data.length
    if (before < 8 && received >= 8 && received < reply) socket.write("Michael")
    if (received >= reply) socket.end("exit")
  })
  socket.on("close", () => {
    if (++finished === total) return report()
    if (started < total) converse()
  })
  socket.on("error", (error) => {
    console.error(`load: ${error.message}`)
    process.exit(1)
  })
}

const report = () => {
  const cpu = process.cpuUsage()
  console.log(JSON.stringify({
    connections: finished,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    loadCpu: (cpu.user + cpu.system) / 1e6
  }))
  process.exit(0)
}

for (let i = 0; i < workers; i++) converse()
