// `driftgate apply -f web.yaml`: PUT each spec (YAML or JSON; several YAML
// documents in one file are several services) to /v1/services/<name>.
import type { Command } from 'commander'
import { applyFiles } from '../client/index.js'
import { ApiClient, addClientOptions, type ClientOptions } from './client.js'
import { collect } from './common.js'

export { applyFiles, specsFromText, describeWrite } from '../client/index.js'

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
