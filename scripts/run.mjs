// `node scripts/run.mjs NAME [flags...]`: bundles the current source of src/cli/NAME.ts, then runs
// it in this same process, so that signals and exit codes are the program's own (no shell between).
import { buildCommand } from "./build.mjs"

const [name] = process.argv.splice(2, 1)
await buildCommand(name)
await import(`../dist/cli/${name}.js`)
