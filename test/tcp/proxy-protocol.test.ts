import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, FastCheck, Queue, TestClock } from "effect"
import { tcpAddress } from "../../src/address.js"
import { ProxyProtocolError } from "../../src/tcp/errors.js"
import { clientAddress, Decoder, type ProxyHeader, readHeader, v1MaxBytes } from "../../src/tcp/proxy-protocol.js"

const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"))
const hex = (text: string) => new Uint8Array(Buffer.from(text.replace(/\s+/g, ""), "hex"))
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1")
const join = (...parts: ReadonlyArray<Uint8Array | ReadonlyArray<number>>) => new Uint8Array(Buffer.concat(parts.map((p) => Uint8Array.from(p))))

const signature = hex("0d0a0d0a000d0a515549540a")
const u16 = (n: number) => [n >> 8, n & 0xff]
/** A v2 header: version and command, family and protocol, then `body` (addresses and TLVs) with its length. */
const v2 = (versionCommand: number, familyProtocol: number, ...body: ReadonlyArray<Uint8Array | ReadonlyArray<number>>) => {
  const block = join(...body)
  return join(signature, [versionCommand, familyProtocol, ...u16(block.length)], block)
}
const tlv = (type: number, value: Uint8Array | ReadonlyArray<number>) => join([type, ...u16(value.length)], value)
const ipv4Block = join([10, 1, 2, 3], [10, 0, 0, 1], u16(51234), u16(9999))
const ipv6Block = join(hex("20010db8000000000000000000000001 00000000000000000000ffff7f000001"), u16(443), u16(8443))
const sunPath = (path: string) => join(bytes(path), new Uint8Array(108 - path.length))

/** What decoding some reads gives: the header and the bytes after it, an error's reason, or that it needs more. */
type Outcome =
  | { readonly header: ProxyHeader; readonly after: string }
  | { readonly error: ProxyProtocolError["reason"]; readonly detail: string }
  | "NeedMore"

/** Pushes `reads` in order; once the decoder answers, the rest and the reads not pushed are "after" the header. */
const decode = (reads: ReadonlyArray<Uint8Array>, maxHeaderBytes?: number): Outcome => {
  const decoder = new Decoder(maxHeaderBytes)
  for (let i = 0; i < reads.length; i++) {
    const result = decoder.push(reads[i]!)
    if (result === undefined) continue
    if (result instanceof ProxyProtocolError) return { error: result.reason, detail: result.detail }
    return { header: result.header, after: text(join(result.rest, ...reads.slice(i + 1))) }
  }
  return "NeedMore"
}

/** Every way to cut `input` into three reads (some empty), then byte by byte. */
function* splits(input: Uint8Array): Generator<ReadonlyArray<Uint8Array>> {
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j++) yield [input.subarray(0, i), input.subarray(i, j), input.subarray(j)]
  }
  yield Array.from(input, (byte) => Uint8Array.of(byte))
}

/** The outcome of `input` in one read, checked to be the same however the input is split. */
const decodeSplit = (input: Uint8Array, maxHeaderBytes?: number): Outcome => {
  const whole = decode([input], maxHeaderBytes)
  let count = 0
  for (const reads of splits(input)) {
    const outcome = decode(reads, maxHeaderBytes)
    if (count++ === 0 || JSON.stringify(outcome) !== JSON.stringify(whole)) {
      expect(outcome, `split ${reads.map((r) => r.length).join("+")}`).toEqual(whole)
    }
  }
  return whole
}

const payload = "Michael\r\nTracy\n\x00\x0d\x0a\xff"

const proxied = (version: 1 | 2, source: string, sourcePort: number, destination: string, destinationPort: number, transport: "Stream" | "Datagram" = "Stream"): ProxyHeader => ({
  _tag: "Proxied",
  version,
  transport,
  source: tcpAddress(source, sourcePort),
  destination: tcpAddress(destination, destinationPort)
})

