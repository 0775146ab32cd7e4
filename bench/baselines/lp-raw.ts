/**
 * The lp ping-pong case's baseline 1: the length-prefixed greeting (`harness/length-prefixed.ts`:
 * a frame holding a name in, a frame holding `Hello, <name>!` out, no welcome) written directly
 * on node:net, frames decoded across reads. `node lp-raw.js PORT` prints
 * `listening on tcp://127.0.0.1:PORT`.
 */
import * as Net from "node:net"
import { FrameReader, frame, greeting } from "../harness/length-prefixed.js"

const server = Net.createServer({ noDelay: true }, (socket) => {
  const frames = new FrameReader()
  const reply = (name: Buffer) => void socket.write(frame(greeting(name)))
  socket.on("error", () => socket.destroy())
  socket.on("data", (data: Buffer) => {
    // A frame too large for us: the peer is not speaking our protocol.
    if (!frames.push(data, reply)) socket.destroy()
  })
})
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening on tcp://127.0.0.1:${(server.address() as Net.AddressInfo).port}`)
})
process.on("SIGTERM", () => process.exit(0))
