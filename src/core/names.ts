// Name rules (DESIGN section 2). A name that fails here never reaches a
// template, a NATS subject or a KV key.
import { InvalidNameError } from './errors.js'

export const DNS_LABEL_PATTERN = '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
const DNS_LABEL = new RegExp(DNS_LABEL_PATTERN)

/** Docker container ids are 64 lowercase hex characters. */
export const CONTAINER_ID_PATTERN = '^[a-f0-9]{12,64}$'
const CONTAINER_ID = new RegExp(CONTAINER_ID_PATTERN)

export function isDnsLabel (value: unknown): value is string {
  return typeof value === 'string' && DNS_LABEL.test(value)
}

export function assertDnsLabel (kind: string, value: unknown): string {
  if (!isDnsLabel(value)) throw new InvalidNameError(kind, value)
  return value
}

export function isContainerId (value: unknown): value is string {
  return typeof value === 'string' && CONTAINER_ID.test(value)
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
export function isIPv4 (value: unknown): value is string {
  return typeof value === 'string' && IPV4.test(value)
}

export const MAC_PATTERN = '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$'