describe("PROXY protocol v1", () => {
  const valid: ReadonlyArray<[string, string, ProxyHeader]> = [
    ["TCP4", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", proxied(1, "192.168.0.1", 56324, "192.168.0.11", 443)],
    ["TCP4, extreme values", "PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n", proxied(1, "255.255.255.255", 65535, "0.0.0.0", 0)],
    ["TCP6, in Node's canonical form", "PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::FFFF:7F00:1 1 2\r\n", proxied(1, "2001:db8::1", 1, "::ffff:127.0.0.1", 2)],
    ["TCP6 with an IPv4-mapped address", "PROXY TCP6 ::ffff:127.0.0.2 ::1 40000 9999\r\n", proxied(1, "::ffff:127.0.0.2", 40000, "::1", 9999)],
    [
      "TCP6 at its longest (104 bytes)",
      `PROXY TCP6 ${Array(8).fill("ffff").join(":")} ${Array(8).fill("FFFF").join(":")} 65535 65535\r\n`,
      proxied(1, Array(8).fill("ffff").join(":"), 65535, Array(8).fill("ffff").join(":"), 65535)
    ],
    ["UNKNOWN, short form", "PROXY UNKNOWN\r\n", { _tag: "Unknown", version: 1 }],
    ["UNKNOWN with anything after it", "PROXY UNKNOWN whatever \x01 goes\r\n", { _tag: "Unknown", version: 1 }],
    [
      "UNKNOWN at the longest a line may be (107 bytes)",
      `PROXY UNKNOWN ${Array(8).fill("ffff").join(":")} ${Array(8).fill("ffff").join(":")} 65535 65535\r\n`,
      { _tag: "Unknown", version: 1 }
    ]
  ]
  for (const [name, line, header] of valid) {
    it(`decodes ${name}, however the reads are split, and keeps the bytes after it`, () => {
      expect(decodeSplit(bytes(line + payload))).toEqual({ header, after: payload })
      expect(decodeSplit(bytes(line))).toEqual({ header, after: "" })
    })
  }

  it("accepts a 107-byte line and refuses a longer one as soon as its 107th byte is not the line's end", () => {
    const longest = `PROXY UNKNOWN ${"x".repeat(v1MaxBytes - 16)}\r\n`
    expect(longest.length).toBe(v1MaxBytes)
    expect(decode([bytes(longest)])).toMatchObject({ header: { _tag: "Unknown" } })
    expect(decodeSplit(bytes(`PROXY UNKNOWN ${"x".repeat(v1MaxBytes - 15)}\r\n`))).toMatchObject({ error: "TooLarge" })
    expect(decode([bytes(`PROXY TCP4 ${"1".repeat(v1MaxBytes - 11)}`)])).toMatchObject({ error: "TooLarge" })
    expect(decode([bytes(`PROXY TCP4 ${"1".repeat(v1MaxBytes - 12)}`)])).toBe("NeedMore")
  })

  const malformed: ReadonlyArray<[string, string]> = [
    ["a line feed alone", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"],
    ["a carriage return alone", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\r\n"],
    ["two carriage returns", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n"],
    ["an unknown protocol", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["a lowercase protocol", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["no protocol", "PROXY \r\n"],
    ["UNKNOWN glued to more", "PROXY UNKNOWNX\r\n"],
    ["two spaces", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"],
    ["a trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"],
    ["a field missing", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"],
    ["a field too many", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"],
    ["an IPv4 address with a leading zero", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"],
    ["an IPv4 address out of range", "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n"],
    ["a short IPv4 address", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"],
    ["IPv6 addresses for TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n"],
    ["IPv4 addresses for TCP6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"],
    ["an IPv6 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"],
    ["an IPv6 address with 9 groups", "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"],
    ["a host name", "PROXY TCP4 localhost 5.6.7.8 1 2\r\n"],
    ["a port with a leading zero", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"],
    ["a port over 65535", "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"],
    ["a signed port", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"],
    ["a hexadecimal port", "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n"],
    ["an empty port", "PROXY TCP4 1.2.3.4 5.6.7.8  2\r\n"]
  ]
  for (const [name, line] of malformed) {
    it(`refuses ${name} as Malformed, however the reads are split`, () => {
      expect(decodeSplit(bytes(line + payload))).toMatchObject({ error: "Malformed" })
    })
  }

  it("fails at the bad byte without waiting for more: a lone LF, a CR followed by something else", () => {
    expect(decode([bytes("PROXY TCP4 1.2.3.4\n")])).toMatchObject({ error: "Malformed" })
    expect(decode([bytes("PROXY TCP4\rX")])).toMatchObject({ error: "Malformed" })
    expect(decode([bytes("PROXY TCP4 1.2.3.4\r")])).toBe("NeedMore")
  })
})

describe("PROXY protocol v2", () => {
  const withTlvs = v2(
    0x21,
    0x11,
    ipv4Block,
    tlv(0x01, bytes("h2")), // ALPN
    tlv(0x02, bytes("example.com")), // AUTHORITY
    tlv(0x04, []), // NOOP, empty
    tlv(0x03, [0, 0, 0, 0]), // CRC32C (not checked)
    tlv(0x05, new Uint8Array(128).fill(7)), // UNIQUE_ID
    tlv(0x20, join([0x01, 0, 0, 0, 0], tlv(0x21, bytes("TLSv1.3")), tlv(0x22, bytes("client")))), // SSL with sub-TLVs
    tlv(0xea, join([0x01], bytes("vpce-0123456789abcdef"))) // a custom type (AWS's endpoint id)
  )
  const valid: ReadonlyArray<[string, Uint8Array, ProxyHeader]> = [
    ["TCP over IPv4", v2(0x21, 0x11, ipv4Block), proxied(2, "10.1.2.3", 51234, "10.0.0.1", 9999)],
    ["TCP over IPv6, in Node's canonical form", v2(0x21, 0x21, ipv6Block), proxied(2, "2001:db8::1", 443, "::ffff:127.0.0.1", 8443)],
    ["UDP over IPv4", v2(0x21, 0x12, ipv4Block), proxied(2, "10.1.2.3", 51234, "10.0.0.1", 9999, "Datagram")],
    ["UDP over IPv6", v2(0x21, 0x22, ipv6Block), proxied(2, "2001:db8::1", 443, "::ffff:127.0.0.1", 8443, "Datagram")],
    ["TCP over IPv4 with TLVs of every kind, skipped", withTlvs, proxied(2, "10.1.2.3", 51234, "10.0.0.1", 9999)],
    [
      "a Unix stream socket, abstract or not",
      v2(0x21, 0x31, sunPath("/run/client.sock"), sunPath("\x00balancer")),
      { _tag: "Unix", version: 2, transport: "Stream", source: "/run/client.sock", destination: "@balancer" }
    ],
    ["LOCAL without addresses", v2(0x20, 0x00), { _tag: "Local", version: 2 }],
    ["LOCAL with addresses and TLVs (ignored)", v2(0x20, 0x11, ipv4Block, tlv(0x04, [1, 2])), { _tag: "Local", version: 2 }],
    ["LOCAL with an unassigned family (ignored)", v2(0x20, 0xff, [1, 2, 3]), { _tag: "Local", version: 2 }],
    ["PROXY with an unspecified family", v2(0x21, 0x00), { _tag: "Unknown", version: 2 }],
    ["PROXY over IPv4 with an unspecified protocol", v2(0x21, 0x10, ipv4Block), { _tag: "Unknown", version: 2 }],
    ["PROXY with an unspecified family and bytes to skip", v2(0x21, 0x01, [9, 9, 9]), { _tag: "Unknown", version: 2 }]
  ]
  for (const [name, header, expected] of valid) {
    it(`decodes ${name}, however the reads are split, and keeps the bytes after it`, () => {
      expect(decodeSplit(join(header, bytes(payload)))).toEqual({ header: expected, after: payload })
      expect(decodeSplit(header)).toEqual({ header: expected, after: "" })
    })
  }

  it("hands back the rest of the read without copying it", () => {
    const read = join(v2(0x21, 0x11, ipv4Block), bytes(payload))
    const result = new Decoder().push(read)
    if (result === undefined || result instanceof ProxyProtocolError) throw new Error(`unexpected ${result}`)
    expect(result.rest.buffer).toBe(read.buffer)
    expect(text(result.rest)).toBe(payload)
  })

  it("accepts a header of exactly the size cap, and refuses one byte more as TooLarge after the fixed 16 bytes", () => {
    const header = (size: number) => v2(0x21, 0x11, ipv4Block, tlv(0x04, new Uint8Array(size - 16 - 12 - 3)))
    expect(decodeSplit(header(300), 300)).toMatchObject({ header: { _tag: "Proxied" } })
    expect(decode([header(301)], 300)).toMatchObject({ error: "TooLarge" })
    expect(decode([header(301).subarray(0, 16)], 300)).toMatchObject({ error: "TooLarge" })
    // The largest a v2 length can announce: refused by the default cap before a byte of it is awaited.
    expect(decode([join(signature, [0x21, 0x11, 0xff, 0xff])])).toMatchObject({ error: "TooLarge" })
    expect(decode([header(4096)])).toMatchObject({ header: { _tag: "Proxied" } })
  })

  const malformed: ReadonlyArray<[string, Uint8Array]> = [
    ["version 1", v2(0x11, 0x11, ipv4Block)],
    ["version 3", v2(0x31, 0x11, ipv4Block)],
    ["version 0 with LOCAL", v2(0x00, 0x00)],
    ["an unassigned command", v2(0x22, 0x11, ipv4Block)],
    ["an unassigned family", v2(0x21, 0x41, ipv4Block)],
    ["an unassigned protocol", v2(0x21, 0x13, ipv4Block)],
    ["IPv4 addresses cut short", v2(0x21, 0x11, ipv4Block.subarray(0, 11))],
    ["IPv6 addresses cut short", v2(0x21, 0x21, ipv6Block.subarray(0, 35))],
    ["Unix addresses cut short", v2(0x21, 0x31, new Uint8Array(215))],
    ["a TLV longer than the header", v2(0x21, 0x11, ipv4Block, [0x04, 0x00, 0x05, 1, 2, 3, 4])],
    ["a TLV whose length runs past the header by one", v2(0x21, 0x11, ipv4Block, tlv(0x01, [1, 2]).subarray(0, 4))],
    ["one stray byte after the addresses", v2(0x21, 0x11, ipv4Block, [0x01])],
    ["two stray bytes after a TLV", v2(0x21, 0x11, ipv4Block, tlv(0x04, []), [0x01, 0x00])]
  ]
  for (const [name, header] of malformed) {
    it(`refuses ${name} as Malformed, however the reads are split`, () => {
      expect(decodeSplit(join(header, bytes(payload)))).toMatchObject({ error: "Malformed" })
    })
  }

  it("refuses a bad fixed part as soon as its 16 bytes are there, without awaiting the body", () => {
    for (const [versionCommand, familyProtocol] of [[0x31, 0x11], [0x2f, 0x11], [0x21, 0x51], [0x21, 0x1f]] as const) {
      expect(decode([join(signature, [versionCommand, familyProtocol, 0x01, 0x00])])).toMatchObject({ error: "Malformed" })
    }
    expect(decode([join(signature, [0x21, 0x11, 0x00, 0x0b])])).toMatchObject({ error: "Malformed" })
    expect(decode([join(signature, [0x21, 0x11, 0x01, 0x00])])).toBe("NeedMore")
  })
})

describe("not a PROXY protocol header", () => {
  const inputs: ReadonlyArray<[string, Uint8Array]> = [
    ["a greeting", bytes("Michael\n")],
    ["an HTTP request", bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
    ["a TLS ClientHello", hex("160301020001")],
    ["an SSH banner", bytes("SSH-2.0-OpenSSH_9.2\r\n")],
    ["a lowercase v1", bytes("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n")],
    ["PROXY without its space", bytes("PROXY\r\n")],
    ["PROXYTCP4", bytes("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n")],
    ["the v2 signature with its last byte wrong", join(signature.subarray(0, 11), [0x0b, 0x21, 0x11, 0, 0])],
    ["blank lines (the signature starts like them)", bytes("\r\n\r\n\r\n")]
  ]
  for (const [name, input] of inputs) {
    it(`refuses ${name} as NotProxyProtocol, however the reads are split`, () => {
      expect(decodeSplit(input)).toMatchObject({ error: "NotProxyProtocol" })
    })
  }

  it("refuses on the first byte that cannot start a header", () => {
    expect(decode([bytes("G")])).toMatchObject({ error: "NotProxyProtocol" })
    expect(decode([bytes("PROXI")])).toMatchObject({ error: "NotProxyProtocol" })
    expect(decode([bytes("PROX")])).toBe("NeedMore")
    expect(decode([signature.subarray(0, 11)])).toBe("NeedMore")
  })

  it("waits through empty reads", () => {
    expect(decode([new Uint8Array(0), new Uint8Array(0)])).toBe("NeedMore")
  })
})

describe("arbitrary input", () => {
  const prefixes = [new Uint8Array(0), bytes("PROXY "), bytes("PROXY TCP4 "), bytes("PROXY TCP6 "), signature, join(signature, [0x21])]
  it.prop(
    "never throws, and gives the same outcome in one read and byte by byte",
    [FastCheck.constantFrom(...prefixes), FastCheck.uint8Array({ maxLength: 300 })],
    ([prefix, tail]) => {
      const input = join(prefix, tail)
      const whole = decode([input], 256)
      expect(decode(Array.from(input, (byte) => Uint8Array.of(byte)), 256)).toEqual(whole)
      if (typeof whole === "object" && "header" in whole) expect(input.length - whole.after.length).toBeLessThanOrEqual(256)
    },
    { fastCheck: { numRuns: 2000 } }
  )
})

describe("clientAddress", () => {
  it("is the source of a proxied connection, and nothing (keep the connection's own) otherwise", () => {
    expect(clientAddress(proxied(2, "10.1.2.3", 5, "10.0.0.1", 6))).toEqual(tcpAddress("10.1.2.3", 5))
    expect(clientAddress({ _tag: "Local", version: 2 })).toBeUndefined()
    expect(clientAddress({ _tag: "Unknown", version: 1 })).toBeUndefined()
    expect(clientAddress({ _tag: "Unix", version: 2, transport: "Stream", source: "/a", destination: "/b" })).toBeUndefined()
  })
})

describe("readHeader", () => {
  /** A pull over a queue of reads: `undefined` is end of stream. */
  const reads = (...items: ReadonlyArray<string | undefined>) =>
    Effect.gen(function*() {
      const queue = yield* Queue.unbounded<Uint8Array | undefined>()
      yield* Queue.offerAll(queue, items.map((item) => item === undefined ? undefined : bytes(item)))
      return queue
    })

  it.effect("pulls until the header is complete and not one read more", () =>
    Effect.gen(function*() {
      const queue = yield* reads("PROXY TCP4 1.2", ".3.4 5.6.7.8 1 2\r", "\nhello", "world")
      const decoded = yield* readHeader(Queue.take(queue))
      expect(decoded.header).toEqual(proxied(1, "1.2.3.4", 1, "5.6.7.8", 2))
      expect(text(decoded.rest)).toBe("hello")
      expect(yield* Queue.size(queue)).toBe(1)
    }))

  it.effect("fails with the decoder's error", () =>
    Effect.gen(function*() {
      const queue = yield* reads("PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n")
      const error = yield* Effect.flip(readHeader(Queue.take(queue)))
      expect(error).toMatchObject({ _tag: "ProxyProtocolError", reason: "Malformed" })
      expect(error.message).toBe("no valid PROXY protocol header: v1: invalid port in \"1 99999\"")
    }))

  it.effect("fails with Closed when the peer ends before a byte, Truncated when it ends mid-header", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(readHeader(Queue.take(yield* reads(undefined))))).toMatchObject({ reason: "Closed" })
      expect(yield* Effect.flip(readHeader(Queue.take(yield* reads("", undefined))))).toMatchObject({ reason: "Closed" })
      const truncated = yield* Effect.flip(readHeader(Queue.take(yield* reads("PROXY TCP4 ", undefined))))
      expect(truncated).toMatchObject({ reason: "Truncated", detail: "the peer stopped after 11 bytes of a header" })
    }))

  it.effect("passes the read's own failure through", () =>
    Effect.gen(function*() {
      expect(yield* Effect.flip(readHeader(Effect.fail("reset" as const)))).toBe("reset")
    }))

  it.effect("fails with Timeout when the header is not complete in time, and interrupts the pending read", () =>
    Effect.gen(function*() {
      const queue = yield* reads("PROXY TCP4 ")
      const fiber = yield* Effect.fork(readHeader(Queue.take(queue), { timeout: "3 seconds" }))
      yield* TestClock.adjust("2999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(Exit.fail(new ProxyProtocolError({ reason: "Timeout", detail: "no complete header within 3s" })))
      // The interrupted take is gone: a later read goes to the next taker.
      yield* Queue.offer(queue, bytes("x"))
      expect(yield* Queue.size(queue)).toBe(1)
    }))

  it.effect("applies the size cap", () =>
    Effect.gen(function*() {
      const queue = yield* reads(text(join(signature, [0x21, 0x11, 0x01, 0x00])))
      expect(yield* Effect.flip(readHeader(Queue.take(queue), { maxHeaderBytes: 200 }))).toMatchObject({ reason: "TooLarge" })
    }))
})
