/**
 * `effect-net http-get URL` (`pnpm http:get URL`): the tutorial's raw-socket HTTP GET as a tool. The status line and the
 * headers go to stderr, the body to a file (written under a temporary name, renamed once
 * complete) or to stdout.
 *
 * What the server sent is shown on stderr with its control characters escaped (a terminal would
 * act on them); the body, and the head with `--include`, are output, written as received.
 *
 * Exit codes: 0 for a 2xx response; 3, 4 or 5 for a 3xx, 4xx or 5xx response (its body is saved
 * all the same); 1 when the download fails; 2 for bad flags or a bad URL; 141 when the output's
 * reader closes it (`| head`); 128 + the signal's number when a signal stops it (130 for Ctrl+C).
 */
import { Args, Command, HelpDoc, Options } from "@effect/cli"
import * as FileSystem from "@effect/platform/FileSystem"
import type { PlatformError } from "@effect/platform/Error"
import { Console, Data, Effect, Exit, Option } from "effect"
import { randomBytes } from "node:crypto"
import { createWriteStream } from "node:fs"
import { constants } from "node:os"
import * as Path from "node:path"
import type { Writable } from "node:stream"
import { describeError, errorCode } from "../internal/os-error.js"
import * as HttpGet from "../http/get.js"
import { headLines } from "../http/response.js"
import * as Url from "../http/url.js"
import { printable } from "../text.js"
import * as Cli from "./options.js"
import { exitOnSignal } from "./runner.js"

/** The output could not be written (a missing directory, a full disk, a pipe its reader closed...). */
class OutputError extends Data.TaggedError("OutputError")<{ readonly path: string; readonly cause: unknown }> {
  /** Its reader closed it (`| head`): not a failure of the download. */
  get closedByReader(): boolean {
    return errorCode(this.cause) === "EPIPE"
  }

  /** 141 for a closed pipe, as the shell reports a program that SIGPIPE stopped. */
  get exitCode(): number {
    return this.closedByReader ? 128 + constants.signals.SIGPIPE : 1
  }

  override get message(): string {
    return this.closedByReader
      ? `${this.path} was closed by its reader (EPIPE); the rest of the body was not written`
      : `cannot write ${this.path}: ${describeError(this.cause)}`
  }
}

/** The server answered, but not with a 2xx status: exits with its class (3, 4 or 5). */
class HttpStatusError extends Data.TaggedError("HttpStatusError")<{
  readonly status: number
  readonly reason: string
  readonly output: string
}> {
  get exitCode(): number {
    return Math.floor(this.status / 100)
  }

  override get message(): string {
    return `the server answered ${this.status} ${printable(this.reason)}; the body was written to ${this.output}`
  }
}

/** `-o -` */
const toStdout = "-"

