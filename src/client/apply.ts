// Applying spec files through the API: PUT each spec (YAML or JSON; several
// YAML documents in one file are several services) to /v1/services/<name>.
// Shared by `driftgate apply` and the demo.
import { readFileSync } from 'node:fs'
import { ValidationError, isDnsLabel, readYamlDocuments } from '../core/index.js'
import type { ApiClient } from './api-client.js'

export interface SpecWrite { service: string, version: number, changed: boolean, created: boolean, replicas: number }

/** The specs in a file's text: one per YAML document (JSON is YAML too). */
export function specsFromText (text: string, source: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = []
  // Empty documents (e.g. after a trailing ---) are skipped.
  for (const { at: where, value } of readYamlDocuments(text, source)) {
    if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(`spec in ${where}`, [{ field: '/', message: 'must be a mapping' }])
    const spec = value as Record<string, unknown>
    if (!isDnsLabel(spec.name)) {
      throw new ValidationError(`spec in ${where}`, [{ field: '/name', message: 'required: a DNS label such as "web" (the service name)' }])
    }
    out.push(spec)
  }
  if (out.length === 0) throw new ValidationError(`${source}`, [{ field: '/', message: 'no spec in the file' }])
  return out
}

export function describeWrite (r: SpecWrite): string {
  const what = r.created ? 'created' : r.changed ? 'updated' : 'unchanged'
  return `${r.service}: ${what} (version ${r.version}, ${r.replicas} replica${r.replicas === 1 ? '' : 's'})`
}

export async function applyFiles (client: ApiClient, files: string[], out: (s: string) => void,
  read: (f: string) => string = (f) => readFileSync(f === '-' ? 0 : f, 'utf8')): Promise<SpecWrite[]> {
  // Parse everything first: a bad file applies nothing.
  const specs = files.flatMap((f) => {
    let text: string
    try { text = read(f) } catch (err) { throw new ValidationError('file', [{ field: f, message: (err as Error).message }]) }
    return specsFromText(text, f === '-' ? 'stdin' : f)
  })
  const results: SpecWrite[] = []
  for (const spec of specs) {
    const r = await client.put<SpecWrite>(`/v1/services/${spec.name as string}`, spec)
    out(describeWrite(r) + '\n')
    results.push(r)
  }
  return results
}
