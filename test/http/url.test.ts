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
    for (const text of ["ftp://example.com/file", "file:///etc/passwd", "ws://localhost/"]) {
      expect(problem(Url.parse(text)), text).toBe(
        `unsupported scheme in ${JSON.stringify(text)}; only http:// and https:// are supported`
      )
    }
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
})
