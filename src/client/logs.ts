// Reads a service's logs from the registry API as NDJSON, one LogEntry at a
// time (the registry merges replicas by timestamp).
import type { LogEntry } from '../core/index.js'
import type { ApiClient } from './api-client.js'

export interface LogsRequest {
  since?: string
  tail?: number
  host?: string
  replica?: number
  stream?: 'stdout' | 'stderr'
  follow?: boolean
}

export function logsPath (service: string, q: LogsRequest): string {
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== false) p.set(k, String(v))
  const qs = p.toString()
  return `/v1/services/${encodeURIComponent(service)}/logs${qs === '' ? '' : `?${qs}`}`
}

/** Calls onEntry for every line until the response ends (or `signal` aborts a follow). */
export async function readLogs (client: ApiClient, service: string, q: LogsRequest, onEntry: (e: LogEntry) => void, signal?: AbortSignal): Promise<void> {
  const res = await client.open(logsPath(service, q), signal)
  if (res.body == null) return
  const dec = new TextDecoder()
  let tail = ''
  try {
    for await (const chunk of res.body) {
      const lines = (tail + dec.decode(chunk as Uint8Array, { stream: true })).split('\n')
      tail = lines.pop() ?? ''
      for (const l of lines) if (l !== '') onEntry(JSON.parse(l) as LogEntry)
    }
  } catch (err) {
    if (signal?.aborted !== true) throw err
  }
}
