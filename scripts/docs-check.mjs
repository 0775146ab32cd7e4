// A TypeDoc plugin (typedoc.json's `plugin`): the API reference's own checks, run before the
// reference is written, and alone by `typedoc --emit none` (in `pnpm test`), so that a broken
// example or a missing tag fails the build like a failing test.
// - Each entry point's module and each namespace has a description and `@since`; every other
//   export a description, `@since` and an `@example`.
// - Every `@example` (its ```ts blocks), wherever it is, type-checks against the sources as a
//   user writes it (`import { ... } from "effect-net"`), runs, and prints what it says: each line
//   with a `console.log(...)` ends with `// what it prints`, in the order printed. An example
//   awaits its asynchronous work at top level, so that what it prints is its own.
import { buildSync } from "esbuild"
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Application, ReflectionKind } from "typedoc"
import ts from "typescript"

const root = fileURLToPath(new URL("..", import.meta.url))
const fence = /```(?:ts|typescript)\n([\s\S]*?)```/g

/** @param {import("typedoc").Application} app */
export const load = (app) => {
  app.on(Application.EVENT_VALIDATE_PROJECT, (project) => check(app, project))
}

/** A module's or a function's comment: TypeDoc puts a function's on its signature. */
const commentOf = (reflection) => reflection.comment ?? reflection.signatures?.find((signature) => signature.comment)?.comment

const text = (parts) => parts.map((part) => part.text).join("")

/** Each module and what it exports, namespaces' members included; re-exports are documented where they are declared. */
function* declarations(project) {
  const walk = function*(container) {
    for (const child of container.children ?? []) {
      if (child.kindOf(ReflectionKind.Reference)) continue
      yield child
      if (child.kindOf(ReflectionKind.Namespace)) yield* walk(child)
    }
  }
  for (const module of project.children ?? []) {
    yield module
    yield* walk(module)
  }
}

/** What the reflection's documentation lacks: a description, `@since`, an `@example` (not asked of modules). */
const missing = (reflection) => {
  const comment = commentOf(reflection)
  const lacks = []
  if (comment === undefined || text(comment.summary).trim() === "") lacks.push("a description")
  if (comment?.getTag("@since") === undefined || text(comment.getTag("@since").content).trim() === "") lacks.push("@since")
  if (!reflection.kindOf(ReflectionKind.SomeModule) && comment?.getTag("@example") === undefined) lacks.push("an @example")
  return lacks
}

/** The code of every `@example` in the reference, members' and signatures' included (an inherited member's is its parent's). */
const examplesOf = (app, project) =>
  project.getReflectionsByKind(ReflectionKind.All).flatMap((reflection) => {
    if (reflection.inheritedFrom !== undefined) return []
    const name = reflection.kindOf(ReflectionKind.SomeSignature) ? reflection.parent.getFullName() : reflection.getFullName()
    return (reflection.comment?.getTags("@example") ?? []).flatMap((tag) => {
      const blocks = [...text(tag.content).matchAll(fence)].map((match) => ({ name, code: match[1] }))
      if (blocks.length === 0) app.logger.error(`${name}: an @example without a \`\`\`ts block`)
      return blocks
    })
  })

/** @param {import("typedoc").Application} app @param {import("typedoc").ProjectReflection} project */
const check = (app, project) => {
  for (const reflection of declarations(project)) {
    const lacks = missing(reflection)
    if (lacks.length > 0) app.logger.error(`${reflection.getFullName()}: its documentation lacks ${lacks.join(", ")}`)
  }
  const examples = examplesOf(app, project)
  if (examples.length === 0) return
  const dir = mkdtempSync(join(root, ".docs-examples-"))
  try {
    const files = examples.map((example, i) => {
      const file = join(dir, `${String(i).padStart(3, "0")}-${example.name.replace(/[^\w.-]/g, "_")}.ts`)
      writeFileSync(file, example.code)
      return { ...example, file }
    })
    const typeErrors = typeCheck(files)
    const errors = typeErrors.length > 0 ? typeErrors : run(dir, files)
    for (const error of errors) app.logger.error(error)
    if (errors.length === 0) app.logger.info(`${files.length} examples type-checked and run`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The type errors of the examples, compiled with the project's options and `effect-net` mapped to its sources. */
const typeCheck = (files) => {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
      throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n"))
    }
  })
  const program = ts.createProgram({
    rootNames: files.map((example) => example.file),
    // An example may name a value only to show it.
    options: { ...config.options, noUnusedLocals: false, noUnusedParameters: false, moduleDetection: ts.ModuleDetectionKind.Force }
  })
  return files.flatMap(({ name, file }) => {
    const source = program.getSourceFile(file)
    return [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)].map((diagnostic) => {
      const { line } = source.getLineAndCharacterOfPosition(diagnostic.start ?? 0)
      return `${name}: its @example does not type-check, line ${line + 1}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n")}`
    })
  })
}

/** Runs each example once, in order, in one process (it ends when the last is done), recording what each printed. */
const runner = `
import { appendFileSync } from "node:fs"
import { format } from "node:util"
const [results, ...modules] = process.argv.slice(2)
const log = console.log
for (const module of modules) {
  const printed = []
  console.log = (...args) => { printed.push(format(...args)) }
  let error
  try { await import(module) } catch (cause) { error = String(cause?.stack ?? cause) }
  console.log = log
  appendFileSync(results, JSON.stringify({ printed, error }) + "\\n")
}
process.exit(0)
`

/** What each example printed, against the comments of its `console.log` lines. */
const run = (dir, files) => {
  const out = join(dir, "run")
  mkdirSync(out)
  try {
    buildSync({
      absWorkingDir: root,
      entryPoints: files.map((example) => example.file),
      outdir: out,
      outExtension: { ".js": ".mjs" },
      bundle: true,
      packages: "external",
      platform: "node",
      format: "esm",
      target: "node20",
      tsconfig: join(root, "tsconfig.json"),
      logLevel: "silent"
    })
  } catch (error) {
    return [`the examples could not be bundled: ${error.message}`]
  }
  const results = join(dir, "results.jsonl")
  writeFileSync(join(out, "runner.mjs"), runner)
  const modules = files.map((example) => join(out, example.file.slice(dir.length + 1).replace(/\.ts$/, ".mjs")))
  const child = spawnSync(process.execPath, [join(out, "runner.mjs"), results, ...modules], { cwd: root, encoding: "utf8", timeout: 120_000 })
  const done = existsSync(results) ? readFileSync(results, "utf8").trim().split("\n").filter(Boolean).map((line) => JSON.parse(line)) : []
  const errors = files.slice(0, done.length).flatMap(({ name, code }, i) => {
    const { printed, error } = done[i]
    if (error !== undefined) return [`${name}: its @example failed: ${error}`]
    const says = code.split("\n").filter((line) => line.includes("console.log(")).map((line) => /\)\s*\/\/ ?(.*)$/.exec(line)?.[1])
    if (says.includes(undefined)) return [`${name}: its @example has a console.log line that does not end with // what it prints`]
    return printed.join("\n") === says.join("\n") ? [] : [`${name}: its @example prints\n${printed.join("\n")}\nwhere its comments say\n${says.join("\n")}`]
  })
  if (done.length < files.length) {
    const stuck = files[done.length].name
    errors.push(
      child.error?.code === "ETIMEDOUT"
        ? `${stuck}: its @example did not finish`
        : `${stuck}: its @example stopped the process (exit code ${child.status}): ${child.stderr}`
    )
  }
  return errors
}
