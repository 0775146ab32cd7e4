/**
 * One TCP connection: reads pulled with backpressure (`read`, and `reads`, the Stream of them),
 * writes that wait for the OS to take the data, a graceful `end` and an immediate `close`; and
 * the loops over its messages: `runMessages`, a server conversation's fast loop, and `messages`,
 * a pull of decoded messages that keeps its place across interruptions.
 *
 * @since 0.1.0
 * @module
 */
// The transport's connection and framing's loops live apart (the transport does not depend on
// framing); users find them together here.
export * from "./tcp/connection.js"
export { type MessageResult, type Messages, messages, runMessages, type RunMessagesOptions } from "./framing/messages.js"
