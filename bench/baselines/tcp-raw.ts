/**
 * Baseline 1: the greeting server written directly on node:net (raw framing, no delay): the
 * physical limit for Node. `node tcp-raw.js PORT` prints `listening on tcp://127.0.0.1:PORT`.
 */
import * as Net from "node:net"

const hello = Buffer.from("Hello, ")
const bang = Buffer.from("!")
const exit = Buffer.from("exit")

const server = Net.createServer({ noDelay: true }, (socket) => {
  socket.on("error", () => socket.destroy())
  socket.write("Welcome!")
  socket.on("data", (data: Buffer) => {
    if (data.equals(exit)) return void socket.end()
    socket.write(Buffer.concat([hello, data, bang]))
  })
})
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening on tcp://127.0.0.1:${(server.address() as Net.AddressInfo).port}`)
})
process.on("SIGTERM", () => process.exit(0))
