/**
 * effect-net: scoped TCP and UDP building blocks for Effect, and the socket tutorial's services
 * on them. Each module is a namespace named for what it holds; the error classes are exported
 * as they are. The Prometheus endpoint is `effect-net/prometheus` (it loads an HTTP server).
 *
 * @since 0.1.0
 * @module effect-net
 */
export * from "./address.js"
export * as Framing from "./framing/index.js"
export type { Message } from "./framing/decoder.js"
export * from "./framing/errors.js"
export * as Logging from "./logging.js"
export * as Metrics from "./metrics/metrics.js"

export * as Cluster from "./cluster/cluster.js"
export { ClusterStartError } from "./cluster/cluster.js"

export * as Cidr from "./tcp/cidr.js"
export { CidrError } from "./tcp/cidr.js"
export * as ProxyProtocol from "./tcp/proxy-protocol.js"
export * as TcpClient from "./tcp/client.js"
export * as TcpConnection from "./tcp-connection.js"
export * from "./tcp/errors.js"
export * as TcpListener from "./tcp/listener.js"
export * as TcpServer from "./tcp/server.js"

export * from "./udp/errors.js"
export * as UdpSocket from "./udp/socket.js"

export * as Greeting from "./greeting/protocol.js"
export * as TcpGreetingClient from "./greeting/tcp-client.js"
export { GreetingClientError } from "./greeting/tcp-client.js"
export * as TcpGreetingServer from "./greeting/tcp-server.js"
export * as UdpGreetingClient from "./greeting/udp-client.js"
export { UdpNoReplyError } from "./greeting/udp-client.js"
export * as UdpGreetingServer from "./greeting/udp-server.js"

export * from "./http/errors.js"
export * as HttpGet from "./http/index.js"

export * as PlatformSocket from "./platform/socket.js"
export * as PlatformSocketServer from "./platform/socket-server.js"
