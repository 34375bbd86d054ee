// How bench/scale measures "event published → in each nginx's shared dict":
//   1. every published event is matched (key, instance, seq) to the KV revision
//      that wrote it, from a watch of driftgate_endpoints;
//   2. each renderer's `applied` announcement maps its generation to the
//      endpoints revision the generation was built from (all writes up to it);
//   3. each nginx's dict generation is read through the control channel
//      (GET /driftgate/endpoints) every POLL_MS: the first time a generation
//      is seen there is when its batch was in the dict.
// An event is applied in an nginx at the first dict observation of the first
// generation whose endpoints revision ≥ the event's revision. Resolution: the
// poll interval (plus this process's event-loop lag, reported).
import { Agent, request } from 'node:http'
import type { KV, NatsConnection, Subscription } from 'nats'
import { decodeJson } from '../../src/bus/index.js'
import type { AppliedMessage, EndpointRecord } from '../../src/core/index.js'
import { nowMs, type Sent } from './fleet.js'

export const POLL_MS = 10

const agent = new Agent({ keepAlive: true, maxSockets: 4 })
export async function httpGet (port: number, path: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, timeout: 30_000 }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve(text))
    })
    req.on('error', reject)
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.end()
  })
}

interface Seen { gen: number, at: number }

export class Measure {
  /** KV mirror of the endpoint table (live and tombstones). */
  readonly table = new Map<string, EndpointRecord>()
  /** Writes seen on driftgate_endpoints since `countFrom` (steady-state write rate). */
  writes = 0
  /** Events not yet seen written, by key. */
  private readonly sent = new Map<string, Array<Sent & { rev?: number, kvAt?: number }>>()
  private readonly events: Array<Sent & { rev?: number, kvAt?: number }> = []
  /** Per renderer: generation, the endpoints revision it was built from, and when the renderer had it in nginx (its clock: same machine). */
  private readonly announced = new Map<string, Array<{ gen: number, rev: number, at: number }>>()
  private readonly seen = new Map<number, Seen[]>()
  private sub?: Subscription
  private watchStop?: () => void
  private pollers: NodeJS.Timeout[] = []
  maxLagMs = 0

  constructor (private readonly nc: NatsConnection, private readonly kv: KV) {}

  async start (statusPorts: number[]): Promise<void> {
    const w = await this.kv.watch({ key: '>' })
    this.watchStop = () => { w.stop() }
    void (async () => {
      for await (const e of w) {
        this.writes++
        if (e.operation !== 'PUT') { this.table.delete(e.key); continue }
        const rec = e.json<EndpointRecord>()
        this.table.set(e.key, rec)
        this.resolve(e.key, rec, e.revision)
      }
    })()
    this.sub = this.nc.subscribe('driftgate.applied.*', {
      callback: (err, m) => {
        if (err != null) return
        const d = decodeJson(m.data)
        if (!d.ok) return
        const a = d.value as AppliedMessage
        let list = this.announced.get(a.renderer)
        if (list === undefined) this.announced.set(a.renderer, list = [])
        const last = list[list.length - 1]
        if (last === undefined || a.generation > last.gen) list.push({ gen: a.generation, rev: a.endpointsRevision, at: a.appliedAt })
      },
    })
    for (const port of statusPorts) {
      const list: Seen[] = []
      this.seen.set(port, list)
      let busy = false
      let expected = nowMs() + POLL_MS
      this.pollers.push(setInterval(() => {
        const now = nowMs()
        this.maxLagMs = Math.max(this.maxLagMs, now - expected)
        expected = now + POLL_MS
        if (busy) return
        busy = true
        httpGet(port, '/driftgate/endpoints').then((text) => {
          const gen = (JSON.parse(text) as { generation: number }).generation
          const last = list[list.length - 1]
          if (last === undefined || gen > last.gen) list.push({ gen, at: nowMs() })
        }, () => undefined).finally(() => { busy = false })
      }, POLL_MS))
    }
  }

  // A write at (instance, seq) holds every event of that key up to it: an
  // event overtaken by a later snapshot of its host (another registry
  // instance applied that first) is never written itself, yet it is in.
  private resolve (key: string, rec: EndpointRecord, revision: number): void {
    const list = this.sent.get(key)
    if (list === undefined) return
    const at = nowMs()
    const rest = list.filter((s) => {
      const covered = s.instance < rec.instance || (s.instance === rec.instance && s.seq <= rec.seq)
      if (covered) { s.rev = revision; s.kvAt = at }
      return !covered
    })
    if (rest.length === 0) this.sent.delete(key); else this.sent.set(key, rest)
  }

  onSent (s: Sent): void {
    const list = this.sent.get(s.key)
    if (list === undefined) this.sent.set(s.key, [s]); else list.push(s)
    this.events.push(s)
  }

