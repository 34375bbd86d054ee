// Certificate metrics, on the renderer's registry.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { CertEntry } from './lookup.js'
import type { Refused } from './store.js'

export interface CertMetrics {
  refusals: Counter<'reason'>
  update: (accepted: CertEntry[], refused: Refused[]) => void
}

export function createCertMetrics (registry: Registry): CertMetrics {
  const p = 'driftgate_renderer_certificate'
  const count = new Gauge({
    name: `${p}s`, help: 'certificate pairs of --certs by state: served (accepted, or the previous copy of a refused pair), refused (the newest files were refused)',
    labelNames: ['state'], registers: [registry],
  })
  const refusals = new Counter({
    name: `${p}_refusals_total`, help: 'certificate pairs refused (each new content once) by reason: unreadable, parse, key, key_mismatch, expired, not_yet_valid, no_names, nginx (nginx -t would not load it)',
    labelNames: ['reason'], registers: [registry],
  })
  const notAfter = new Gauge({
    name: `${p}_not_after_seconds`, help: 'expiry (unix time) of each served certificate, by its place in --certs',
    labelNames: ['source'], registers: [registry],
  })
  count.set({ state: 'served' }, 0)
  count.set({ state: 'refused' }, 0)
  return {
    refusals,
    update (accepted, refused) {
      count.set({ state: 'served' }, accepted.length)
      count.set({ state: 'refused' }, refused.length)
      notAfter.reset()
      for (const e of accepted) notAfter.set({ source: e.source }, Math.floor(e.notAfter.getTime() / 1000))
    },
  }
}
