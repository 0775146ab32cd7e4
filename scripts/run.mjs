// `node scripts/run.mjs SUBCOMMAND [flags...]`: what the pnpm scripts run. Runs the built
// program, dist/bin/effect-net.js, in this same process (signals and exit codes are the
// program's own). It was built at install (`prepare`); it is built again, once, only when a
// source is newer than it.
import { readdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const bin = `${root}dist/bin/effect-net.js`

/** The newest modification time among `path` and the files below it. */
const newest = (path) => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((latest, name) => Math.max(latest, newest(`${path}/${name}`)), stat.mtimeMs)
}

const built = (() => {
  try {
    return statSync(bin).mtimeMs
  } catch {
    return 0
  }
})()
if (built < Math.max(newest(`${root}src`), newest(`${root}scripts/build.mjs`), newest(`${root}package.json`))) {
  const { buildBin } = await import("./build.mjs")
  await buildBin()
}
await import(bin)
