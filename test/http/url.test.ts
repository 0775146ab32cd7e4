import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Request from "../../src/http/request.js"
import * as Url from "../../src/http/url.js"

const parse = (text: string) => Either.getOrThrow(Url.parse(text))
const problem = (result: Either.Either<unknown, { readonly message: string }>) =>
  Either.match(result, { onLeft: (error) => error.message, onRight: () => "parsed" })

describe("Url.parse", () => {
  it("takes the host, the port (80 and 443 by default), and the path with its query", () => {
    expect(parse("http://example.com")).toEqual({
      href: "http://example.com/",
      scheme: "http",
      host: "example.com",
      port: 80,
      authority: "example.com",
      target: "/"
    })
    expect(parse("https://Example.COM:8443/a/b.txt?x=1&y=2#frag")).toMatchObject({
      scheme: "https",
      host: "example.com",
      port: 8443,
      authority: "example.com:8443",
      target: "/a/b.txt?x=1&y=2"
    })
    expect(parse("https://example.com:443/")).toMatchObject({ port: 443, authority: "example.com" })
  })

  it("takes an IPv6 address out of its brackets, and keeps them in the Host header", () => {
    expect(parse("http://[::1]:8080/x")).toMatchObject({ host: "::1", port: 8080, authority: "[::1]:8080", target: "/x" })
  })

  it("assumes http:// without a scheme, and percent-encodes what must be", () => {
    expect(parse("localhost:8080/a b")).toMatchObject({ scheme: "http", host: "localhost", port: 8080, target: "/a%20b" })
  })

  it("refuses a bad URL and another scheme, saying what it expects", () => {
    for (const text of ["http://", "http://exa mple.com/", "http://host:99999/", "http://[::1/"]) {
      expect(problem(Url.parse(text)), text).toBe(
        `invalid URL ${JSON.stringify(text)}; expected http://HOST[:PORT]/PATH or https://...`
      )
    }
    for (const text of ["ftp://example.com/file", "file:///etc/passwd", "ws://localhost/", "mailto:a@b", "javascript:alert(1)", "data:,x", "file:/etc/passwd"]) {
      expect(problem(Url.parse(text)), text).toBe(
        `unsupported scheme in ${JSON.stringify(text)}; only http:// and https:// are supported`
      )
    }
  })

  it("takes HOST:PORT without a scheme as http, and only that", () => {
    expect(parse("localhost:8080")).toMatchObject({ scheme: "http", host: "localhost", port: 8080, target: "/" })
    expect(parse("127.0.0.1:8080?x")).toMatchObject({ scheme: "http", host: "127.0.0.1", port: 8080, target: "/?x" })
    expect(parse("example.com/a")).toMatchObject({ scheme: "http", host: "example.com", port: 80, target: "/a" })
    expect(parse("HTTPS://example.com/")).toMatchObject({ scheme: "https", port: 443 })
    expect(problem(Url.parse("mailto:a@b"))).toBe(`unsupported scheme in "mailto:a@b"; only http:// and https:// are supported`)
  })

  it("takes the user info out of the URL, decoded, and never shows the password", () => {
    const url = parse("http://user:secret@example.com:8080/a")
    expect(url).toMatchObject({
      href: "http://example.com:8080/a",
      host: "example.com",
      authority: "example.com:8080",
      credentials: { user: "user", password: "secret" }
    })
    expect(Url.display(url)).toBe("http://user:***@example.com:8080/a")
    expect(parse("http://us%40er:p%3As%20s@h/").credentials).toEqual({ user: "us@er", password: "p:s s" })
    const userOnly = parse("http://user@h/")
    expect(userOnly.credentials).toEqual({ user: "user", password: "" })
    expect(Url.display(userOnly)).toBe("http://user@h/")
    expect(parse("http://h/").credentials).toBeUndefined()
    expect(Url.display(parse("http://h/"))).toBe("http://h/")
  })

  it("masks the password of a URL it refuses", () => {
    expect(problem(Url.parse("http://user:secret@exa mple.com/"))).toBe(
      `invalid URL "http://user:***@exa mple.com/"; expected http://HOST[:PORT]/PATH or https://...`
    )
    expect(problem(Url.parse("ftp://user:s:e@cret@example.com/"))).toBe(
      `unsupported scheme in "ftp://user:***@example.com/"; only http:// and https:// are supported`
    )
  })
})

