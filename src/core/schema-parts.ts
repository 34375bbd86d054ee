// JSON-schema pieces the message, KV and IPAM schemas are built from, so a
// name or an address is constrained the same way wherever it appears.
import { DNS_LABEL_PATTERN, CONTAINER_ID_PATTERN, MAC_PATTERN } from './names.js'

export const label = { type: 'string', pattern: DNS_LABEL_PATTERN, maxLength: 63 } as const
export const containerId = { type: 'string', pattern: CONTAINER_ID_PATTERN } as const
export const ipv4 = { type: 'string', format: 'ipv4' } as const
/** A container's address: no loopback, link-local, 0/8, multicast or broadcast (names.ts endpointIpProblem). */
export const endpointIp = { type: 'string', format: 'ipv4', endpointIp: true } as const
export const mac = { type: 'string', pattern: MAC_PATTERN } as const
export const seq = { type: 'integer', minimum: 0 } as const
/** Epoch milliseconds. */
export const time = { type: 'number', minimum: 0 } as const
