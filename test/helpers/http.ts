/**
 * A real HTTP client for tests (node:http): scraping a metrics endpoint.
 */
import { Effect } from "effect"
import * as Http from "node:http"

/** GETs a URL; fails on a non-200 status or a network error. */
export const get = (url: string) =>
  Effect.async<string, Error>((resume) => {
    const request = Http.get(url, (response) => {
      let body = ""
      response.setEncoding("utf8").on("data", (chunk: string) => (body += chunk))
      response.on("end", () =>
        resume(
          response.statusCode === 200
            ? Effect.succeed(body)
            : Effect.fail(new Error(`GET ${url}: ${response.statusCode}`))
        ))
    })
    request.on("error", (error) => resume(Effect.fail(error)))
    return Effect.sync(() => request.destroy())
  })

/** Waits for a server's `metrics on URL` line and scrapes it. */
export const scrape = (server: { waitFor: (pattern: RegExp) => Effect.Effect<RegExpMatchArray, unknown> }) =>
  Effect.flatMap(server.waitFor(/^metrics on (\S+)$/m), ([, url]) => get(url!))

/** The value of a sample in a Prometheus text exposition, summed over its labels. */
export const sample = (exposition: string, name: string): number => {
  const matches = [...exposition.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))]
  if (matches.length === 0) throw new Error(`no sample ${name} in:\n${exposition}`)
  return matches.reduce((sum, match) => sum + Number(match[1]), 0)
}
