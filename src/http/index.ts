/**
 * The HTTP GET client under one namespace (`HttpGet` from the package root), so that nothing
 * clashes with @effect/platform's `HttpBody` and friends: `get` and its options, and the pieces
 * it is made of, `Url`, `Request`, `Response` (the head) and `Body` (where it ends, decoding).
 *
 * @since 0.1.0
 * @module
 */
export * from "./get.js"
export * as Body from "./body.js"
export * as Request from "./request.js"
export * as Response from "./response.js"
export * as Url from "./url.js"
