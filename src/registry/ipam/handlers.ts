// The allocator's NATS handlers: IPAM requests on `<prefix>.ipam.<host>.<op>`
// and host snapshots for the leak collector. The host is the subject's: NATS
// permissions bind an agent's credentials to its own subjects, so the subject
// is what is trusted, and a payload naming another host is refused, counted
// and changes nothing (issue 15, hole 2).
import type { Msg } from 'nats'
import {
  DriftgateError, ErrorCodes, LogOnce, checkAllocateRequest, checkBindRequest, checkPoolQuery, checkReleaseRequest,
  isDnsLabel, type IpamReply,
} from '../../core/index.js'
import { decodeJson, encodeJson, ipamSubjectParts, type Subjects } from '../../bus/index.js'
import { parseStreamMessage } from '../parse.js'
import type { Allocator } from './allocator.js'
import type { AllocatorMetrics } from './metrics.js'
import { collectFromSnapshot, type GcDeps } from './gc.js'

const OPS = ['pool', 'allocate', 'bind', 'release'] as const
type Op = typeof OPS[number]
const isOp = (op: string): op is Op => (OPS as readonly string[]).includes(op)

/** A refusal for the subject/payload host check: counted in `driftgate_ipam_refused_total`. */
class Refused extends DriftgateError {
  constructor (readonly reason: 'bad_subject' | 'host_mismatch', message: string) { super(ErrorCodes.VALIDATION, message) }
}

/** The subject's host and op, or a refusal: the host token must be a host id (a DNS label). */
export function requestTarget (subject: string, prefix: string): { host: string, op: string } {
  const parts = ipamSubjectParts(subject, prefix)
  if (parts == null) throw new Refused('bad_subject', `ipam request on "${subject.slice(0, 200)}": expected ${prefix}.ipam.<host>.<op>`)
  const shown = parts.host.slice(0, 64)
  if (!isDnsLabel(parts.host)) {
    throw new Refused('bad_subject', `ipam request on "${subject.slice(0, 200)}": host "${shown}" is not a valid host id (a DNS label)`)
  }
  return parts
}

/** Refuses a payload whose `host` is not the subject's. */
function sameHost (op: Op, subjectHost: string, payloadHost: string): void {
  if (payloadHost === subjectHost) return
  throw new Refused('host_mismatch',
    `ipam ${op} request names host "${payloadHost}" but came on host "${subjectHost}"'s subject: a host may only ask for itself`)
}

async function dispatch (a: Allocator, op: string, host: string, body: unknown): Promise<IpamReply> {
  if (!isOp(op)) throw new DriftgateError(ErrorCodes.VALIDATION, `unknown ipam op "${op}" (expected ${OPS.join(', ')})`)
  switch (op) {
    case 'pool': return await a.poolQuery(checkPoolQuery(body))
    case 'allocate': { const r = checkAllocateRequest(body); sameHost(op, host, r.host); return await a.allocate(r) }
    case 'bind': { const r = checkBindRequest(body); sameHost(op, host, r.host); return await a.bind(r) }
    case 'release': { const r = checkReleaseRequest(body); sameHost(op, host, r.host); return await a.release(r) }
  }
}

export async function handleRequest (a: Allocator, m: AllocatorMetrics, once: LogOnce, subj: Subjects, msg: Msg): Promise<void> {
  const parts = ipamSubjectParts(msg.subject, subj.prefix)
  const op = parts != null && isOp(parts.op) ? parts.op : 'unknown'
  const end = m.duration.startTimer({ op })
  let reply: IpamReply
  try {
    const target = requestTarget(msg.subject, subj.prefix)
    const d = decodeJson(msg.data)
    if (!d.ok) throw new DriftgateError(ErrorCodes.VALIDATION, `ipam request is not valid JSON (${d.reason})`)
    reply = await dispatch(a, target.op, target.host, d.value)
  } catch (err) {
    const e = err as DriftgateError
    const code = typeof e.code === 'string' ? e.code : ErrorCodes.IPAM
    if (e instanceof Refused) {
      m.refused.inc({ what: 'request', reason: e.reason })
      once.warn(`refused-${e.reason}`, { subject: msg.subject.slice(0, 200), err: e.message }, 'ipam: request refused')
    } else if (code === ErrorCodes.VALIDATION) {
      m.invalid.inc({ what: 'request' })
      once.warn(`request-${op}`, { op, err: e.message }, 'ipam: invalid request')
    }
    reply = { ok: false, code, error: e.message ?? String(err) }
  }
  end()
  m.requests.inc({ op, result: reply.ok ? 'ok' : reply.code })
  if (msg.reply != null) msg.respond(encodeJson(reply))
}

/** A snapshot reaches the leak collector only when its payload host is its subject's (the same check ingest makes). */
export async function handleSnapshot (gc: GcDeps, once: LogOnce, subj: Subjects, msg: Msg): Promise<void> {
  const p = parseStreamMessage(msg.subject, msg.data, subj)
  if (!p.ok || p.value.type !== 'snapshot') {
    const reason = p.ok ? 'bad_subject' : p.reason
    if (reason === 'host_mismatch' || reason === 'bad_subject') gc.metrics.refused.inc({ what: 'snapshot', reason })
    else gc.metrics.invalid.inc({ what: 'snapshot' })
    once.warn(`snapshot-${reason}`, { subject: msg.subject.slice(0, 200), reason, detail: p.ok ? undefined : p.detail }, 'ipam gc: snapshot refused')
    return
  }
  try { await collectFromSnapshot(gc, p.value.msg) } catch (err) {
    gc.log.warn({ err, subject: msg.subject }, 'ipam gc: snapshot not applied')
  }
}
