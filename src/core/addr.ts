// IPv4 arithmetic on unsigned 32-bit integers. Pure.
import { isIPv4 } from './names.js'

export function ipToInt (ip: string): number {
  const p = ip.split('.').map(Number)
  return ((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3]
}

export function intToIp (n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

export interface Cidr { network: number, prefix: number, size: number, broadcast: number }

/** Parses `a.b.c.d/n`; null when malformed. `exact` also demands zero host bits. */
export function parseCidr (text: string): (Cidr & { exact: boolean }) | null {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text)
  if (m == null || !isIPv4(m[1])) return null
  const prefix = Number(m[2])
  if (prefix > 32) return null
  const size = 2 ** (32 - prefix)
  const ip = ipToInt(m[1])
  const network = prefix === 0 ? 0 : (ip - (ip % size)) >>> 0
  return { network, prefix, size, broadcast: network + size - 1, exact: network === ip }
}

export function cidrText (c: Cidr): string { return `${intToIp(c.network)}/${c.prefix}` }

export function contains (c: Cidr, n: number): boolean {
  return n >= c.network && n <= c.broadcast
}

/** `a.b.c.d-e.f.g.h` or a CIDR, as an inclusive [start, end]; null when malformed. */
export function parseRange (text: string): { start: number, end: number } | null {
  const dash = /^([\d.]+)-([\d.]+)$/.exec(text)
  if (dash != null) {
    if (!isIPv4(dash[1]) || !isIPv4(dash[2])) return null
    return { start: ipToInt(dash[1]), end: ipToInt(dash[2]) }
  }
  const c = parseCidr(text)
  return c == null ? null : { start: c.network, end: c.broadcast }
}

/** 32-bit FNV-1a: a stable, well-spread start offset per owner. */
export function fnv1a (text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}