describe("Url.resolve", () => {
  const base = parse("http://example.com:8080/dir/page?q")

  it("resolves relative Locations against the URL that answered, and takes absolute ones as they are", () => {
    expect(Either.getOrThrow(Url.resolve(base, "other")).href).toBe("http://example.com:8080/dir/other")
    expect(Either.getOrThrow(Url.resolve(base, "/root?x")).href).toBe("http://example.com:8080/root?x")
    expect(Either.getOrThrow(Url.resolve(base, "//cdn.example.com/f")).href).toBe("http://cdn.example.com/f")
    expect(Either.getOrThrow(Url.resolve(base, "https://secure.example.com/")).scheme).toBe("https")
  })

  it("keeps the credentials on the same origin (scheme, host and port) only", () => {
    const secret = parse("http://user:secret@example.com:8080/dir/page")
    const credentials = (location: string) => Either.getOrThrow(Url.resolve(secret, location)).credentials
    expect(credentials("other")).toEqual({ user: "user", password: "secret" })
    expect(credentials("http://EXAMPLE.com:8080/x")).toEqual({ user: "user", password: "secret" })
    for (const location of ["//cdn.example.com:8080/f", "http://other.example.com:8080/", "https://example.com:8080/", "http://example.com:8081/", "http://example.com/"]) {
      expect(credentials(location), location).toBeUndefined()
    }
    // Credentials the Location gives itself are the server's to give.
    expect(credentials("http://them:theirs@other.example.com/")).toEqual({ user: "them", password: "theirs" })
    expect(Either.getOrThrow(Url.resolve(secret, "other")).href).toBe("http://example.com:8080/dir/other")
  })

  it("refuses a Location with another scheme", () => {
    expect(problem(Url.resolve(base, "ftp://example.com/"))).toBe(
      'unsupported scheme in "ftp://example.com/"; only http:// and https:// are supported'
    )
  })
})

describe("Url.fileName", () => {
  it("is the last path segment, decoded, or index.html", () => {
    expect(Url.fileName(parse("http://h/a/b/file.tar.gz?v=2"))).toBe("file.tar.gz")
    expect(Url.fileName(parse("http://h/a%20b.txt"))).toBe("a b.txt")
    expect(Url.fileName(parse("http://h/"))).toBe("index.html")
    expect(Url.fileName(parse("http://h/dir/"))).toBe("index.html")
    expect(Url.fileName(parse("http://h/x%2F..%2Fetc"))).toBe("index.html")
    expect(Url.fileName(parse("http://h/100%"))).toBe("100%")
  })

  it("leaves control characters percent-encoded: a name never holds one", () => {
    expect(Url.fileName(parse("http://h/a%0Ab.txt"))).toBe("a%0Ab.txt")
    expect(Url.fileName(parse("http://h/nul%00.txt"))).toBe("nul%00.txt")
    expect(Url.fileName(parse("http://h/%1B%5B2J%09x%7F"))).toBe("%1B[2J%09x%7F")
    expect(Url.fileName(parse("http://h/c1%C2%9B.txt"))).toBe("c1%C2%9B.txt")
    expect(Url.fileName(parse("http://h/%C3%A9t%C3%A9.txt"))).toBe("été.txt")
  })
})

describe("Request.get", () => {
  it("is the tutorial's request plus a User-Agent, with the port in Host unless it is the default", () => {
    const text = (url: string) => Buffer.from(Request.get(parse(url))).toString("latin1")
    expect(text("http://example.com/a?b")).toBe(
      "GET /a?b HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\nUser-Agent: effect-net/0.1.0\r\n\r\n"
    )
    expect(text("http://[::1]:8080/")).toBe(
      "GET / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\nUser-Agent: effect-net/0.1.0\r\n\r\n"
    )
  })

  it("sends the URL's user info as Basic credentials, as curl does", () => {
    const text = (url: string) => Buffer.from(Request.get(parse(url))).toString("latin1")
    expect(text("http://user:secret@example.com/")).toBe(
      "GET / HTTP/1.1\r\nHost: example.com\r\nAuthorization: Basic dXNlcjpzZWNyZXQ=\r\nConnection: close\r\nUser-Agent: effect-net/0.1.0\r\n\r\n"
    )
    expect(text("http://%C3%A9:p%3Aw@h/")).toContain(`\r\nAuthorization: Basic ${Buffer.from("é:p:w").toString("base64")}\r\n`)
  })
})
