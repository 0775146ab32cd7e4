// `node scripts/run.mjs NAME [flags...]`: builds the current source, then runs dist/src/cli/NAME.js
// in this same process, so that signals and exit codes are the program's own (no shell between).
import { build } from "./build.mjs"

const [name] = process.argv.splice(2, 1)
await build()
await import(`../dist/src/cli/${name}.js`)
