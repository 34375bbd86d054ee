// Request/reply to the registry's IPAM allocators, with one deadline for the
// whole call (Docker must hear back within 5 s) and retries inside it: a
// registry killed mid-request never answers, so the next attempt goes to
// another member of the queue group. Retrying is safe: allocate is
// idempotent per (host, MAC), bind and release per record.
import type { NatsConnection } from 'nats'
import { DriftgateError, ErrorCodes, assertDnsLabel, type IpamReply } from '../../core/index.js'
import { decodeJson, encodeJson, subjects } from '../../bus/index.js'
import { setTimeout as sleep } from 'node:timers/promises'

/** Docker's call must be answered within 5 s, HTTP included. */
export const IPAM_DEADLINE_MS = 4500
const ATTEMPT_MS = 1800
const NO_RESPONDER_WAIT_MS = 200

/** Called before each attempt after the first, with why the last one failed. */
export type RetryHook = (op: string, why: string) => void

export type IpamCall = (op: string, body: object) => Promise<IpamReply & { ok: true }>


function unreachable (subject: string, deadlineMs: number, last: string): DriftgateError {
  return new DriftgateError(ErrorCodes.NATS_UNAVAILABLE,
    `driftgate registry unreachable: no IPAM allocator answered on ${subject} within ${Math.ceil(deadlineMs / 1000)} s (${last}); ` +
    'check that a driftgate registry is running and that this agent is connected to NATS')
}

/**
 * Makes the caller for one host: requests go to `<prefix>.ipam.<host>.<op>`,
 * the only IPAM subjects that host's NATS user may publish on; the registry
 * refuses a payload naming another host. Resolves with a successful reply or
 * throws the allocator's error (with its code).
 */
export function ipamClient (nc: NatsConnection, host: string, prefix?: string, deadlineMs = IPAM_DEADLINE_MS, onRetry?: RetryHook): IpamCall {
  assertDnsLabel('host id', host)
  const subj = subjects(prefix)
  return async (op, body) => {
    const subject = subj.ipam(host, op)
    const deadline = Date.now() + deadlineMs
    let last = 'no attempt'
    for (let attempt = 1; Date.now() < deadline - 20; attempt++) {
      // A timed-out attempt may still have reached an allocator: counted, so a second request is explained.
      if (attempt > 1) onRetry?.(op, last)
      const timeout = Math.min(ATTEMPT_MS, deadline - Date.now())
      try {
        const msg = await nc.request(subject, encodeJson(body), { timeout })
        const d = decodeJson(msg.data)
        if (!d.ok) throw new DriftgateError(ErrorCodes.IPAM, `registry sent an unreadable IPAM reply (${d.reason})`)
        const reply = d.value as IpamReply
        if (!reply.ok) throw new DriftgateError((reply.code ?? ErrorCodes.IPAM) as typeof ErrorCodes.IPAM, reply.error)
        return reply
      } catch (err) {
        if (err instanceof DriftgateError) throw err
        const code = (err as { code?: string }).code
        last = code === '503' ? 'no responders' : code === 'TIMEOUT' ? 'timed out' : (err as Error).message
        if (code === '503') await sleep(Math.min(NO_RESPONDER_WAIT_MS, Math.max(0, deadline - Date.now() - 20)))
        else if (code !== 'TIMEOUT') break
      }
    }
    throw unreachable(subject, deadlineMs, last)
  }
}
