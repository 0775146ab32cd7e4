/**
 * The codecs, exported from the package's root as the `Framing` namespace: the decoder contract,
 * the decoders and their encoders, typed messages, and the Stream transformation.
 *
 * @since 0.1.0
 * @module
 */
import { defaults as delimitedDefaults } from "./delimited.js"
import { defaults as lengthPrefixedDefaults } from "./length-prefixed.js"
import { defaults as linesDefaults } from "./lines.js"

export type { Decoder, Message } from "./decoder.js"
export { delimited, type DelimitedOptions, encodeDelimited } from "./delimited.js"
export * from "./errors.js"
export { encodeLengthPrefixed, lengthPrefixed, type LengthPrefixedOptions } from "./length-prefixed.js"
export { lines, type LinesOptions } from "./lines.js"
export { raw, rawMessage } from "./raw.js"
export { encodeSchemaJson, schemaJson } from "./schema.js"
export { frame } from "./stream.js"

/**
 * The defaults of each codec's options, by codec.
 *
 * @example
 * ```ts
 * import { Framing } from "effect-net"
 *
 * console.log(Framing.defaults.lengthPrefixed.maxFrameBytes) // 1048576
 * ```
 *
 * @since 0.1.0
 */
export const defaults = {
  lines: linesDefaults,
  lengthPrefixed: lengthPrefixedDefaults,
  delimited: delimitedDefaults
} as const
