/**
 * The key-value service's protocol, which its server and its client share: each message a
 * length-prefixed frame (a 4-byte big-endian length, then the payload), each payload the JSON of
 * a request or a response, typed by an Effect `Schema`.
 */
import { Schema } from "effect"
import { Framing } from "effect-net"

export const GetRequest = Schema.TaggedStruct("Get", { key: Schema.String })
export const SetRequest = Schema.TaggedStruct("Set", { key: Schema.String, value: Schema.String })
export const Request = Schema.Union(GetRequest, SetRequest)
export type Request = typeof Request.Type

/** A key's value: `null` for a key not set. */
export const Value = Schema.TaggedStruct("Value", { value: Schema.NullOr(Schema.String) })
export const Stored = Schema.TaggedStruct("Stored", {})
/** A request refused; the server closes the connection after it. */
export const Failure = Schema.TaggedStruct("Error", { message: Schema.String })
export const Response = Schema.Union(Value, Stored, Failure)
export type Response = typeof Response.Type

/** Both ends refuse a frame over this: the decoder as soon as its header says so, the encoder before sending it. */
const framing: Framing.LengthPrefixedOptions = { maxFrameBytes: 64 * 1024 }

/** A decoder of requests, for one connection (it holds what it has of a frame). */
export const requests = () => Framing.schemaJson(Request, Framing.lengthPrefixed(framing))
export const encodeRequest = Framing.encodeSchemaJson(Request, Framing.encodeLengthPrefixed(framing))

/** A decoder of responses, for one connection. */
export const responses = () => Framing.schemaJson(Response, Framing.lengthPrefixed(framing))
export const encodeResponse = Framing.encodeSchemaJson(Response, Framing.encodeLengthPrefixed(framing))
