import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from "node:fs"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import { lines } from "../helpers/cli.js"
import {
  freePort,
  hasExited,
  root,
  rss,
  run,
  runScript,
  scriptCommand,
  start,
  startInTerminal,
  tutorial
} from "../helpers/process.js"
import { httpServer, httpsServer, rawServer, silentServer, writeApart } from "../helpers/servers.js"

const MB = 1024 * 1024

/** A fresh directory for a test's output files; the scope removes it. */
const directory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(Path.join(tmpdir(), "http-get-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Waits until `dir` holds a file (a download has started writing). */
const untilFiles = (dir: string) =>
  Effect.suspend(() => readdirSync(dir).length > 0 ? Effect.void : Effect.fail("no file yet")).pipe(
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeout("10 seconds")
  )

/** `pnpm http:get ARGS` with `-o DIR/out`: the exit code, stderr, and the file's content if there is one. */
const getToFile = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const dir = yield* directory
    const out = Path.join(dir, "out")
    const { code, stdout, stderr } = yield* runScript("http:get", [...args, "-o", out])
    return { code, stdout, stderr, file: existsSync(out) ? readFileSync(out, "latin1") : undefined, files: readdirSync(dir) }
  })

describe("pnpm http:get", () => {
  it.scopedLive("saves a Content-Length body to -o FILE, the status line and headers on stderr", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-Test: yes\r\n\r\nhello\n"))
      expect(yield* getToFile([`http://127.0.0.1:${port}/`])).toEqual({
        code: 0,
        stdout: "",
        stderr: "HTTP/1.1 200 OK\nContent-Length: 6\nX-Test: yes\n",
        file: "hello\n",
        files: ["out"]
      })
    }))

  it.scopedLive("names the file after the URL's last path segment, or index.html", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const port = yield* httpServer((req, res) => res.end(`you asked for ${req.url}`))
      // The built program by its absolute path, run in the test's directory.
      const command = scriptCommand("http:get")
      for (const path of ["/files/report.txt?version=2", "/"]) {
        const running = yield* start([...command, `http://127.0.0.1:${port}${path}`], { cwd: dir })
        running.child.stdin?.end()
        expect(yield* running.exited).toBe(0)
      }
      expect(readdirSync(dir).sort()).toEqual(["index.html", "report.txt"])
      expect(readFileSync(Path.join(dir, "report.txt"), "utf8")).toBe("you asked for /files/report.txt?version=2")
      expect(readFileSync(Path.join(dir, "index.html"), "utf8")).toBe("you asked for /")
    }))

  it.scopedLive("never creates a name holding a control character: they stay percent-encoded", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const port = yield* httpServer((_req, res) => res.end("data"))
      for (const path of ["/a%0Ab.txt", "/nul%00.txt", "/%1B%5B2J"]) {
        const running = yield* start([...scriptCommand("http:get"), `http://127.0.0.1:${port}${path}`], { cwd: dir })
        running.child.stdin?.end()
        expect(yield* running.exited, running.stderr()).toBe(0)
      }
      expect(readdirSync(dir).sort()).toEqual(["%1B[2J", "a%0Ab.txt", "nul%00.txt"])
    }))

  it.scopedLive("run as `pnpm http:get`, saves a relative path in the directory pnpm was run from", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const port = yield* httpServer((_req, res) => res.end("here"))
      // pnpm runs the script in the project's directory, and says in INIT_CWD where the user was.
      const running = yield* start([...scriptCommand("http:get"), `http://127.0.0.1:${port}/x`, "-o", "out.txt"], {
        env: { npm_lifecycle_event: "http:get", INIT_CWD: dir }
      })
      running.child.stdin?.end()
      expect(yield* running.exited).toBe(0)
      expect(readFileSync(Path.join(dir, "out.txt"), "utf8")).toBe("here")
    }))

  it.scopedLive("writes the body to stdout with -o -, and the head first with --include", () =>
    Effect.gen(function*() {
      const response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
      const port = yield* rawServer((socket) => socket.end(response))
      expect(yield* runScript("http:get", [`http://127.0.0.1:${port}/`, "-o", "-"])).toMatchObject({ code: 0, stdout: "hello" })
      expect(yield* runScript("http:get", [`http://127.0.0.1:${port}/`, "-o", "-", "--include"])).toMatchObject({
        code: 0,
        stdout: response
      })
    }))

  it.scopedLive("accepts a head whose lines end in a bare LF", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) => socket.end("HTTP/1.1 200 OK\nContent-Length: 6\nX-Test: yes\n\nhello\n"))
      expect(yield* getToFile([`http://127.0.0.1:${port}/`])).toMatchObject({
        code: 0,
        stderr: "HTTP/1.1 200 OK\nContent-Length: 6\nX-Test: yes\n",
        file: "hello\n"
      })
    }))

  describe("the server's text on stderr", () => {
    // A reason phrase and a header that would set the terminal's title, clear it, and start a C1 control sequence.
    const hostile = "Not\x1b]0;owned\x07Found \x1b[2J\x7f\x9b"
    const escaped = "Not\\x1b]0;owned\\x07Found \\x1b[2J\\x7f\\x9b"
    /** What a terminal would act on: control characters other than a newline. */
    const controls = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/

    it.scopedLive("has its control characters escaped: the head and the error line", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => socket.end(`HTTP/1.1 404 ${hostile}\r\nX-Evil: a\x1b[2Jb\r\nContent-Length: 2\r\n\r\nok`, "latin1"))
        const result = yield* getToFile([`http://127.0.0.1:${port}/`])
        expect(result).toMatchObject({ code: 4, file: "ok" })
        expect(result.stderr).not.toMatch(controls)
        expect(lines(result.stderr)).toEqual([
          `HTTP/1.1 404 ${escaped}`,
          "X-Evil: a\\x1b[2Jb",
          "Content-Length: 2",
          expect.stringMatching(new RegExp(`^error: the server answered 404 ${escaped.replace(/[\\[\]]/g, "\\$&")}; the body was written to .*out$`))
        ])
      }))

    it.scopedLive("has its control characters escaped in the redirect's log line", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket, request) =>
          socket.end(
            request.startsWith("GET /old ")
              ? `HTTP/1.1 302 ${hostile}\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n`
              : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            "latin1"
          ))
        const result = yield* getToFile([`http://127.0.0.1:${port}/old`, "--follow"])
        expect(result).toMatchObject({ code: 0, file: "ok" })
        expect(result.stderr).not.toMatch(controls)
        expect(result.stderr).toContain("following the redirect")
      }))

    it.scopedLive("but --include -o - writes the head as received: it is output, as the body is", () =>
      Effect.gen(function*() {
        const response = "HTTP/1.1 200 \x1b]0;title\x07OK\r\nContent-Length: 2\r\n\r\nok"
        const port = yield* rawServer((socket) => socket.end(response))
        const result = yield* runScript("http:get", [`http://127.0.0.1:${port}/`, "-o", "-", "--include"])
        expect(result).toMatchObject({ code: 0, stdout: response })
        expect(result.stderr).not.toMatch(controls)
      }))
  })

  it.scopedLive("decodes a chunked body cut in awkward places", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) =>
        writeApart(socket, [
          "HTTP/1.1 200 OK\r\nTransfer-",
          "Encoding: chunked\r\n\r",
          "\n",
          "a",
          "\r\n01234",
          "56789\r",
          "\n1",
          "0;name=value\r\n0123456789abcdef\r\n0",
          "\r\n\r\n"
        ])
      )
      expect(yield* getToFile([`http://127.0.0.1:${port}/`])).toMatchObject({ code: 0, file: "01234567890123456789abcdef" })
    }))

  it.scopedLive("reads a body without a length until the server closes", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) => writeApart(socket, ["HTTP/1.0 200 OK\r\nServer: old\r\n\r\n", "read ", "until ", "close"]))
      expect(yield* getToFile([`http://127.0.0.1:${port}/`])).toMatchObject({
        code: 0,
        stderr: "HTTP/1.0 200 OK\nServer: old\n",
        file: "read until close"
      })
    }))

  it.scopedLive("reads a server that writes one byte at a time (CRLFCRLF spanning reads)", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) => writeApart(socket, [..."HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\none\r\nbyte"], 1))
      expect(yield* getToFile([`http://127.0.0.1:${port}/`])).toMatchObject({ code: 0, file: "one\r\nbyte" })
    }))

  for (
    const [what, response, message] of [
      [
        "before Content-Length bytes",
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        "error: the body was truncated after 10 of 100 bytes: the connection closed early; try again"
      ],
      [
        "before the last chunk",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        "error: the body was truncated after 5 bytes: the connection closed before the last chunk; try again"
      ]
    ] as const
  ) {
    it.scopedLive(`fails on a close ${what}, leaving neither the file nor a temporary one`, () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => writeApart(socket, [response.slice(0, 40), response.slice(40)]))
        const result = yield* getToFile([`http://127.0.0.1:${port}/`])
        expect(result).toMatchObject({ code: 1, file: undefined, files: [] })
        expect(lines(result.stderr).at(-1)).toBe(message)
      }))
  }

  it.scopedLive("removes the temporary file when interrupted (Ctrl+C) in the middle of a download", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const out = Path.join(dir, "out")
      const port = yield* rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstalled"))
      const running = yield* start([...scriptCommand("http:get"), `http://127.0.0.1:${port}/`, "-o", out])
      // Wait until the body is being written, then interrupt.
      yield* Effect.suspend(() => readdirSync(dir).length > 0 ? Effect.void : Effect.fail("no file yet")).pipe(
        Effect.retry(Schedule.spaced("20 millis")),
        Effect.timeout("10 seconds")
      )
      expect(readdirSync(dir)).toEqual([expect.stringMatching(/^\.out\.[0-9a-f]{8}\.part$/)])
      running.child.kill("SIGINT")
      yield* running.exited
      expect(readdirSync(dir)).toEqual([])
    }))

  for (const [signal, code] of [["SIGTERM", 143], ["SIGHUP", 129], ["SIGQUIT", 131]] as const) {
    it.scopedLive(`removes the temporary file on ${signal} in the middle of a download, and exits ${code}`, () =>
      Effect.gen(function*() {
        const dir = yield* directory
        const out = Path.join(dir, "out")
        const port = yield* rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstalled"))
        const running = yield* start([...scriptCommand("http:get"), `http://127.0.0.1:${port}/`, "-o", out])
        yield* untilFiles(dir)
        expect(readdirSync(dir)).toEqual([expect.stringMatching(/^\.out\.[0-9a-f]{8}\.part$/)])
        running.child.kill(signal)
        expect(yield* running.exited).toBe(code)
        expect(readdirSync(dir)).toEqual([])
      }))
  }

  it.scopedLive("removes the temporary file when its terminal is closed", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const out = Path.join(dir, "out")
      const port = yield* rawServer((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstalled"))
      const { pid, terminal } = yield* startInTerminal([...scriptCommand("http:get"), `http://127.0.0.1:${port}/`, "-o", out])
      yield* untilFiles(dir)
      terminal.child.kill("SIGKILL")
      expect(yield* hasExited(pid, "5 seconds")).toBe(true)
      expect(readdirSync(dir)).toEqual([])
    }))

  it.scopedLive("says so, and exits 141, when its output is a pipe closed by its reader (| head -c 10)", () =>
    Effect.gen(function*() {
      const port = yield* rawServer((socket) => {
        const block = Buffer.alloc(64 * 1024, "x")
        const pump = () => {
          while (!socket.destroyed && socket.write(block));
          if (!socket.destroyed) socket.once("drain", pump)
        }
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n")
        pump()
      })
      const command = [...scriptCommand("http:get"), `http://127.0.0.1:${port}/`, "-o", "-"]
      const result = yield* run(["bash", "-c", `"$@" | head -c 10; echo "exit \${PIPESTATUS[0]}"`, "bash", ...command])
      expect(result.stdout).toBe("xxxxxxxxxxexit 141\n")
      expect(lines(result.stderr).at(-1)).toBe("error: stdout was closed by its reader (EPIPE); the rest of the body was not written")
    }))

  describe("status codes", () => {
    const redirecting = httpServer((req, res) => {
      if (req.url === "/old") return void res.writeHead(302, { Location: "/new/place" }).end("moved")
      if (req.url === "/new/place") return void res.end("arrived")
      if (req.url === "/broken") return void res.writeHead(500).end("oops")
      res.writeHead(404, { "Content-Type": "text/plain" }).end("no such page\n")
    })

    it.scopedLive("follows a redirect with --follow", () =>
      Effect.gen(function*() {
        const port = yield* redirecting
        const result = yield* getToFile([`http://127.0.0.1:${port}/old`, "--follow"])
        expect(result).toMatchObject({ code: 0, file: "arrived" })
        expect(result.stderr).toContain(`message="302 Found: following the redirect to http://127.0.0.1:${port}/new/place"`)
        expect(result.stderr).toMatch(/^HTTP\/1\.1 200 OK$/m)
      }))

    it.scopedLive("without --follow, saves the redirect's body and exits 3", () =>
      Effect.gen(function*() {
        const port = yield* redirecting
        const result = yield* getToFile([`http://127.0.0.1:${port}/old`])
        expect(result).toMatchObject({ code: 3, file: "moved" })
        expect(result.stderr).toMatch(/^Location: \/new\/place$/m)
        expect(lines(result.stderr).at(-1)).toMatch(/^error: the server answered 302 Found; the body was written to .*out$/)
      }))

    it.scopedLive("sends the URL's user info as Basic credentials, and never shows the password", () =>
      Effect.gen(function*() {
        let authorization: string | undefined
        const port = yield* httpServer((req, res) => {
          authorization ??= req.headers.authorization
          if (req.url === "/old") return void res.writeHead(302, { Location: "/new/place" }).end("moved")
          res.end("arrived")
        })
        const result = yield* getToFile([`http://user:secret@127.0.0.1:${port}/old`, "--follow"])
        expect(result).toMatchObject({ code: 0, file: "arrived" })
        expect(authorization).toBe("Basic dXNlcjpzZWNyZXQ=")
        expect(result.stderr).toContain(`message="302 Found: following the redirect to http://user:***@127.0.0.1:${port}/new/place"`)
        expect(result.stderr).not.toContain("secret")
      }))

    it.scopedLive("saves a 404's body and exits 4; a 500 exits 5", () =>
      Effect.gen(function*() {
        const port = yield* redirecting
        const missing = yield* getToFile([`http://127.0.0.1:${port}/missing`])
        expect(missing).toMatchObject({ code: 4, file: "no such page\n" })
        expect(lines(missing.stderr)[0]).toBe("HTTP/1.1 404 Not Found")
        expect(lines(missing.stderr).at(-1)).toMatch(/^error: the server answered 404 Not Found; the body was written to .*out$/)
        expect(yield* getToFile([`http://127.0.0.1:${port}/broken`])).toMatchObject({ code: 5, file: "oops" })
      }))
  })

  it.scopedLive("--raw writes exactly what the tutorial's http_get.py writes", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      // node:http sends these writes as chunks, so the raw body holds the chunk sizes.
      const port = yield* httpServer((_req, res) => {
        res.setHeader("Content-Type", "text/html")
        res.write("<html>\n")
        setTimeout(() => res.write("<body>Hello, chunks</body>\n"), 10)
        setTimeout(() => res.end("</html>\n"), 20)
      })
      const python = Path.join(dir, "python.html")
      const tutorialRun = yield* run(["python3", tutorial("http_get.py"), "127.0.0.1", String(port), "/", python])
      expect(tutorialRun.code).toBe(0)
      const raw = yield* getToFile([`http://127.0.0.1:${port}/`, "--raw"])
      expect(raw.code).toBe(0)
      expect(Buffer.from(raw.file!, "latin1").equals(readFileSync(python))).toBe(true)
      expect(raw.file).toContain("\r\n0\r\n\r\n")
      const decoded = yield* getToFile([`http://127.0.0.1:${port}/`])
      expect(decoded.file).toBe("<html>\n<body>Hello, chunks</body>\n</html>\n")
    }))

  describe("https", () => {
    it.scopedLive("refuses a self-signed certificate, saying to use --insecure", () =>
      Effect.gen(function*() {
        const port = yield* httpsServer((_req, res) => res.end("secret"))
        const result = yield* getToFile([`https://localhost:${port}/`])
        expect(result).toMatchObject({ code: 1, stdout: "", file: undefined, files: [] })
        expect(lines(result.stderr)).toEqual([
          `error: cannot connect to localhost:${port}: its TLS certificate is not trusted: self-signed certificate (DEPTH_ZERO_SELF_SIGNED_CERT); if you trust this server (a self-signed certificate, say), use --insecure`
        ])
      }))

    it.scopedLive("verifies it, by name or by address, once it is trusted (NODE_EXTRA_CA_CERTS)", () =>
      Effect.gen(function*() {
        const dir = yield* directory
        const port = yield* httpsServer((_req, res) => res.end("trusted"))
        const trusted = `NODE_EXTRA_CA_CERTS=${Path.join(root, "test/fixtures/tls/cert.pem")}`
        for (const host of ["localhost", "127.0.0.1"]) {
          const out = Path.join(dir, host)
          const result = yield* run(["env", trusted, ...scriptCommand("http:get"), `https://${host}:${port}/`, "-o", out])
          expect(result.code, result.stderr).toBe(0)
          expect(readFileSync(out, "utf8")).toBe("trusted")
        }
      }))

    it.scopedLive("accepts it with --insecure", () =>
      Effect.gen(function*() {
        const port = yield* httpsServer((_req, res) => res.end("secret"))
        expect(yield* getToFile([`https://localhost:${port}/`, "--insecure"])).toMatchObject({ code: 0, file: "secret" })
      }))
  })

  describe("errors: one line, and the exit code", () => {
    const expectError = (args: ReadonlyArray<string>, code: number, message: string | RegExp) =>
      Effect.gen(function*() {
        const result = yield* getToFile(args)
        expect(result).toMatchObject({ code, stdout: "", file: undefined, files: [] })
        const last = lines(result.stderr).at(-1)
        if (typeof message === "string") expect(last).toBe(message)
        else expect(last).toMatch(message)
        return result
      })

    it.scopedLive("a bad URL: 2", () =>
      expectError(["http://exa mple.com/"], 2, `error: invalid URL "http://exa mple.com/"; expected http://HOST[:PORT]/PATH or https://...`))

    it.scopedLive("an unsupported scheme: 2", () =>
      expectError(["ftp://example.com/file"], 2, `error: unsupported scheme in "ftp://example.com/file"; only http:// and https:// are supported`))

    it.scopedLive("a URL of another scheme without //, such as mailto:a@b: 2", () =>
      expectError(["mailto:a@b"], 2, `error: unsupported scheme in "mailto:a@b"; only http:// and https:// are supported`))

    it.scopedLive("a bad URL with a password, which is not shown: 2", () =>
      expectError(
        ["http://user:secret@exa mple.com/"],
        2,
        `error: invalid URL "http://user:***@exa mple.com/"; expected http://HOST[:PORT]/PATH or https://...`
      ))

    it.scopedLive("more than 100 interim (1xx) responses: 1", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => socket.end("HTTP/1.1 103 Early Hints\r\n\r\n".repeat(10_000)))
        yield* expectError(
          [`http://127.0.0.1:${port}/`],
          1,
          "error: more than 100 interim (1xx) responses before the final one; the server is misbehaving"
        )
      }))

    it.scopedLive("a host that does not resolve: 1", () =>
      expectError(
        ["http://no-such-host.invalid/", "--timeout", "5"],
        1,
        /^error: cannot connect to no-such-host\.invalid:80: (host not found \(ENOTFOUND\)|host name lookup failed \(temporary DNS failure\) \(EAI_AGAIN\)|timed out); check the host/
      ))

    it.scopedLive("connection refused: 1", () =>
      Effect.gen(function*() {
        const port = yield* freePort()
        yield* expectError(
          [`http://127.0.0.1:${port}/`],
          1,
          `error: cannot connect to 127.0.0.1:${port}: connection refused (ECONNREFUSED); is the server running on that host and port?`
        )
      }))

    it.scopedLive("a server that never answers, with --timeout 0.3: 1", () =>
      Effect.gen(function*() {
        const port = yield* silentServer()
        const started = Date.now()
        yield* expectError(
          [`http://127.0.0.1:${port}/`, "--timeout", "0.3"],
          1,
          `error: 127.0.0.1:${port} sent nothing for 0.3 s; check that it is an HTTP server, or raise --timeout`
        )
        expect(Date.now() - started).toBeLessThan(10_000)
      }))

    it.scopedLive("a malformed status line: 1", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => socket.end("Hello, GET!\r\n\r\n"))
        yield* expectError(
          [`http://127.0.0.1:${port}/`],
          1,
          `error: malformed status line "Hello, GET!" (expected HTTP/1.x CODE REASON); is it an HTTP server (https:// for a TLS port)?`
        )
      }))

    it.scopedLive("a malformed header: 1", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nno colon here\r\n\r\nbody"))
        yield* expectError([`http://127.0.0.1:${port}/`], 1, `error: malformed header "no colon here" in the server's response`)
      }))

    it.scopedLive("a header section over 64 KiB: 1", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => {
          socket.on("error", () => {})
          socket.end(`HTTP/1.1 200 OK\r\n${"X-Padding: 0123456789abcdef\r\n".repeat(4000)}\r\nbody`)
        })
        yield* expectError(
          [`http://127.0.0.1:${port}/`],
          1,
          "error: the response's header section is over 65536 bytes; the server is not speaking HTTP, or is misbehaving"
        )
      }))

    it.scopedLive("a directory that does not exist for -o: 1", () =>
      Effect.gen(function*() {
        const port = yield* rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        const dir = yield* directory
        const out = Path.join(dir, "missing", "out")
        const result = yield* runScript("http:get", [`http://127.0.0.1:${port}/`, "-o", out])
        expect(result.code).toBe(1)
        expect(lines(result.stderr).at(-1)).toBe(`error: cannot write ${out}: no such file or directory (ENOENT)`)
      }))
  })

  it.scopedLive("writes in place to what is not a regular file (a pipe, /dev/null), not over it", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const fifo = Path.join(dir, "fifo")
      expect((yield* run(["mkfifo", fifo])).code).toBe(0)
      const reader = yield* start(["cat", fifo])
      const port = yield* rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
      expect((yield* runScript("http:get", [`http://127.0.0.1:${port}/`, "-o", fifo])).code).toBe(0)
      expect(yield* reader.exited).toBe(0)
      expect(reader.stdout()).toBe("ok")
      expect(lstatSync(fifo).isFIFO()).toBe(true)
      expect(readdirSync(dir)).toEqual(["fifo"])
    }))

  it.scopedLive("replaces the file a symbolic link points to, not the link", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const port = yield* rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew"))
      writeFileSync(Path.join(dir, "target"), "old")
      symlinkSync("target", Path.join(dir, "link"))
      expect((yield* runScript("http:get", [`http://127.0.0.1:${port}/`, "-o", Path.join(dir, "link")])).code).toBe(0)
      expect(lstatSync(Path.join(dir, "link")).isSymbolicLink()).toBe(true)
      expect(readFileSync(Path.join(dir, "target"), "utf8")).toBe("new")
    }))

  it.scopedLive("writes where a dangling symbolic link points, creating the file, and keeps the link", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const port = yield* rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew"))
      mkdirSync(Path.join(dir, "sub"))
      // A relative link to a relative link, resolved from the directory each one is in.
      symlinkSync("sub/middle", Path.join(dir, "link"))
      symlinkSync("../target", Path.join(dir, "sub", "middle"))
      const result = yield* runScript("http:get", [`http://127.0.0.1:${port}/`, "-o", Path.join(dir, "link")])
      expect(result.code, result.stderr).toBe(0)
      expect(lstatSync(Path.join(dir, "link")).isSymbolicLink()).toBe(true)
      expect(lstatSync(Path.join(dir, "sub", "middle")).isSymbolicLink()).toBe(true)
      expect(readFileSync(Path.join(dir, "target"), "utf8")).toBe("new")
      expect(readdirSync(dir).sort()).toEqual(["link", "sub", "target"])
    }))

  it.scopedLive("refuses a loop of symbolic links, and leaves it as it is", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const port = yield* rawServer((socket) => socket.end("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew"))
      symlinkSync("b", Path.join(dir, "a"))
      symlinkSync("a", Path.join(dir, "b"))
      const out = Path.join(dir, "a")
      const result = yield* runScript("http:get", [`http://127.0.0.1:${port}/`, "-o", out])
      expect(result.code).toBe(1)
      expect(lines(result.stderr).at(-1)).toBe(`error: cannot write ${out}: too many levels of symbolic links (ELOOP)`)
      expect(readdirSync(dir).sort()).toEqual(["a", "b"])
      expect(lstatSync(out).isSymbolicLink()).toBe(true)
    }))

  it.scopedLive("draws a progress line when stderr is a terminal, and none otherwise", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const port = yield* httpServer((_req, res) => res.end(Buffer.alloc(3 * MB, "x")))
      const url = `http://127.0.0.1:${port}/`
      // `script` runs the program in a pseudo-terminal; its output is the terminal's.
      const command = [...scriptCommand("http:get"), url, "-o", Path.join(dir, "tty")].join(" ")
      const tty = yield* run(["script", "-qec", command, "/dev/null"])
      expect(tty.code).toBe(0)
      expect(tty.stdout).toMatch(/\r\x1b\[K3\.0 MiB {2}[\d.]+ [KMG]?i?B\/s {2}100%/)
      const plain = yield* getToFile([url])
      expect(plain.stderr).not.toContain("B/s")
    }))

  it.scopedLive("prints its help and exits 0", () =>
    Effect.gen(function*() {
      const { code, stdout } = yield* runScript("http:get", ["--help"])
      expect(code).toBe(0)
      for (const flag of ["--output", "--raw", "--include", "--follow", "--insecure", "--timeout", "URL"]) expect(stdout).toContain(flag)
    }))

  it.scopedLive("downloads 256 MiB to a file with bounded memory", () =>
    Effect.gen(function*() {
      const dir = yield* directory
      const total = 256 * MB
      let release: () => void = () => {}
      const resumed = new Promise<void>((resolve) => (release = resolve))
      // The first MiB, a pause (the client is up and running: the baseline), then the rest as fast as it is taken.
      const port = yield* rawServer((socket) => {
        const block = Buffer.alloc(MB, "x")
        let sent = 0
        const pump = () => {
          while (sent < total) {
            sent += block.length
            if (!socket.write(block)) return void socket.once("drain", pump)
          }
          socket.end()
        }
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`)
        socket.write(block)
        sent = block.length
        void resumed.then(pump)
      })
      const out = Path.join(dir, "big")
      const started = Date.now()
      const running = yield* start([...scriptCommand("http:get"), `http://127.0.0.1:${port}/`, "-o", out])
      const pid = running.child.pid!
      yield* Effect.suspend(() => readdirSync(dir).length > 0 ? Effect.void : Effect.fail("no file yet")).pipe(
        Effect.retry(Schedule.spaced("20 millis")),
        Effect.timeout("20 seconds")
      )
      yield* Effect.sleep("500 millis")
      const baseline = rss(pid)
      let peak = baseline
      const sampler = yield* Effect.fork(
        // Until the process is gone (and its /proc entry with it).
        Effect.try(() => (peak = Math.max(peak, rss(pid)))).pipe(Effect.repeat(Schedule.spaced("20 millis")), Effect.ignore)
      )
      const downloadStarted = Date.now()
      release()
      expect(yield* running.exited).toBe(0)
      const seconds = (Date.now() - downloadStarted) / 1000
      yield* Fiber.interrupt(sampler)
      expect(readdirSync(dir)).toEqual(["big"])
      expect(statSync(out).size).toBe(total)
      const figures = `RSS ${(baseline / MB).toFixed(0)} MB before the body, peak ${(peak / MB).toFixed(0)} MB; ` +
        `${(total / MB / seconds).toFixed(0)} MB/s (${seconds.toFixed(1)} s, ${((Date.now() - started) / 1000).toFixed(1)} s with start-up)`
      console.log(`http:get 256 MiB: ${figures}`)
      // The body is read into one buffer and written from it: no buffer per read awaits
      // collection (Node's own reads, 64 KiB each, added about 50 MB here before a collection).
      expect(peak - baseline, figures).toBeLessThan(32 * MB)
    }), 120_000)
})
