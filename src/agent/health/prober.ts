// One HTTP health probe: GET http://<ip>:<port><path>, no keep-alive, bounded
// by a timeout. 2xx and 3xx pass (Docker's `curl -f` passes 3xx too); any
// other status, a refused connection or the timeout fail. The body is read
// and dropped, at most a little of it: a health check is not a download.
import { request } from 'node:http'

export interface ProbeTarget { ip: string, port: number, path: string, timeoutMs: number }
export interface ProbeResult { ok: boolean, detail: string }

const MAX_BODY = 64 * 1024

export async function probeHttp (t: ProbeTarget): Promise<ProbeResult> {
  return await new Promise<ProbeResult>((resolve) => {
    let done = false
    const finish = (r: ProbeResult): void => { if (!done) { done = true; clearTimeout(timer); resolve(r) } }
    const req = request({
      host: t.ip, port: t.port, path: t.path, method: 'GET', agent: false,
      headers: { 'user-agent': 'driftgate-agent-health', connection: 'close' },
    }, (res) => {
      const code = res.statusCode ?? 0
      let seen = 0
      res.on('data', (chunk: Buffer) => { seen += chunk.length; if (seen > MAX_BODY) res.destroy() })
      res.on('error', () => {})
      // The status decides; the body need not arrive whole.
      finish({ ok: code >= 200 && code < 400, detail: `HTTP ${code}` })
      res.resume()
    })
    const timer = setTimeout(() => {
      finish({ ok: false, detail: `timeout after ${t.timeoutMs}ms` })
      req.destroy()
    }, t.timeoutMs)
    req.on('error', (err: NodeJS.ErrnoException) => { finish({ ok: false, detail: err.code ?? err.message }) })
    req.end()
  })
}
