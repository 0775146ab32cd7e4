/**
 * The UDP baseline: the greeting server written directly on node:dgram (`Hello, <data>!`,
 * with the raw framing's newline rule). `node udp-raw.js PORT` prints `listening on udp://...`.
 */
import * as Dgram from "node:dgram"

const hello = Buffer.from("Hello, ")
const bang = Buffer.from("!")

const socket = Dgram.createSocket("udp4")
socket.on("message", (data, from) => {
  socket.send(Buffer.concat([hello, data, bang]), from.port, from.address)
})
socket.bind(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  console.log(`listening on udp://127.0.0.1:${socket.address().port}`)
})
process.on("SIGTERM", () => process.exit(0))
