/**
 * What the program says when a command fails: the library error's own short message, then the
 * advice that names this program's flags (the library knows nothing of flags).
 */
import { Data, Predicate } from "effect"
import { errorCode } from "../internal/os-error.js"
import type { TcpListenError } from "../tcp/errors.js"

/** An error with the advice of the command that knows which flag it came from (`--metrics-port`, say). */
export class Advised extends Data.TaggedError("Advised")<{ readonly error: unknown; readonly advice: string }> {
  override get message(): string {
    return `${messageOf(this.error)}; ${this.advice}`
  }
}

const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** What to do when binding `--port` (or another flag's port) failed. */
export const bindAdvice = (reason: TcpListenError["reason"], portFlag = "--port"): string | undefined => {
  switch (reason) {
    case "AddressInUse":
      return `stop the other server or choose another ${portFlag} (0 picks a free one)`
    case "PermissionDenied":
      return `ports below 1024 need privileges, choose a higher ${portFlag}`
    case "AddressNotAvailable":
      return "use a local address such as 127.0.0.1, ::1 or 0.0.0.0 for --host"
    case "Tls":
      return "--tls-key must be the private key of the certificate in --tls-cert, both in PEM"
    case "Other":
      return undefined
  }
}

/** What to do when listening on the Unix socket of `--unix` failed. */
const unixListenAdvice = (reason: string | undefined, cause: unknown): string | undefined => {
  if (reason === "AddressInUse") return "choose another --unix path, or free this one"
  if (reason === "PermissionDenied") return "--unix needs a directory this user may write to"
  if (reason === "Tls") return bindAdvice(reason)
  const code = errorCode(cause)
  if (code === "ENOENT" || code === "ENOTDIR") return "the directory of --unix must exist"
  return code === undefined ? "choose a shorter --unix path" : undefined
}

const unixConnectAdvice: Record<string, string | undefined> = {
  Refused: "is the server running on that socket? (a socket file left by a server that crashed refuses too)",
  Other: "check the --unix path"
}

const connectAdvice: Record<string, string | undefined> = {
  Refused: "is the server running on that host and port?",
  Timeout: "check the host and port, or raise --timeout",
  Unresolved: "check the host name",
  Tls: "does the server speak TLS on that port (or is it http://)?",
  Certificate: "if you trust this server (a self-signed certificate, say), use --insecure"
}

const multicastAdvice: Record<string, string | undefined> = {
  NoSuchInterface: "--multicast-interface takes an interface's name (lo, eth0) or one of its addresses (see ip address)",
  InvalidGroup: "--multicast-group and --host must be of the same family (IPv4 or IPv6)"
}

/** The advice for a library error, if there is any. */
const adviceFor = (error: unknown): string | undefined => {
  if (!Predicate.hasProperty(error, "_tag")) return undefined
  const reason = Predicate.hasProperty(error, "reason") ? String(error.reason) : undefined
  const unix = Predicate.hasProperty(error, "address") && Predicate.isTagged(error.address, "UnixAddress")
  switch (error._tag) {
    case "TcpListenError":
      return unix ? unixListenAdvice(reason, Predicate.hasProperty(error, "cause") ? error.cause : undefined) : bindAdvice(reason as TcpListenError["reason"])
    case "UdpBindError":
      return bindAdvice(reason as TcpListenError["reason"])
    case "TcpConnectError":
      return (unix ? unixConnectAdvice : connectAdvice)[reason ?? ""] ?? connectAdvice[reason ?? ""]
    case "GreetingClientError":
      return reason === "Timeout" ? "raise --timeout if it is slow" : undefined
    case "UdpMulticastError":
      return multicastAdvice[reason ?? ""]
    case "UdpSendError":
      return reason === "NotPermitted" ? "to send to a broadcast address, add --broadcast" : undefined
    case "UdpNoReplyError":
      return "is the server running on that host and port? If it is slow or the network loses datagrams, raise --timeout or --retries"
    case "HttpTimeoutError":
      return "check that it is an HTTP server, or raise --timeout"
    default:
      return undefined
  }
}

/** The one line that says what failed and what to do. */
export const advise = (error: unknown): string => {
  const advice = adviceFor(error)
  return advice === undefined ? messageOf(error) : `${messageOf(error)}; ${advice}`
}
