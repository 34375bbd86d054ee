// The short human summary `driftgate up` prints: where everything is.
import { join, relative } from 'node:path'
import type { Up } from './index.js'
import { nginxPaths } from './nginx.js'

/** A path relative to the working directory when that is shorter. */
const short = (p: string): string => { const r = relative(process.cwd(), p); return r !== '' && !r.startsWith('..') && r.length < p.length ? r : p }

export function upSummary (up: Pick<Up, 'options' | 'natsUrl' | 'tokenFile' | 'logFile' | 'apiToken'>): string {
  const o = up.options
  const api = `http://${o.bind}:${o.httpPort}`
  const tokenHow = up.tokenFile !== undefined ? `export DRIFTGATE_TOKEN=$(cat ${short(up.tokenFile)})` : 'export DRIFTGATE_TOKEN=<your --api-token>'
  const lines = [
    `driftgate is up: host ${o.hostId}, data in ${short(o.data)}`,
    `  nginx     http://${o.bind}:${o.port}/   routes by Host: curl -H 'Host: web' http://${o.bind}:${o.port}/`,
    `  API       ${api}/v1/services   (writes need the token: ${tokenHow})`,
    `  DNS       dig @${o.bind} -p ${o.dnsPort} web.service.driftgate SRV`,
    `  metrics   ${api}/metrics   (registry, agent and renderer)`,
    `  NATS      ${up.natsUrl}${o.nats === undefined ? `   (embedded, JetStream store ${short(join(o.data, 'nats'))})` : ''}`,
    o.agent
      ? `  agent     ${o.docker}${o.ipamDriverName !== undefined ? `, IPAM driver "${o.ipamDriverName}"` : ''}${o.network !== undefined ? `, network ${o.network}` : ''}`
      : '  agent     not started (--no-agent)',
    `  logs      ${short(up.logFile)}, ${short(join(o.data, 'logs', 'nats-server.log'))}, ${short(nginxPaths(join(o.data, 'nginx')).errorLog)}`,
    '',
    'Next: run containers labelled driftgate.service=<name> on a MacVLAN network, or deploy with',
    `  ${tokenHow}; driftgate apply -f web.yaml --api ${api}`,
    'Press Ctrl-C to stop everything.',
  ]
  return lines.join('\n') + '\n'
}
