/**
 * A count of events told at most once a second: a flood of the same failure (out of file
 * descriptors, connections refused) is one log line per second, with how many there were.
 */

/** Counts a call; returns the line to log when a second has passed since the last one, else nothing. */
export const rateLimited = <A extends Array<unknown>>(describe: (count: number, ...args: A) => string) => {
  let lastTold = 0
  let count = 0
  return (...args: A): string | undefined => {
    count++
    const now = Date.now()
    if (now - lastTold < 1000) return undefined
    lastTold = now
    const line = describe(count, ...args)
    count = 0
    return line
  }
}