const formatBytes = (bytes: number): string => {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"]
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`
}

/**
 * Writes one piece of the output; done once it is written, as the piece may be a view of the
 * connection's read buffer, which the next read reuses (`HttpGetResponse.runBody`).
 */
type Write = (bytes: Uint8Array) => Effect.Effect<void, OutputError>

/** What writes the output (the head with --include, then the body) with the `Write` it is given. */
type Output<E, R> = (write: Write) => Effect.Effect<void, E, R>

/**
 * `write` counting what it writes: `12.5 MiB  48.1 MiB/s  25%` on one line of a terminal,
 * redrawn at most 5 times a second, and once more when `run` ends.
 */
const withProgress = <E, R>(total: number | undefined, write: Write, run: Output<E, R>) =>
  Effect.suspend(() => {
    const started = Date.now()
    let bytes = 0
    let drawn = 0
    const draw = () => {
      const seconds = Math.max(Date.now() - started, 1) / 1000
      const percent = total === undefined || total === 0 ? "" : `  ${Math.floor((bytes / total) * 100)}%`
      process.stderr.write(`\r\x1b[K${formatBytes(bytes)}  ${formatBytes(bytes / seconds)}/s${percent}`)
    }
    const counted: Write = (piece) => {
      bytes += piece.length
      if (Date.now() - drawn >= 200) {
        drawn = Date.now()
        draw()
      }
      return write(piece)
    }
    return Effect.ensuring(run(counted), Effect.sync(() => {
      draw()
      process.stderr.write("\n")
    }))
  })

/**
 * Writes to a stream: stdout, or a pipe or a device, where writes at a position fail (ESPIPE).
 * Each write waits for its callback: the stream keeps no piece once it is written.
 */
const writeTo = <E, R>(path: string, writable: Writable, output: Output<E, R>) => {
  const failed = (error: Error) => new OutputError({ path, cause: writable.errored ?? error })
  return output((bytes) =>
    Effect.async<void, OutputError>((resume) => {
      writable.write(bytes, (error) => resume(error == null ? Effect.void : Effect.fail(failed(error))))
    })
  )
}

/** Writes in place to the device or the pipe `target` (what `path` leads to), closed when done. */
const writeInPlace = <E, R>(path: string, target: string, output: Output<E, R>) =>
  Effect.acquireUseRelease(
    // Its errors (opening it, say) fail the writes and the end, which wait for them.
    Effect.sync(() => createWriteStream(target).on("error", () => {})),
    (writable) =>
      Effect.zipRight(
        writeTo(path, writable, output),
        Effect.async<void, OutputError>((resume) => {
          writable.end((error?: Error | null) => resume(error == null ? Effect.void : Effect.fail(new OutputError({ path, cause: error }))))
        })
      ),
    (writable) => Effect.sync(() => writable.destroy())
  )

/** How many symbolic links in a row are followed, as Linux does (ELOOP beyond). */
const maxLinks = 40

/**
 * Where `path` leads through symbolic links: the file a link points to, even one that does not
 * exist yet (a dangling link), so that it is written there and the link kept.
 */
const followLinks = (fs: FileSystem.FileSystem, path: string) =>
  Effect.gen(function*() {
    let current = path
    for (let links = 0; links < maxLinks; links++) {
      // Fails for what is not a link (EINVAL) or does not exist (ENOENT): the end of the chain.
      const link = yield* Effect.option(fs.readLink(current))
      if (Option.isNone(link)) return current
      current = Path.resolve(Path.dirname(current), link.value)
    }
    return yield* new OutputError({ path, cause: Object.assign(new Error("too many symbolic links"), { code: "ELOOP" }) })
  })

/**
 * Writes the output under a temporary name beside `path`, renamed to `path` once complete: a
 * failed or interrupted download leaves no file that looks complete (and no temporary file).
 */
const saveTo = <E, R>(path: string, output: Output<E, R>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    // The platform's error wraps Node's, whose code says what went wrong.
    const failed = (error: PlatformError) => new OutputError({ path, cause: error.cause ?? error })
    // Through a symbolic link, the file it points to is written, not the link.
    const target = yield* followLinks(fs, path)
    const existing = yield* Effect.option(fs.stat(target))
    // A device or a pipe (/dev/null, say) is written in place: a rename would replace it by a file.
    if (Option.isSome(existing) && existing.value.type !== "File") return yield* writeInPlace(path, target, output)
    const temporary = Path.join(Path.dirname(target), `.${Path.basename(target)}.${randomBytes(4).toString("hex")}.part`)
    const written = Effect.scoped(Effect.gen(function*() {
      const file = yield* Effect.mapError(fs.open(temporary, { flag: "wx" }), failed)
      // writeAll is done once the bytes are in the file.
      yield* output((bytes) => Effect.mapError(file.writeAll(bytes), failed))
    })).pipe(Effect.zipRight(Effect.mapError(fs.rename(temporary, target), failed)))
    return yield* Effect.onExit(written, (exit) => Exit.isSuccess(exit) ? Effect.void : Effect.ignore(fs.remove(temporary)))
  })

const url = Args.text({ name: "URL" }).pipe(
  Args.withDescription("http:// or https:// URL to get (http:// is assumed without a scheme)."),
  Args.mapEffect((text) => Effect.mapError(Url.parse(text), (error) => HelpDoc.p(error.message)))
)

export const command = Command.make("http-get", {
  url,
  output: Options.text("output").pipe(
    Options.withAlias("o"),
    Options.withDescription("File to save the body to, - for stdout (default: the URL's last path segment, or index.html)."),
    Options.optional
  ),
  raw: Options.boolean("raw").pipe(
    Options.withDescription("Save the body as received, a chunked body with its chunk sizes (as the tutorial does).")
  ),
  include: Options.boolean("include").pipe(
    Options.withAlias("i"),
    Options.withDescription("Also write the status line and headers, as received (unescaped), before the body.")
  ),
  follow: Options.boolean("follow").pipe(
    Options.withAlias("L"),
    Options.withDescription(`Follow redirects (3xx with a Location), at most ${HttpGet.defaults.maxRedirects}.`)
  ),
  insecure: Options.boolean("insecure").pipe(
    Options.withAlias("k"),
    Options.withDescription("Accept an https server's certificate that does not verify, such as a self-signed one.")
  ),
  timeout: Cli.seconds("timeout", "Seconds to wait for the connection, and for the server whenever it falls silent", HttpGet.defaults.timeout)
}, (options) =>
  Effect.scoped(Effect.gen(function*() {
    const response = yield* HttpGet.get(options.url, {
      timeout: options.timeout,
      follow: options.follow,
      insecure: options.insecure,
      raw: options.raw
    })
    const { head } = response
    // The head's lines, what a terminal would act on escaped.
    yield* Console.error(headLines(head).map(printable).join("\n"))
    const output = Option.getOrElse(options.output, () => Url.fileName(options.url))
    // The head with --include, then the body, written as it is read.
    const written: Output<HttpGet.HttpGetError | OutputError, never> = (write) =>
      Effect.zipRight(
        options.include ? write(head.bytes) : Effect.void,
        process.stderr.isTTY ? withProgress(response.length, write, response.runBody) : response.runBody(write)
      )
    yield* output === toStdout
      ? writeTo("stdout", process.stdout, written)
      : saveTo(Path.resolve(Cli.userPath("http:get", output)), written)
    if (head.status < 200 || head.status > 299) {
      return yield* new HttpStatusError({ status: head.status, reason: head.reason, output: output === toStdout ? "stdout" : output })
    }
  }).pipe(exitOnSignal))).pipe(
    Command.withDescription("Get a URL over the project's own sockets (TLS for https) and save the body to a file.")
  )
