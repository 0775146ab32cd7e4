/**
 * Effect's `Logger.logfmtLogger`, byte for byte, made cheaper for the usual line (a message and
 * annotations, no cause, no spans), which a busy server writes for every connection: it writes
 * the fiber id directly, tests values rather than matching them, and formats the date once per
 * millisecond. Other entries are Effect's.
 */
import { Cause, FiberId, Inspectable, List, Logger } from "effect"

/** Values with no whitespace, `"` or `=` stand as they are; the others are JSON strings. */
const textOnly = /^[^\s"=]*$/
const value = (text: string): string => textOnly.test(text) ? text : JSON.stringify(text)

/** Keys cannot hold whitespace, `"` or `=`: each becomes `_`. */
const labelChars = /[\s="]/g
const pair = (key: string, text: string): string => ` ${key.replace(labelChars, "_")}=${value(text)}`

/** Many lines share a millisecond, and so their timestamp. */
let lastMillis = Number.NaN
let lastTimestamp = ""
const timestamp = (date: Date): string => {
  const millis = date.getTime()
  if (millis !== lastMillis) {
    lastTimestamp = date.toISOString()
    lastMillis = millis
  }
  return lastTimestamp
}

/** `#12` for a fiber (what `FiberId.threadName` gives it, without building a set of one id). */
const fiberName = (id: FiberId.FiberId): string => id._tag === "Runtime" ? `#${id.id}` : FiberId.threadName(id)

/** `Inspectable.toStringUnknown` as logfmt has it: objects as JSON on one line. */
const text = (u: unknown): string => Inspectable.toStringUnknown(u, 0)

export const logger: Logger.Logger<unknown, string> = Logger.make((entry) => {
  const { annotations, cause, date, fiberId, logLevel, message, spans } = entry
  if (!Cause.isEmptyType(cause) || List.isCons(spans)) return Logger.logfmtLogger.log(entry)
  let out = `timestamp=${value(timestamp(date))} level=${value(logLevel.label)} fiber=${value(fiberName(fiberId))}`
  if (Array.isArray(message)) for (const part of message) out += ` message=${value(text(part))}`
  else out += ` message=${value(text(message))}`
  for (const [key, annotation] of annotations) out += pair(key, text(annotation))
  return out
})
