/**
 * Command-line options shared by the commands, with their validation (bad values are a
 * one-line error and exit code 2, see `exit.ts`). Defaults come from the library.
 */
import { Args, HelpDoc, Options, ValidationError } from "@effect/cli"
import * as FileSystem from "@effect/platform/FileSystem"
import { Data, Duration, Effect, Either, Option } from "effect"
import * as Path from "node:path"
import { describeError } from "../internal/os-error.js"
import * as Cluster from "../cluster/cluster.js"
import { type FramingName, framingNames } from "../greeting/protocol.js"
import * as Cidr from "../tcp/cidr.js"
import * as ProxyProtocol from "../tcp/proxy-protocol.js"
import { isMulticast } from "../udp/multicast.js"
import { signalCopyWindow } from "./signals.js"

/** Refuses the command line as bad flags (one line, exit code 2), also from a command's handler. */
export const invalid = (message: string) => Effect.fail(ValidationError.invalidValue(HelpDoc.p(message)))

export const host = (defaultHost = "127.0.0.1") =>
  Options.text("host").pipe(
    Options.withDescription(`Address to bind or connect to (default ${defaultHost}); IPv6 such as ::1 works too.`),
    Options.withDefault(defaultHost)
  )

/** Checks a port number flag. */
export const inPortRange = (name: string) =>
  Options.mapEffect((port: number) =>
    port >= 0 && port <= 65535 ? Effect.succeed(port) : invalid(`--${name} must be between 0 and 65535, got ${port}`)
  )

export const port = (description: string, defaultPort: number) =>
  Options.integer("port").pipe(
    Options.withDescription(`${description} (default ${defaultPort}).`),
    Options.withDefault(defaultPort),
    inPortRange("port")
  )

/** A non-negative number of seconds, as a Duration. */
export const seconds = (name: string, description: string, defaultValue: Duration.Duration) =>
  Options.float(name).pipe(
    Options.withDescription(`${description} (default ${Duration.toSeconds(defaultValue)}).`),
    Options.withDefault(Duration.toSeconds(defaultValue)),
    Options.mapEffect((value) =>
      Number.isFinite(value) && value >= 0
        ? Effect.succeed(Duration.millis(value * 1000))
        : invalid(`--${name} must be a number of seconds >= 0, got ${value}`)
    )
  )

/** `--shutdown-grace`, of a server that lets `what` when a signal stops it. */
export const shutdownGrace = (what: string, defaultValue: Duration.Duration) =>
  seconds(
    "shutdown-grace",
    `On SIGINT, SIGTERM, SIGHUP or SIGQUIT, seconds to let ${what}; a second signal stops waiting, unless it comes within ${
      Duration.format(signalCopyWindow)
    } of the first: copies of one signal (Ctrl+C reaches pnpm and the server, and pnpm passes it on) count once`,
    defaultValue
  )

/** A whole number of at least `min`. */
export const count = (name: string, description: string, defaultValue: number, min = 1) =>
  Options.integer(name).pipe(
    Options.withDescription(`${description} (default ${defaultValue}).`),
    Options.withDefault(defaultValue),
    Options.mapEffect((value) => value >= min ? Effect.succeed(value) : invalid(`--${name} must be at least ${min}, got ${value}`))
  )

export const framing = (defaultFraming: FramingName): Options.Options<FramingName> =>
  Options.choice("framing", framingNames).pipe(
    Options.withDescription(`raw: one read is one message, as the tutorial; line: newline-delimited messages (default ${defaultFraming}).`),
    Options.withDefault(defaultFraming)
  )

/**
 * `NAME...`: the names a greeting client greets, `defaults` when none is given. A name that
 * starts with `-` is a mistyped flag (`--timout 2`), not something to send.
 */
export const names = (defaults: ReadonlyArray<string>) =>
  Args.text({ name: "NAME" }).pipe(
    Args.withDescription(`Names to greet (default: ${defaults.join(" ")}); a name cannot start with -.`),
    Args.repeated,
    Args.mapEffect((names) => {
      const flag = names.find((name) => name.startsWith("-"))
      if (flag !== undefined) return Effect.fail(HelpDoc.p(`Received unknown argument: '${flag}'`))
      return Effect.succeed(names.length > 0 ? names : defaults)
    })
  )

/** `--multicast-group G`, when given: a multicast address, IPv4 or IPv6. */
export const multicastGroup = Options.text("multicast-group").pipe(
  Options.withDescription(
    "Join this multicast group (224.0.0.0 to 239.255.255.255, or ff00::/8) and answer what is sent to it; the socket binds the group unless --host says otherwise."
  ),
  Options.optional,
  Options.mapEffect((group) =>
    Option.isNone(group) || isMulticast(group.value)
      ? Effect.succeed(group)
      : invalid(`--multicast-group must be a multicast address (224.0.0.0 to 239.255.255.255, or ff00::/8), got ${group.value}`)
  )
)

