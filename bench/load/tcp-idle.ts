/**
 * Load generator: opens CONNECTIONS connections, waits for each welcome, prints `{"open": N}`,
 * then holds them until a line arrives on stdin, and closes them.
 * Usage: node tcp-idle.js PORT CONNECTIONS
 */
import * as Net from "node:net"

const [port, connections] = [Number(process.argv[2]), Number(process.argv[3])]
const sockets: Array<Net.Socket> = []
let welcomed = 0
let opening = 0

// At most 100 handshakes in flight: the listen backlog stays far from full.
const openNext = () => {
  while (opening < 100 && sockets.length < connections) {
    opening++
    const socket = Net.connect({ port, host: "127.0.0.1" })
    sockets.push(socket)
    socket.on("error", (error) => {
      console.error(`load: ${error.message}`)
      process.exit(1)
    })
    socket.once("data", () => {
      opening--
      if (++welcomed === connections) console.log(JSON.stringify({ open: welcomed }))
      else openNext()
    })
  }
}
openNext()
process.stdin.once("data", () => {
  for (const socket of sockets) socket.destroy()
  process.exit(0)
})
