// Pure validation of one certificate + key pair: the PEM texts in, the names
// it covers and its validity out, or a refusal with a reason. No file I/O, so
// the rules can be tested with tables and the store decides what to do with
// a refusal (keep serving the previous certificate).
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto'

/** Why a certificate is refused (the refusals metric's `reason`). */
export type CertRefusalReason = 'unreadable' | 'parse' | 'key' | 'key_mismatch' | 'expired' | 'not_yet_valid' | 'no_names' | 'nginx'

export class CertRefusal extends Error {
  constructor (readonly reason: CertRefusalReason, message: string) { super(message) }
}

export interface CertInfo {
  /** DNS names the certificate covers (SAN, else the subject CN), lower case; `*.x` for wildcards. */
  names: string[]
  notBefore: Date
  notAfter: Date
  /** sha256 of the certificate file and key file: a renewal changes it. */
  fingerprint: string
}

// A DNS name with an optional leading `*.` (RFC 6125: the wildcard is the whole left-most label).
const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?'
const HOST = new RegExp(`^(\\*\\.)?(${LABEL}\\.)*${LABEL}$`)

export function isCertName (name: string): boolean {
  return name.length <= 253 && HOST.test(name)
}

/** DNS names of a certificate: its subjectAltName DNS entries, or the subject CN when it has none. */
export function certNames (x: X509Certificate): string[] {
  const san = x.subjectAltName
  let raw: string[]
  if (san != null && san !== '') {
    raw = san.split(/,\s*/).filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4))
  } else {
    const cn = /(?:^|\n)CN=([^\n]+)/.exec(x.subject)
    raw = cn == null ? [] : [cn[1]]
  }
  return [...new Set(raw.map((n) => n.trim().toLowerCase()).filter(isCertName))].sort()
}

/**
 * Checks a pair: both parse, the key is the certificate's, `now` is within
 * its validity, and it names at least one host. Throws CertRefusal.
 */
export function checkCertificate (certPem: Buffer | string, keyPem: Buffer | string, now = new Date()): CertInfo {
  let x: X509Certificate
  try { x = new X509Certificate(certPem) } catch (err) {
    throw new CertRefusal('parse', `not a PEM certificate: ${(err as Error).message}`)
  }
  let key
  try { key = createPrivateKey(keyPem) } catch (err) {
    throw new CertRefusal('key', `not a usable private key (encrypted keys are not supported): ${(err as Error).message}`)
  }
  if (!x.checkPrivateKey(key)) throw new CertRefusal('key_mismatch', 'the private key does not belong to the certificate')
  const notBefore = new Date(x.validFrom)
  const notAfter = new Date(x.validTo)
  if (now.getTime() > notAfter.getTime()) throw new CertRefusal('expired', `expired on ${notAfter.toISOString()}`)
  if (now.getTime() < notBefore.getTime()) throw new CertRefusal('not_yet_valid', `not valid before ${notBefore.toISOString()}`)
  const names = certNames(x)
  if (names.length === 0) throw new CertRefusal('no_names', 'names no DNS host (no subjectAltName DNS entry, no usable CN)')
  return { names, notBefore, notAfter, fingerprint: pairFingerprint(certPem, keyPem) }
}

/** Identity of a pair's bytes: unchanged files are not validated (nor copied) again. */
export function pairFingerprint (certPem: Buffer | string, keyPem: Buffer | string): string {
  return createHash('sha256').update(certPem).update('\0').update(keyPem).digest('hex')
}

/**
 * Does a certificate name cover `host`? Exact (case-insensitive), or a
 * wildcard `*.example.com` covering exactly one more label
 * (`a.example.com`, not `example.com` nor `a.b.example.com`).
 */
export function covers (name: string, host: string): boolean {
  const h = host.toLowerCase()
  if (name === h) return true
  if (!name.startsWith('*.')) return false
  const dot = h.indexOf('.')
  return dot > 0 && !h.startsWith('*.') && h.slice(dot + 1) === name.slice(2)
}