/** `--multicast-interface I`, when given. */
export const multicastInterface = (use: string) =>
  Options.text("multicast-interface").pipe(
    Options.withDescription(
      `The interface to ${use}: a name such as lo or eth0, or one of its addresses such as 127.0.0.1 (default: the system's choice, by its routes).`
    ),
    Options.optional
  )

/**
 * A path the user typed, from where they typed it: this repository's pnpm script `script` runs
 * in the project's directory, and pnpm says in INIT_CWD where the user was; run any other way,
 * the path as it is (from the current directory).
 */
export const userPath = (script: string, path: string): string => {
  const directory = process.env.npm_lifecycle_event === script ? process.env.INIT_CWD : undefined
  return directory === undefined ? path : Path.resolve(directory, path)
}

/** The file a flag names could not be read: a failure at run time (exit code 1), naming the flag. */
export class FlagFileError extends Data.TaggedError("FlagFileError")<{
  readonly flag: string
  readonly path: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `cannot read ${this.flag} ${this.path}: ${describeError(this.cause)}`
  }
}

/** Reads the file `path` that `flag` names (the pnpm script `script` resolves it from the user's directory). */
export const readFlagFile = (script: string, flag: string, path: string) =>
  Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.mapError(
      fs.readFile(userPath(script, path)),
      (error) => new FlagFileError({ flag, path, cause: (error._tag === "SystemError" ? error.cause : undefined) ?? error })
    ))

/** `--unix PATH`: a Unix domain socket instead of a host and port. */
export const unix = (description: string) =>
  Options.text("unix").pipe(Options.withDescription(description), Options.optional)
/** The shortest `--worker-watchdog` but off: a worker reports every second, and may be late. */
const shortestWatchdog = Duration.times(Cluster.defaults.metricsInterval, 2)

/**
 * `--workers N|auto`, how many processes serve (node:cluster; `auto` is one per CPU), and
 * `--worker-watchdog SECONDS`, when a silent one is stuck.
 */
export const cluster = Options.all({
  workers: Options.text("workers").pipe(
    Options.withDescription("Processes serving the port (node:cluster): a number, or auto for one per CPU (default 1: this process alone)."),
    Options.withDefault("1"),
    Options.mapEffect((text) => {
      if (text === "auto") return Effect.succeed(Cluster.availableWorkers())
      return /^[1-9][0-9]{0,3}$/.test(text)
        ? Effect.succeed(Number(text))
        : invalid(`--workers must be a number from 1 to 9999, or auto, got ${text}`)
    })
  ),
  watchdog: seconds(
    "worker-watchdog",
    `With --workers, kill (SIGKILL) and replace a worker that has sent the primary nothing for this many seconds (each reports every ${
      Duration.format(Cluster.defaults.metricsInterval)
    }): it is stopped, or its event loop blocked; 0 never does`,
    Cluster.defaults.watchdog
  ).pipe(
    Options.mapEffect((watchdog) =>
      Duration.isZero(watchdog) || Duration.greaterThanOrEqualTo(watchdog, shortestWatchdog)
        ? Effect.succeed(watchdog)
        : invalid(`--worker-watchdog must be 0 (off) or at least ${Duration.toSeconds(shortestWatchdog)} seconds, got ${Duration.toSeconds(watchdog)}`)
    )
  )
})

/** `--proxy-protocol` and `--trusted-proxies`: the PROXY protocol on a TCP listener, when asked for. */
export const proxyProtocol = Options.all({
  on: Options.boolean("proxy-protocol").pipe(
    Options.withDescription(
      "Expect a PROXY protocol header (v1 or v2, as HAProxy's send-proxy, nginx's proxy_protocol on) on each connection, and serve the client it names; connections without one are closed."
    )
  ),
  trusted: Options.text("trusted-proxies").pipe(
    Options.withDescription(
      `With --proxy-protocol, the balancers allowed to send a header: addresses or CIDR blocks, comma-separated (default ${
        ProxyProtocol.defaults.trusted.map(Cidr.format).join(",")
      }); connections from others are closed.`
    ),
    Options.optional
  )
}).pipe(
  Options.mapEffect(({ on, trusted }): Effect.Effect<ProxyProtocol.ListenerOptions | undefined, ValidationError.ValidationError> => {
    if (Option.isNone(trusted)) return Effect.succeed(on ? {} : undefined)
    if (!on) return invalid("--trusted-proxies needs --proxy-protocol")
    return Either.match(Cidr.parseList(trusted.value), {
      onLeft: (error) => invalid(`--trusted-proxies: ${error.message}`),
      onRight: (blocks) => Effect.succeed({ trusted: blocks })
    })
  })
)
