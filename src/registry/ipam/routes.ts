// HTTP API for pools and allocations, mounted by the lookup API's `buildApi`
// through its `plugins` hook. Writes use `app.requireWrite` (the write token).
//   GET    /v1/ipam/pools                    every pool with its usage
//   GET    /v1/ipam/pools/:pool              one pool
//   PUT    /v1/ipam/pools/:pool              create (same config again: no-op; different: 409)
//   DELETE /v1/ipam/pools/:pool              only when it holds no allocation
//   GET    /v1/ipam/pools/:pool/addresses    who holds what
import type { FastifyInstance, FastifyPluginAsync, onRequestHookHandler } from 'fastify'
import type { KV } from 'nats'
import { ConflictError, NotFoundError, poolKey, type AllocationRecord, type Logger, type PoolRecord, ipToInt } from '../../core/index.js'
import { IpamMirror } from './mirror.js'
import { buildPool, samePool, type PoolInput } from './pool.js'
import { casCreate, casDelete, getPool } from './store.js'

export interface IpamRoutesOptions {
  kv: KV
  log: Logger
  /** Only when mounted outside buildApi (tests): the write-token check. */
  requireWrite?: onRequestHookHandler
}

const poolParams = {
  type: 'object',
  required: ['pool'],
  properties: { pool: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' } },
} as const

const poolBody = {
  type: 'object',
  required: ['subnet'],
  properties: {
    subnet: { type: 'string', maxLength: 32 },
    range: { type: 'string', maxLength: 40 },
    gateway: { type: 'string', maxLength: 16 },
    reserve: { type: 'array', items: { type: 'string', maxLength: 16 }, maxItems: 4096 },
    blockSize: { type: 'integer' },
  },
  // Not `false`: fastify's ajv would silently strip a misspelt field instead of refusing it.
  additionalProperties: { not: {} },
} as const

interface Usage { size: number, reserved: number, bound: number, quarantined: number }

function usage (m: IpamMirror, name: string): Usage {
  const p = m.pools.get(name)
  const u: Usage = { size: p?.size ?? 0, reserved: 0, bound: 0, quarantined: 0 }
  for (const a of addresses(m, name)) u[a.state]++
  return u
}

function addresses (m: IpamMirror, name: string): AllocationRecord[] {
  const prefix = `${name}.`
  const list: AllocationRecord[] = []
  for (const [k, a] of m.allocations) if (k.startsWith(prefix)) list.push(a.value)
  return list.sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip))
}

export function ipamRoutes (opts: IpamRoutesOptions): FastifyPluginAsync {
  return async function (app: FastifyInstance): Promise<void> {
    const mirror = new IpamMirror(opts.kv, opts.log)
    await mirror.start()
    app.addHook('onClose', async () => { await mirror.close() })
    const requireWrite = opts.requireWrite ?? (app as unknown as { requireWrite: onRequestHookHandler }).requireWrite
    const pool = (name: string): PoolRecord => {
      const p = mirror.pools.get(name)
      if (p == null) throw new NotFoundError(`ipam pool "${name}"`)
      return p.record
    }

    app.get('/v1/ipam/pools', async () => ({
      pools: mirror.poolRecords().sort((a, b) => a.name.localeCompare(b.name)).map((p) => ({ ...p, usage: usage(mirror, p.name) })),
    }))

    app.get<{ Params: { pool: string } }>('/v1/ipam/pools/:pool', { schema: { params: poolParams } },
      async (req) => ({ ...pool(req.params.pool), usage: usage(mirror, req.params.pool) }))

    app.get<{ Params: { pool: string } }>('/v1/ipam/pools/:pool/addresses', { schema: { params: poolParams } },
      async (req) => ({ pool: pool(req.params.pool), addresses: addresses(mirror, req.params.pool) }))

    app.put<{ Params: { pool: string }, Body: PoolInput }>('/v1/ipam/pools/:pool', {
      schema: { params: poolParams, body: poolBody },
      config: { write: true },
      onRequest: requireWrite, // before the body is read
    }, async (req, reply) => {
      const rec = buildPool(req.params.pool, req.body)
      const clash = mirror.poolRecords().find((p) => p.subnet === rec.subnet && p.name !== rec.name)
      if (clash != null) throw new ConflictError(`subnet ${rec.subnet} already belongs to pool "${clash.name}"`)
      if (await casCreate(opts.kv, poolKey(rec.name), rec) != null) return await reply.code(201).send({ pool: rec, created: true })
      const cur = await getPool(opts.kv, poolKey(rec.name))
      if (cur != null && samePool(cur.value, rec)) return { pool: cur.value, created: false }
      throw new ConflictError(`ipam pool "${rec.name}" already exists with a different configuration; delete it first (only possible while it holds no address)`)
    })

    app.delete<{ Params: { pool: string } }>('/v1/ipam/pools/:pool', {
      schema: { params: poolParams },
      config: { write: true },
      onRequest: requireWrite, // before the body is read
    }, async (req) => {
      const name = req.params.pool
      const held = addresses(mirror, name).length
      if (held > 0) throw new ConflictError(`ipam pool "${name}" still holds ${held} address(es); release them first`)
      const cur = await getPool(opts.kv, poolKey(name))
      if (cur == null) throw new NotFoundError(`ipam pool "${name}"`)
      if (!await casDelete(opts.kv, poolKey(name), cur.revision)) throw new ConflictError(`ipam pool "${name}" changed meanwhile; try again`)
      // Block layout: the pool's (now empty) block records go with it.
      for (const [key, b] of mirror.blocks) {
        if (b.value.pool === name && b.value.entries.length === 0) await casDelete(opts.kv, key, b.revision)
      }
      return { deleted: name }
    })
  }
}
