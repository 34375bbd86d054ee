// `driftgate apply -f web.yaml`: PUT each spec (YAML or JSON; several YAML
// documents in one file are several services) to /v1/services/<name>.
import { readFileSync } from 'node:fs'
import type { Command } from 'commander'
import { parseAllDocuments } from 'yaml'
import { ValidationError, isDnsLabel } from '../core/index.js'
import { ApiClient, addClientOptions, type ClientOptions } from './client.js'
import { collect } from './common.js'

interface SpecWrite { service: string, version: number, changed: boolean, created: boolean, replicas: number }

/** The specs in a file's text: one per YAML document (JSON is YAML too). */
export function specsFromText (text: string, source: string): Array<Record<string, unknown>> {
  const docs = parseAllDocuments(text)
  const list = Array.isArray(docs) ? docs : [docs]
  const out: Array<Record<string, unknown>> = []
  list.forEach((doc, i) => {
    const where = list.length > 1 ? `${source} (document ${i + 1})` : source
    if (doc.errors.length > 0) throw new ValidationError(`YAML in ${where}`, [{ field: '/', message: doc.errors[0].message.split('\n')[0] }])
    const value = doc.toJS({ maxAliasCount: 50 }) as unknown
    if (value == null) return // an empty document, e.g. after a trailing ---
    if (typeof value !== 'object' || Array.isArray(value)) throw new ValidationError(`spec in ${where}`, [{ field: '/', message: 'must be a mapping' }])
    const spec = value as Record<string, unknown>
    if (!isDnsLabel(spec.name)) {
      throw new ValidationError(`spec in ${where}`, [{ field: '/name', message: 'required: a DNS label such as "web" (the service name)' }])
    }
    out.push(spec)
  })
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

export function register (program: Command): void {
  const cmd = program.command('apply')
    .description('create or update services from spec files (YAML or JSON)')
    .requiredOption('-f, --file <path>', 'spec file, - for stdin (repeatable; a YAML file may hold several specs separated by ---)', collect)
  addClientOptions(cmd)
  cmd.addHelpText('after', `
Example:
  cat > web.yaml <<'YAML'
  name: web
  image: registry.local/web:1.4.2
  replicas: 3
  port: 8080
  network: mv0
  resources: { cpu: 0.5, memory: 256Mi }
  health: { http: /healthz, interval: 5s }
  YAML
  driftgate apply -f web.yaml --api http://10.0.0.5:7070 --token "$DRIFTGATE_TOKEN"`)
  cmd.action(async (o: ClientOptions & { file: string[] }) => {
    await applyFiles(new ApiClient(o), o.file, (s) => process.stdout.write(s))
  })
}
