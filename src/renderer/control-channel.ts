// Lua mode's control channel: HTTP to nginx's loopback status listener
// (templates/driftgate.lua.conf.njk). One keep-alive agent: a push costs a
// loopback round trip, not a TCP handshake.
import { Agent, request } from 'node:http'
import { NginxPushError } from '../core/index.js'

export interface DictState {
  /** Changes when nginx restarts (not on reload): the dict was emptied. */
  boot: string
  generation: number
  capacity: number
  free: number
}

export interface ServiceStats { requests: number, errors: number }

export interface Stats extends DictState { services: Record<string, [number, number]> }

const PATH = '/driftgate/endpoints'

export class ControlChannel {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 2 })

  constructor (private readonly port: number, private readonly timeoutMs = 5000) {}

  private async call (method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number, text: string }> {
    return await new Promise((resolve, reject) => {
      const req = request({
        host: '127.0.0.1', port: this.port, path, method, agent: this.agent, timeout: this.timeoutMs,
        headers: body != null ? { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) } : {},
      }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)))
      req.on('error', reject)
      req.end(body)
    })
  }

  private async state (method: 'GET' | 'POST', body?: string): Promise<DictState> {
    let r
    try { r = await this.call(method, PATH, body) } catch (err) {
      throw new NginxPushError(`nginx control channel on 127.0.0.1:${this.port}: ${(err as Error).message}`, { cause: err })
    }
    if (r.status !== 200) throw new NginxPushError(`nginx refused the push (${r.status}): ${r.text.trim().slice(0, 300)}`)
    return parseState(r.text)
  }

  /** Pushes a batch; resolves once it is in the shared dict. */
  async push (text: string): Promise<DictState> { return await this.state('POST', text) }

  /** What nginx holds now (throws NginxPushError when nginx does not answer). */
  async get (): Promise<DictState> { return await this.state('GET') }

  async stats (): Promise<Stats> {
    const r = await this.call('GET', '/driftgate/stats')
    if (r.status !== 200) throw new NginxPushError(`stats: ${r.status}`)
    return JSON.parse(r.text) as Stats
  }

  close (): void { this.agent.destroy() }
}

function parseState (text: string): DictState {
  const v = JSON.parse(text) as Partial<DictState>
  if (typeof v.boot !== 'string' || typeof v.generation !== 'number') throw new NginxPushError(`unexpected control answer: ${text.slice(0, 200)}`)
  return v as DictState
}
