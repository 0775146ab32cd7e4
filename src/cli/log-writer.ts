/**
 * The program's log lines on stderr, bounded: logging never holds unbounded memory nor blocks
 * serving. On a pipe nobody reads (a stuck log collector), Node keeps every write in the stream's
 * buffer; here, once `maxBufferedBytes` wait there, the lines that follow are dropped and counted
 * (`effect_net_log_lines_dropped_total`) until stderr drains, and then one warning says how many
 * were dropped, where they are missing. The newest lines are the ones dropped (as pino's
 * sonic-boom does with `maxLength`): the lines kept are in order, with one gap.
 *
 * The buffer is the stream's own, so log lines stay in order with what else the program writes
 * to stderr (its `error: ...` line). A terminal or a file takes each write at once (Node writes
 * to them synchronously): nothing is dropped.
 *
 * Lines go out in batches, as a write per line (a system call that wakes the pipe's reader) is a
 * large share of a busy server's work. While a batch is open, stderr is corked: its own buffer
 * holds the lines (in order, within the bound), and the batch is written after `batchDelay`, once
 * it reaches the stream's high-water mark, on `flush`, and when the process exits (even by
 * `process.exit`).
 */
import { Duration, Effect, Logger, Metric } from "effect"

export const defaults = {
  /** Bytes of log lines that may wait for stderr; the lines that come while more wait are dropped. */
  maxBufferedBytes: 1024 * 1024,
  /** How long the program, once done, waits for stderr to take the lines still waiting. */
  exitFlushTimeout: Duration.seconds(1),
  /** How long a line may wait for the next lines, to go out with them in one write. */
  batchDelay: Duration.millis(10)
}

/** The program's own metric, unlabelled: there is one stderr per process. */
const linesDropped = Metric.counter("effect_net_log_lines_dropped_total", {
  description: "Log lines dropped because stderr was not being read (its buffer was full) or was closed",
  incremental: true
})

export interface LogWriter {
  /** Writes each entry, formatted as `format` does, as one line on stderr, or drops it (see above). */
  readonly logger: Logger.Logger<unknown, void>
  /**
   * Waits until stderr has taken every line written so far: `false` when it did not within
   * `timeout` (stuck; the program should exit rather than wait, as Node would, for ever).
   */
  readonly flush: (timeout: Duration.DurationInput) => Effect.Effect<boolean>
}

/** Starts writing log lines to `process.stderr`; meant to be made once per program. */
export const make = (format: Logger.Logger<unknown, string>, options: { readonly maxBufferedBytes?: number } = {}): LogWriter => {
  const stderr = process.stderr
  // Registered now, so that a scrape shows it at zero.
  linesDropped.unsafeUpdate(0, [])
  // Not below the high-water mark: past it, a write returns false, so 'drain' will follow.
  const bound = Math.max(options.maxBufferedBytes ?? defaults.maxBufferedBytes, stderr.writableHighWaterMark)
  /** Lines dropped since stderr last drained: while there are any, every line is, so the gap is one. */
  let dropped = 0
  /** Whether stderr failed (its reader closed the pipe: EPIPE); it takes nothing any more. */
  let failed = false
  const batchDelay = Duration.toMillis(defaults.batchDelay)
  /** While a batch is open (stderr corked): the timer that writes it, and its size. */
  let batch: NodeJS.Timeout | undefined
  let batched = 0
  const writeBatch = () => {
    if (batch === undefined) return
    clearTimeout(batch)
    batch = undefined
    batched = 0
    stderr.uncork()
  }

  const logger = Logger.make<unknown, void>((entry) => {
    if (failed || dropped > 0 || stderr.writableLength >= bound) {
      dropped++
      linesDropped.unsafeUpdate(1, [])
    } else {
      if (batch === undefined) {
        stderr.cork()
        batch = setTimeout(writeBatch, batchDelay)
      }
      const line = format.log(entry) + "\n"
      stderr.write(line)
      batched += line.length
      if (batched >= stderr.writableHighWaterMark) writeBatch()
    }
  })

  // Without a listener, an EPIPE would be an uncaught exception, logged to stderr: a loop.
  stderr.on("error", () => (failed = true))
  // Node writes to a pipe, a file or a terminal at once when it can: an abrupt exit loses no line.
  process.on("exit", writeBatch)
  stderr.on("drain", () => {
    if (dropped === 0) return
    const count = dropped
    dropped = 0
    Effect.runSync(
      Effect.logWarning(`dropped ${count} log line(s): stderr was not being read`).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
    )
  })

  /** An empty write's callback runs once everything before it is out; the notice may follow it. */
  const flushed = (): Effect.Effect<void> =>
    Effect.suspend(() =>
      failed || stderr.writableLength === 0
        ? Effect.void
        : Effect.zipRight(Effect.async<void>((resume) => void stderr.write("", () => resume(Effect.void))), flushed())
    )

  return {
    logger,
    flush: (timeout) =>
      Effect.zipRight(Effect.sync(writeBatch), flushed()).pipe(
        Effect.timeoutTo({ duration: timeout, onSuccess: () => true, onTimeout: () => false })
      )
  }
}
