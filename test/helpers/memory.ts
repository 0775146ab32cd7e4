/**
 * The heap in use, for tests that bound what something retains (vitest runs with --expose-gc).
 */
export const MB = 1024 * 1024

/** Present when the process runs with --expose-gc (tests that need it are skipped otherwise). */
export const gc = (globalThis as { gc?: () => void }).gc

/** The heap in use after full collections. */
export const heapUsed = () => {
  gc!()
  gc!()
  return process.memoryUsage().heapUsed
}