  /**
   * Latency of every event in each renderer (ms), by tag; `never` counts
   * events not seen written in KV or not reaching a dict.
   */
  latencies (renderers: Array<{ id: string, statusPort: number }>, tag?: (s: Sent) => boolean): { all: number[], byRenderer: Map<string, number[]>, never: number, points: Array<{ at: number, ms: number }> } {
    const byRenderer = new Map<string, number[]>()
    const all: number[] = []
    const points: Array<{ at: number, ms: number }> = []
    let never = 0
    for (const r of renderers) {
      const ann = this.announced.get(r.id) ?? []
      const seen = this.seen.get(r.statusPort) ?? []
      const out: number[] = []
      for (const e of this.events) {
        if (tag !== undefined && !tag(e)) continue
        const rev = e.rev
        const g = rev === undefined ? undefined : ann[lowerBound(ann.length, (i) => ann[i].rev >= rev)]
        const s = g === undefined ? undefined : seen[lowerBound(seen.length, (i) => seen[i].gen >= g.gen)]
        if (s === undefined) { never++; continue }
        const ms = Math.max(0, s.at - e.at)
        out.push(ms); all.push(ms); points.push({ at: e.at, ms })
      }
      byRenderer.set(r.id, out)
    }
    return { all, byRenderer, never, points }
  }

  /**
   * Where the time goes, without this process's poll lag: published → seen
   * written in KV (stream, registry, KV write; this process's watch), and
   * published → in nginx by the renderer's own clock (`appliedAt` of the
   * first generation built from a revision ≥ the event's).
   */
  stages (renderers: Array<{ id: string }>, tag?: (s: Sent) => boolean): { toKv: number[], toApplied: number[] } {
    const toKv: number[] = []
    const toApplied: number[] = []
    for (const e of this.events) {
      if ((tag !== undefined && !tag(e)) || e.rev === undefined || e.kvAt === undefined) continue
      toKv.push(Math.max(0, e.kvAt - e.at))
      for (const r of renderers) {
        const ann = this.announced.get(r.id) ?? []
        const rev = e.rev
        const g = ann[lowerBound(ann.length, (i) => ann[i].rev >= rev)]
        if (g !== undefined) toApplied.push(Math.max(0, g.at - e.at))
      }
    }
    return { toKv, toApplied }
  }

  /** Per renderer: announcements kept, dict generations seen (last of each), for the report. */
  coverage (renderers: Array<{ id: string, statusPort: number }>): string {
    return renderers.map((r) => {
      const a = this.announced.get(r.id) ?? []
      const s = this.seen.get(r.statusPort) ?? []
      return `${r.id}: ${a.length} announcements (last gen ${a[a.length - 1]?.gen ?? '-'} rev ${a[a.length - 1]?.rev ?? '-'}), ${s.length} dict generations seen (last ${s[s.length - 1]?.gen ?? '-'})`
    }).join('; ')
  }

  /** Events no KV write holds (lost, or not applied yet). */
  unwritten (): number { return this.events.filter((e) => e.rev === undefined).length }

  /** Events published so far (with a tag filter). */
  count (tag: (s: Sent) => boolean): number { return this.events.filter(tag).length }

  close (): void {
    this.watchStop?.()
    this.sub?.unsubscribe()
    for (const p of this.pollers) clearInterval(p)
  }
}

/** First index in [0, n) for which `ok` holds (ok is monotone). */
function lowerBound (n: number, ok: (i: number) => boolean): number {
  let lo = 0; let hi = n
  while (lo < hi) { const mid = (lo + hi) >> 1; if (ok(mid)) hi = mid; else lo = mid + 1 }
  return lo
}

export const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]
}

/** Service → sorted peers "ip:port:weight" that the truth implies. */
export function expectedSets (truth: Map<string, { service: string, ip: string, port: number, weight: number }>): Map<string, string> {
  const m = new Map<string, string[]>()
  for (const ep of truth.values()) {
    let l = m.get(ep.service)
    if (l === undefined) m.set(ep.service, l = [])
    l.push(`${ep.ip}:${ep.port}:${ep.weight}`)
  }
  return new Map([...m].map(([k, v]) => [k, v.sort().join(' ')]))
}

/** What one nginx's dict holds, in the same form (GET /driftgate/endpoints?dump=1). */
export async function dictSets (port: number): Promise<Map<string, string>> {
  const text = await httpGet(port, '/driftgate/endpoints?dump=1')
  const out = new Map<string, string>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('gen ')) continue
    const f = line.split(' ')
    // <name> <method> <maxFails> <failTimeoutMs> <peers...>
    out.set(f[0], f.slice(4).sort().join(' '))
  }
  return out
}

/** Differences between two service → peers maps (empty = identical). */
export function diffSets (want: Map<string, string>, got: Map<string, string>, limit = 5): string[] {
  const out: string[] = []
  for (const [k, v] of want) if (got.get(k) !== v) out.push(`${k}: want [${v.slice(0, 80)}] got [${(got.get(k) ?? '(absent)').slice(0, 80)}]`)
  for (const k of got.keys()) if (!want.has(k)) out.push(`${k}: not expected`)
  return out.slice(0, limit).concat(out.length > limit ? [`… ${out.length - limit} more`] : [])
}
