import { describe, expect, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { lines, rejectsFlags } from "../helpers/cli.js"
import { sample, scrape } from "../helpers/http.js"
import * as Peer from "../helpers/peer.js"
import { root, run, runScript, startServer } from "../helpers/process.js"
import { selfSigned } from "../helpers/tls.js"

const cert = `${root}test/fixtures/tls/cert.pem`
const key = `${root}test/fixtures/tls/key.pem`
const tlsFlags = ["--tls-cert", cert, "--tls-key", key]
const pythonClient = fileURLToPath(new URL("../fixtures/tls_tcp_client.py", import.meta.url))
const tutorialLines = ["Welcome!", "Hello, Michael!", "Hello, Tracy!", "Hello, Sarah!"]

/** The greeting server in TLS (the fixture's certificate) on a free port. */
const startTlsServer = (args: ReadonlyArray<string> = []) =>
  startServer("start:tcp", ["--port", "0", "--delay", "0", ...tlsFlags, ...args])

/** Runs a shell command line (a third-party client fed by printf). */
const shell = (script: string) => run(["sh", "-c", script], "20 seconds")

/** Waits until the server's stderr has a line matching `pattern`. */
const logged = (server: { stderr: () => string }, pattern: RegExp) =>
  Effect.suspend(() => pattern.test(server.stderr()) ? Effect.void : Effect.fail("not yet")).pipe(
    Effect.retry({ times: 250, schedule: Schedule.spaced("20 millis") }),
    Effect.orDie
  )

describe("pnpm start:tcp --tls-cert --tls-key", () => {
  it.scopedLive("says tls:// and holds the tutorial's conversation with the tutorial's client over Python's ssl", () =>
    Effect.gen(function*() {
      const server = yield* startTlsServer()
      expect(server.stdout()).toBe(`listening on tls://127.0.0.1:${server.port}\n`)
      const client = yield* run(["python3", pythonClient, String(server.port), cert])
      expect(client).toMatchObject({ code: 0, stdout: tutorialLines.join("\n") + "\n" })
    }))

  it.scopedLive("talks with openssl s_client, which verifies the certificate (line framing)", () =>
    Effect.gen(function*() {
      const server = yield* startTlsServer(["--framing", "line"])
      const client = yield* shell(
        `printf 'Michael\\nTracy\\nexit\\n' | openssl s_client -quiet -connect 127.0.0.1:${server.port} -CAfile ${cert} -verify_return_error -verify_ip 127.0.0.1`
      )
      expect(client.code).toBe(0)
      expect(client.stdout).toBe("Welcome!Hello, Michael!\nHello, Tracy!\n")
    }))

  it.scopedLive("talks with socat - OPENSSL:...,verify=0", () =>
    Effect.gen(function*() {
      const server = yield* startTlsServer(["--framing", "line"])
      const client = yield* shell(`printf 'Ada\\nexit\\n' | socat -t 5 - OPENSSL:127.0.0.1:${server.port},verify=0`)
      expect(client).toMatchObject({ code: 0, stdout: "Welcome!Hello, Ada!\n" })
    }))

  it.scopedLive("a client that does not speak TLS is one log line and a count; the server goes on", () =>
    Effect.gen(function*() {
      const server = yield* startTlsServer(["--metrics-port", "0"])
      const plain = yield* Peer.connect(server.port)
      yield* plain.write("Michael\n")
      yield* plain.closed()
      yield* logged(server, /TLS handshake with/)
      expect(lines(server.stderr()).filter((line) => line.includes("TLS handshake"))).toEqual([
        expect.stringMatching(
          new RegExp(`level=INFO .*message="TLS handshake with 127\\.0\\.0\\.1:${plain.socket.localPort} failed: wrong version number \\(ERR_SSL_WRONG_VERSION_NUMBER\\)"`)
        )
      ])
      expect(sample(yield* scrape(server), "effect_net_tcp_tls_handshake_failures_total")).toBe(1)
      const client = yield* run(["python3", pythonClient, String(server.port), cert])
      expect(client).toMatchObject({ code: 0, stdout: tutorialLines.join("\n") + "\n" })
      server.child.kill("SIGTERM")
      expect(yield* server.exited).toBe(0)
    }))

  it.scopedLive("with --tls-ca, serves a client with a certificate that CA signed, and refuses one without", () =>
    Effect.gen(function*() {
      const client = yield* selfSigned("client")
      const server = yield* startTlsServer(["--framing", "line", "--tls-ca", client.certPath])
      const served = yield* shell(
        `printf 'Ada\\nexit\\n' | openssl s_client -quiet -connect 127.0.0.1:${server.port} -CAfile ${cert} -cert ${client.certPath} -key ${client.keyPath}`
      )
      expect(served).toMatchObject({ code: 0, stdout: "Welcome!Hello, Ada!\n" })
      const refused = yield* runScript("client:tcp", ["--port", String(server.port), "--tls", "--ca", cert, "--timeout", "5"])
      expect(refused.code).toBe(1)
      expect(refused.stdout).toBe("")
      // TLS 1.3: the client's side of the handshake is done when the server refuses it, with an alert.
      expect(lines(refused.stderr)).toEqual([
        expect.stringMatching(/^error: the connection with 127\.0\.0\.1:\d+ failed: tlsv13 alert certificate required \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\)$/)
      ])
      yield* logged(server, /message="TLS handshake with 127\.0\.0\.1:\d+ failed: peer did not return a certificate \(ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE\)"/)
    }))

  it.scopedLive("limits and graceful shutdown apply: a client over the limit is told the server is busy; SIGTERM lets the reply owed go out", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "1", "--max-connections", "1", ...tlsFlags])
      const trusting = { ca: readFileSync(cert) }
      const first = yield* Peer.connect(server.port, "127.0.0.1", trusting)
      yield* first.waitFor("Welcome!")
      const second = yield* Peer.connect(server.port, "127.0.0.1", trusting)
      expect(yield* second.closed()).toBe("Error: server busy\n")
      yield* first.write("Ada")
      yield* Effect.sleep("200 millis")
      server.child.kill("SIGTERM")
      expect(yield* first.closed()).toBe("Welcome!Hello, Ada!")
      expect(yield* server.exited).toBe(0)
    }))

  it.scopedLive("says which file it cannot read, naming the flag, with exit code 1", () =>
    Effect.gen(function*() {
      const missing = `${root}test/fixtures/tls/missing.pem`
      const result = yield* runScript("start:tcp", ["--port", "0", "--tls-cert", missing, "--tls-key", key])
      expect(result.code).toBe(1)
      expect(lines(result.stderr)).toEqual([`error: cannot read --tls-cert ${missing}: no such file or directory (ENOENT)`])
      const directory = yield* runScript("start:tcp", ["--port", "0", "--tls-cert", cert, "--tls-key", `${root}test`])
      expect(lines(directory.stderr)).toEqual([`error: cannot read --tls-key ${root}test: is a directory (EISDIR)`])
    }))

  it.scopedLive("says so, with exit code 1, when the key is not the certificate's or not PEM", () =>
    Effect.gen(function*() {
      const other = yield* selfSigned("other")
      const mismatch = yield* runScript("start:tcp", ["--port", "0", "--tls-cert", cert, "--tls-key", other.keyPath])
      expect(mismatch.code).toBe(1)
      expect(lines(mismatch.stderr)).toEqual([
        "error: cannot listen on 127.0.0.1:0: the TLS certificate or key is unusable: key values mismatch (ERR_OSSL_X509_KEY_VALUES_MISMATCH); " +
        "--tls-key must be the private key of the certificate in --tls-cert, both in PEM"
      ])
      const swapped = yield* runScript("start:tcp", ["--port", "0", "--tls-cert", key, "--tls-key", cert])
      expect(swapped.code).toBe(1)
      expect(swapped.stderr).toContain("the TLS certificate or key is unusable: no start line (ERR_OSSL_PEM_NO_START_LINE)")
    }))

  rejectsFlags("start:tcp", [
    [["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"],
    [["--tls-key", "key.pem"], "--tls-cert and --tls-key go together"],
    [["--tls-ca", "ca.pem"], "--tls-ca needs --tls-cert and --tls-key"]
  ])
})

