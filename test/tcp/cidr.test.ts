import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import { CidrError, format, loopback, matcher, parse, parseList } from "../../src/tcp/cidr.js"

const parsed = (text: string) => Either.map(parseList(text), (blocks) => blocks.map(format))

describe("parse", () => {
  it("reads IPv4 and IPv6 blocks, and a bare address as a block of one", () => {
    expect(parse("10.0.0.0/8")).toEqual(Either.right({ family: "ipv4", address: "10.0.0.0", prefix: 8 }))
    expect(parse("::1/128")).toEqual(Either.right({ family: "ipv6", address: "::1", prefix: 128 }))
    expect(parse("192.168.1.7")).toEqual(Either.right({ family: "ipv4", address: "192.168.1.7", prefix: 32 }))
    expect(parse("2001:db8::5")).toEqual(Either.right({ family: "ipv6", address: "2001:db8::5", prefix: 128 }))
    expect(parse("::ffff:10.0.0.0/104")).toEqual(Either.right({ family: "ipv6", address: "::ffff:10.0.0.0", prefix: 104 }))
    expect(parse("0.0.0.0/0")).toEqual(Either.right({ family: "ipv4", address: "0.0.0.0", prefix: 0 }))
  })

  it("reads a comma-separated list, with spaces around the commas", () => {
    expect(parsed("10.0.0.0/8, 172.16.0.0/12 ,fd00::/8")).toEqual(Either.right(["10.0.0.0/8", "172.16.0.0/12", "fd00::/8"]))
    expect(parsed("127.0.0.1")).toEqual(Either.right(["127.0.0.1/32"]))
  })

  const invalid = [
    "",
    " ",
    "localhost",
    "10.0.0.0/",
    "/8",
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/-1",
    "10.0.0.0/08",
    "10.0.0.0/8.0",
    "10.0.0.0/8/8",
    "10.0.0/8",
    "01.0.0.0/8",
    "fe80::1%eth0/64",
    "fe80::/10%eth0"
  ]
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text)}, with a message that shows the form expected`, () => {
      const result = parse(text)
      expect(result).toEqual(Either.left(new CidrError({ input: text })))
      expect(Either.getOrThrow(Either.flip(result)).message).toBe(
        `invalid address block ${JSON.stringify(text)}; expected ADDRESS or ADDRESS/PREFIX, such as 10.0.0.0/8 or ::1/128`
      )
    })
  }

  it("refuses a list with any invalid or empty entry, naming it", () => {
    expect(parseList("10.0.0.0/8,nope")).toEqual(Either.left(new CidrError({ input: "nope" })))
    expect(parseList("10.0.0.0/8,")).toEqual(Either.left(new CidrError({ input: "" })))
    expect(parseList(",")).toEqual(Either.left(new CidrError({ input: "" })))
  })
})

describe("matcher", () => {
  const trusted = (text: string) => matcher(Either.getOrThrow(parseList(text)))

  it("trusts loopback by default, as Node reports it on IPv4, IPv6 and dual-stack sockets", () => {
    const isLoopback = matcher(loopback)
    for (const host of ["127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "::ffff:127.0.0.1", "::ffff:127.0.0.3"]) {
      expect(isLoopback(host), host).toBe(true)
    }
    for (const host of ["128.0.0.1", "126.255.255.255", "10.0.0.1", "::2", "::", "::ffff:10.0.0.1", "0:0:0:0:0:1:0:1"]) {
      expect(isLoopback(host), host).toBe(false)
    }
  })

  it("matches by prefix, ignoring the bits after it", () => {
    const isTrusted = trusted("10.1.2.3/16,2001:db8:aa::/48")
    expect(isTrusted("10.1.255.255")).toBe(true)
    expect(isTrusted("10.1.0.0")).toBe(true)
    expect(isTrusted("10.2.0.0")).toBe(false)
    expect(isTrusted("2001:db8:aa:ffff::1")).toBe(true)
    expect(isTrusted("2001:DB8:AA::1")).toBe(true)
    expect(isTrusted("2001:db8:ab::1")).toBe(false)
  })

  it("matches IPv4-mapped addresses against IPv4 blocks, and IPv4 addresses against mapped blocks", () => {
    expect(trusted("192.168.0.0/24")("::ffff:192.168.0.9")).toBe(true)
    expect(trusted("192.168.0.0/24")("::ffff:192.168.1.9")).toBe(false)
    expect(trusted("::ffff:192.168.0.0/120")("192.168.0.9")).toBe(true)
  })

  it("matches everything with /0 blocks, and one address with a bare one", () => {
    const all = trusted("0.0.0.0/0,::/0")
    expect(["1.2.3.4", "::1", "2001:db8::1"].every(all)).toBe(true)
    const one = trusted("10.0.0.7")
    expect(one("10.0.0.7")).toBe(true)
    expect(one("10.0.0.8")).toBe(false)
  })

  it("ignores an IPv6 zone, and refuses what is not an address", () => {
    expect(trusted("fe80::/10")("fe80::1%eth0")).toBe(true)
    const everything = trusted("0.0.0.0/0,::/0")
    for (const host of ["unknown", "", "localhost", "1.2.3", "::ffff:1.2.3"]) expect(everything(host), host).toBe(false)
  })
})
