// `node scripts/run.mjs SUBCOMMAND [flags...]`: what the pnpm scripts run. Runs the built
// program, dist/bin/effect-net.js, in this same process (signals and exit codes are the
// program's own). It was built at install (`prepare`); it is built again, once, only when a
// source is newer than it.
// `node scripts/run.mjs --example NAME [flags...]`: the example program NAME instead
// (dist/examples/NAME.js, see scripts/build.mjs), built the same way.
import { readdirSync, statSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
// The example's name is no argument of its own.
const example = process.argv[2] === "--example" ? process.argv.splice(2, 2)[1] : undefined
const program = example === undefined ? `${root}dist/bin/effect-net.js` : `${root}dist/examples/${example}.js`
const sources = example === undefined ? ["src"] : ["src", "examples"]

/** The newest modification time among `path` and the files below it. */
const newest = (path) => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path).reduce((latest, name) => Math.max(latest, newest(`${path}/${name}`)), stat.mtimeMs)
}

const built = (() => {
  try {
    return statSync(program).mtimeMs
  } catch {
    return 0
  }
})()
if (built < Math.max(...[...sources, "scripts/build.mjs", "package.json"].map((path) => newest(`${root}${path}`)))) {
  const { buildBin, buildExamples } = await import("./build.mjs")
  await (example === undefined ? buildBin() : buildExamples())
}
await import(program)