describe("pnpm client:tcp --tls", () => {
  it.scopedLive("verifies the server's certificate: with --ca it trusts it, with --insecure it does not check, with neither it refuses", () =>
    Effect.gen(function*() {
      const server = yield* startTlsServer()
      const port = String(server.port)
      const trusted = yield* runScript("client:tcp", ["--port", port, "--tls", "--ca", cert, "Ada"])
      expect(trusted).toMatchObject({ code: 0, stdout: "Welcome!\nHello, Ada!\n" })
      const insecure = yield* runScript("client:tcp", ["--port", port, "--tls", "--insecure", "Ada"])
      expect(insecure).toMatchObject({ code: 0, stdout: "Welcome!\nHello, Ada!\n" })
      const untrusted = yield* runScript("client:tcp", ["--port", port, "--tls", "Ada"])
      expect(untrusted.code).toBe(1)
      expect(lines(untrusted.stderr)).toEqual([
        `error: cannot connect to 127.0.0.1:${port}: its TLS certificate is not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT); ` +
        "if you trust this server (a self-signed certificate, say), use --insecure"
      ])
    }))

  it.scopedLive("says so when the server does not speak TLS", () =>
    Effect.gen(function*() {
      const server = yield* startServer("start:tcp", ["--port", "0", "--delay", "0"])
      const result = yield* runScript("client:tcp", ["--port", String(server.port), "--tls", "--insecure", "--timeout", "5"])
      expect(result.code).toBe(1)
      expect(lines(result.stderr)).toEqual([
        `error: cannot connect to 127.0.0.1:${server.port}: the TLS handshake failed: wrong version number (ERR_SSL_WRONG_VERSION_NUMBER); ` +
        "does the server speak TLS on that port (or is it http://)?"
      ])
    }))

  it.live("says which --ca file it cannot read, with exit code 1", () =>
    Effect.gen(function*() {
      const result = yield* runScript("client:tcp", ["--tls", "--ca", "no-such-ca.pem"])
      expect(result.code).toBe(1)
      expect(lines(result.stderr)).toEqual(["error: cannot read --ca no-such-ca.pem: no such file or directory (ENOENT)"])
    }))

  rejectsFlags("client:tcp", [
    [["--insecure"], "--insecure needs --tls"],
    [["--ca", "ca.pem"], "--ca needs --tls"]
  ])
})
