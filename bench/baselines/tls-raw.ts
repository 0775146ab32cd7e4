/**
 * Baseline of the TLS case: the greeting server written directly on node:tls (raw framing, no
 * delay), with the test certificate: what TLS costs Node itself. `node tls-raw.js PORT CERT KEY`
 * prints `listening on tls://127.0.0.1:PORT`.
 */
import { readFileSync } from "node:fs"
import * as Tls from "node:tls"

const hello = Buffer.from("Hello, ")
const bang = Buffer.from("!")
const exit = Buffer.from("exit")

const [port, cert, key] = process.argv.slice(2)
const server = Tls.createServer({ cert: readFileSync(cert!), key: readFileSync(key!), noDelay: true }, (socket) => {
  socket.on("error", () => socket.destroy())
  socket.write("Welcome!")
  socket.on("data", (data: Buffer) => {
    if (data.equals(exit)) return void socket.end()
    socket.write(Buffer.concat([hello, data, bang]))
  })
})
server.on("tlsClientError", () => {})
server.listen(Number(port ?? 0), "127.0.0.1", () => {
  console.log(`listening on tls://127.0.0.1:${(server.address() as { port: number }).port}`)
})
process.on("SIGTERM", () => process.exit(0))
