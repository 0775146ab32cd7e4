/**
 * Load generator: SOCKETS sockets, each keeping WINDOW datagrams in flight to the greeting
 * server, until TOTAL replies have come back. A window that makes no progress for 100 ms (its
 * datagrams or replies were dropped) is refilled. Prints `{"datagrams", "seconds", "resent",
 * "loadCpu"}`.
 * Usage: node udp-flood.js PORT SOCKETS WINDOW TOTAL
 */
import * as Dgram from "node:dgram"

const [port, sockets, window, total] = process.argv.slice(2, 6).map(Number) as [number, number, number, number]
const message = Buffer.from("Michael")
let received = 0
let resent = 0
const start = process.hrtime.bigint()

const report = () => {
  const cpu = process.cpuUsage()
  console.log(JSON.stringify({
    datagrams: received,
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    resent,
    loadCpu: (cpu.user + cpu.system) / 1e6
  }))
  process.exit(0)
}

for (let i = 0; i < sockets; i++) {
  const socket = Dgram.createSocket("udp4")
  let inFlight = 0
  let progressed = true
  const send = () => {
    inFlight++
    socket.send(message, port, "127.0.0.1")
  }
  // Each reply makes room for one more datagram.
  socket.on("message", () => {
    progressed = true
    inFlight--
    if (++received === total) return report()
    send()
  })
  socket.bind(0, "127.0.0.1", () => {
    for (let j = 0; j < window; j++) send()
    setInterval(() => {
      if (!progressed && inFlight > 0) {
        resent += inFlight
        const lost = inFlight
        inFlight = 0
        for (let j = 0; j < lost; j++) send()
      }
      progressed = false
    }, 100).unref()
  })
}
