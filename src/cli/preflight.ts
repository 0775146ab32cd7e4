/**
 * The command line checked before @effect/cli parses it, for what @effect/cli gets wrong or
 * says unclearly: a flag without its value (it would report an unknown flag, or take the next
 * flag as the value), a value of the wrong kind (its message does not name the flag), a bad log
 * level, `--wizard` without a terminal. The flags that take a value are read from each
 * subcommand's usage, so that a new flag is checked without being listed here.
 */
import { Command } from "@effect/cli"
import type { Usage } from "@effect/cli/Usage"
import { HashSet, Option } from "effect"

/** A command line the program refuses before running anything (exit code 2). */
export class UsageError extends Error {}

const logLevels = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"]

/** The flags of `usage` that take a value (`--port`, and aliases such as `-o`), with what they accept. */
const valueFlags = (usage: Usage, into = new Map<string, string>()): Map<string, string> => {
  switch (usage._tag) {
    case "Named":
      if (Option.isSome(usage.acceptedValues)) for (const name of usage.names) into.set(name, usage.acceptedValues.value)
      break
    case "Optional":
    case "Repeated":
      valueFlags(usage.usage, into)
      break
    case "Alternation":
    case "Concat":
      valueFlags(usage.left, into)
      valueFlags(usage.right, into)
      break
  }
  return into
}

/** What is wrong with `value` for a flag that accepts `accepted` (@effect/cli's names for its kinds). */
const invalid = (value: string, accepted: string): string | undefined => {
  if (accepted === "integer") return /^[+-]?\d+$/.test(value) ? undefined : `${value} is not an integer`
  if (accepted === "float") return value.trim() !== "" && Number.isFinite(Number(value)) ? undefined : `${value} is not a number`
  const choices = accepted.split(" | ")
  return choices.length < 2 || choices.includes(value) ? undefined : `${value} (one of ${choices.join(", ")})`
}

/**
 * `args` (the command line after the script) as @effect/cli is to parse it, with `--log-level`
 * put first (it only recognises its built-in option there); throws `UsageError` for what it
 * finds wrong.
 */
export const preflight = (args: ReadonlyArray<string>, subcommands: ReadonlyArray<Command.Command<any, any, any, any>>): Array<string> => {
  const sub = subcommands.find((command) => HashSet.has(Command.getNames(command), args[0] ?? ""))
  const accepts = sub === undefined ? new Map<string, string>() : valueFlags(Command.getUsage(sub))
  accepts.set("--log-level", logLevels.join(" | "))
  const logLevel: Array<string> = []
  const rest: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1
    const flag = equals === -1 ? arg : arg.slice(0, equals)
    if (flag === "--") {
      rest.push(...args.slice(i))
      break
    }
    if (flag === "--wizard" && process.stdin.isTTY !== true) {
      throw new UsageError("--wizard asks its questions on a terminal, and stdin is not one; run it in a terminal")
    }
    const accepted = accepts.get(flag)
    if (accepted === undefined) {
      rest.push(arg)
      continue
    }
    const next = args[i + 1]
    const value = equals !== -1 ? arg.slice(equals + 1) : next === undefined || accepts.has(next) || next.startsWith("--") ? undefined : next
    if (value === undefined) throw new UsageError(`expected a value after ${flag}`)
    if (equals === -1) i++
    const problem = invalid(flag === "--log-level" ? value.toLowerCase() : value, accepted)
    if (problem !== undefined) throw new UsageError(`invalid value for ${flag}: ${problem}`)
    if (flag === "--log-level") logLevel.push(flag, value.toLowerCase())
    else rest.push(flag, value)
  }
  return [...logLevel, ...rest]
}
