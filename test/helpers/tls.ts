/**
 * Certificates for the TLS tests, made at test time with `openssl` in the scratch directory:
 * self-signed, for `localhost` and 127.0.0.1, valid for a day.
 */
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import * as Path from "node:path"
import { ProcessError, run, scratch } from "./process.js"

export interface Certificate {
  readonly certPath: string
  readonly keyPath: string
  readonly cert: Buffer
  readonly key: Buffer
}

/** A new self-signed certificate with the common name `name`, and its key (files named for it in the scratch directory). */
export const selfSigned = (name: string) =>
  Effect.gen(function*() {
    const certPath = Path.join(scratch, `${name}-cert.pem`)
    const keyPath = Path.join(scratch, `${name}-key.pem`)
    const made = yield* run([
      "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
      "-subj", `/CN=${name}`, "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout", keyPath, "-out", certPath
    ])
    if (made.code !== 0) return yield* new ProcessError({ message: `openssl failed: ${made.stderr}` })
    return { certPath, keyPath, cert: readFileSync(certPath), key: readFileSync(keyPath) } satisfies Certificate
  })
