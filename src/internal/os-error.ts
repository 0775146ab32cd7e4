/**
 * OS errors as the library tells of them: a Node system error's code, a short description a user
 * reads (`connection refused (ECONNREFUSED)`), and why a bind failed.
 */
import type { BindReason } from "../address.js"

/** The `code` of a Node system error (`ECONNREFUSED`, ...), if it has one. */
export const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const descriptions: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EADDRNOTAVAIL: "the address is not available on this machine",
  EACCES: "permission denied",
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  EPIPE: "the peer closed the connection",
  ETIMEDOUT: "timed out",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed (temporary DNS failure)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EMFILE: "too many open files",
  EINVAL: "invalid argument",
  EAFNOSUPPORT: "address family not supported (no IPv6 on this machine?)",
  ENOENT: "no such file or directory",
  ENOTDIR: "a part of the path is not a directory",
  ENAMETOOLONG: "the path is too long",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOSPC: "no space left on device",
  ELOOP: "too many levels of symbolic links"
}

/** The reason of a failed bind, from the OS error. */
export const bindReason = (cause: unknown): BindReason => {
  switch (errorCode(cause)) {
    case "EADDRINUSE":
      return "AddressInUse"
    case "EACCES":
      return "PermissionDenied"
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "AddressNotAvailable"
    default:
      return "Other"
  }
}

/** A short human description of a system error: `connection refused (ECONNREFUSED)`. */
export const describeError = (cause: unknown): string => {
  const code = errorCode(cause)
  if (code !== undefined) return `${descriptions[code] ?? "system error"} (${code})`
  return cause instanceof Error ? cause.message : String(cause)
}
