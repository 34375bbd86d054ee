// `driftgate apply -f web.yaml`: PUT each spec (YAML or JSON; several YAML
// documents in one file are several services) to /v1/services/<name>.
import type { Command } from 'commander'
import { descriptionOf } from './command-names.js'
import { readFileSync } from 'node:fs'
import { DriftgateError, ErrorCodes, ValidationError } from '../core/index.js'
import { applyFiles, hasChanges, lineDiff, normaliseSpec, specYaml, specsFromText } from '../client/index.js'
import { ApiClient, addClientOptions, type ClientOptions } from './client.js'
import { collect } from './common.js'

export { applyFiles, specsFromText, describeWrite } from '../client/index.js'

export function register (program: Command): void {
  const cmd = program.command('apply')
    .description(descriptionOf('apply'))
    .requiredOption('-f, --file <path>', 'spec file, - for stdin (repeatable; a YAML file may hold several specs separated by ---)', collect)
    .option('--dry-run', 'print the difference against the current spec of each service; apply nothing')
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
  cmd.action(async (o: ClientOptions & { file: string[], dryRun?: boolean }) => {
    if (o.dryRun === true) { await dryRun(new ApiClient(o), o.file, (s) => process.stdout.write(s)); return }
    await applyFiles(new ApiClient(o), o.file, (s) => process.stdout.write(s))
  })
}

/** Reads only: GET each service's current spec and print the line diff ("- " now, "+ " after applying). */
export async function dryRun (client: ApiClient, files: string[], out: (s: string) => void): Promise<void> {
  const specs = files.flatMap((f) => {
    let text: string
    try { text = readFileSync(f === '-' ? 0 : f, 'utf8') } catch (err) { throw new ValidationError('file', [{ field: f, message: (err as Error).message }]) }
    return specsFromText(text, f === '-' ? 'stdin' : f)
  })
  for (const spec of specs) {
    const next = normaliseSpec(spec)
    let cur: { spec: unknown, version?: number } | null = null
    try {
      cur = await client.get<{ spec: unknown, version?: number }>(`/v1/services/${spec.name as string}`)
    } catch (err) {
      if (!(err instanceof DriftgateError && err.code === ErrorCodes.NOT_FOUND)) throw err
    }
    const diff = lineDiff(specYaml(cur?.spec ?? null), specYaml(next))
    const name = spec.name as string
    if (cur?.spec == null) out(`${name}: would be created\n`)
    else if (!hasChanges(diff)) { out(`${name}: unchanged\n`); continue } else out(`${name}: would change (- current, + file)\n`)
    out(diff.map((l) => `  ${l}`).join('\n') + '\n')
  }
}
