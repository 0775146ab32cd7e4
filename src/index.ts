/**
 * effect-net: scoped TCP building blocks for Effect, and the socket tutorial's services on them.
 */
export * from "./address.js"
export * from "./tcp/errors.js"
export * as TcpConnection from "./tcp/connection.js"
export * as TcpListener from "./tcp/listener.js"
export * as TcpClient from "./tcp/client.js"
export * as TcpServer from "./tcp/server.js"
export * as GreetingServer from "./tcp/greeting-server.js"
export * as GreetingClient from "./tcp/greeting-client.js"
export * as Greeting from "./protocol/greeting.js"
export * as Framing from "./protocol/framing.js"
