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

/**
 * Why an IPv4 address cannot be a container's endpoint, or null when it can.
 * A container on a MacVLAN network has a LAN address; loopback, link-local
 * (cloud metadata lives at 169.254.169.254), "this network", multicast and
 * broadcast would make nginx or DNS clients reach the proxy's own machine or
 * a whole segment instead. The one rule every place that accepts an endpoint
 * IP uses (schemas, agent extraction, renderer model).
 */
export function endpointIpProblem (value: unknown): string | null {
  if (!isIPv4(value)) return 'not an IPv4 address'
  const [a, b] = value.split('.').map(Number)
  if (a === 0) return 'in 0.0.0.0/8 ("this network")'
  if (a === 127) return 'a loopback address (127.0.0.0/8)'
  if (a === 169 && b === 254) return 'a link-local address (169.254.0.0/16)'
  if (a >= 224 && a <= 239) return 'a multicast address (224.0.0.0/4)'
  if (value === '255.255.255.255') return 'the broadcast address'
  return null
}

export function isEndpointIPv4 (value: unknown): value is string {
  return endpointIpProblem(value) === null
}

/**
 * Docker's own network modes: a replica there would not be on a MacVLAN
 * network (host shares the host's stack, bridge NATs, none is unreachable).
 * `container:<id>` is already refused by the name pattern (no colon).
 */
export const RESERVED_NETWORK_NAMES: readonly string[] = ['host', 'bridge', 'none', 'default']

export function networkNameProblem (value: string): string | null {
  return RESERVED_NETWORK_NAMES.includes(value.toLowerCase())
    ? `"${value}" is one of Docker's own networks, not a MacVLAN network: name the MacVLAN network (e.g. mv0)`
    : null
}
