/**
 * The HTTP benchmark's server: `GET /big` answers BYTES bytes (a repeated 64 KiB block) with a
 * Content-Length, written as fast as the client reads. Prints `listening on http://...`, then
 * for each response `{"seconds": S}`: from the request to the last byte taken by the client's
 * kernel, the transfer without the client's start-up.
 * Usage: node http-source.js BYTES
 */
import * as Http from "node:http"

const size = Number(process.argv[2])
const block = Buffer.alloc(64 * 1024, "x")

const server = Http.createServer((_request, response) => {
  const started = process.hrtime.bigint()
  response.once("finish", () => console.log(JSON.stringify({ seconds: Number(process.hrtime.bigint() - started) / 1e9 })))
  response.writeHead(200, { "Content-Length": size, "Content-Type": "application/octet-stream" })
  let sent = 0
  const pump = () => {
    while (sent < size) {
      const chunk = size - sent >= block.length ? block : block.subarray(0, size - sent)
      sent += chunk.length
      if (!response.write(chunk)) return void response.once("drain", pump)
    }
    response.end()
  }
  pump()
})
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as import("node:net").AddressInfo
  console.log(`listening on http://127.0.0.1:${port}`)
})
process.on("SIGTERM", () => process.exit(0))
