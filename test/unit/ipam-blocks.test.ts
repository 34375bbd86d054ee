// Block layout (issue 20): the pure block ops, and a property test of the
// batched writers: several allocators over one compare-and-set store, with
// random delays and stale views, never answer one address to two owners, and
// every answered allocation is in the store at the end (durable).
import t from 'tap'
import fc from 'fast-check'
import { blockKey, ipToInt, parseBlockKey, type BlockRecord } from '../../src/core/index.js'
import { buildPool, viewPool } from '../../src/registry/ipam/pool.js'
import { allocateInBlock, allocateStatic, blockCapacity, blockRange, changeEntry, fromDraft, toDraft } from '../../src/registry/ipam/blocks.js'
import { BlockWriter, type BlockStore } from '../../src/registry/ipam/block-writer.js'
import { BlockAllocator } from '../../src/registry/ipam/block-allocator.js'
import type { IpamMirror } from '../../src/registry/ipam/mirror.js'
import type { Versioned } from '../../src/registry/ipam/store.js'

const owner = (i: number): { host: string, mac: string } => ({ host: `h${i % 3}`, mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` })

t.test('block keys, ranges and capacities', async (t) => {
  t.equal(blockKey('mv0', 3), 'mv0.blk-3')
  t.same(parseBlockKey('mv0.blk-3'), { pool: 'mv0', index: 3 })
  t.equal(parseBlockKey('mv0.10-240-1-5'), null, 'address keys are not blocks')
  const p = viewPool(buildPool('mv0', { subnet: '10.240.1.0/24', range: '10.240.1.10-10.240.1.40', blockSize: 16 }))
  t.same(blockRange(p), { first: 0, last: 2 })
  t.equal(blockCapacity(p, 0), 6, '10..15')
  t.equal(blockCapacity(p, 1), 16)
  t.equal(blockCapacity(p, 2), 9, '32..40')
  t.throws(() => buildPool('mv0', { subnet: '10.240.1.0/24', blockSize: 10 }), /blockSize/)
})

t.test('allocateInBlock: lowest free, same owner again, leases and overflow', async (t) => {
  const p = viewPool(buildPool('mv0', { subnet: '10.240.1.0/28', blockSize: 16 }))
  const d = toDraft('mv0', 0, null)
  const op = (i: number, holder = 'a', overflow = false): ReturnType<ReturnType<typeof allocateInBlock>> =>
    allocateInBlock(p, { owner: owner(i), holder, leaseMs: 1000, overflow })(d, 5000)
  t.equal(op(1).ip, '10.240.1.2', 'gateway .1 and network .0 skipped')
  t.equal(op(2).ip, '10.240.1.3')
  t.equal(op(1).ip, '10.240.1.2', 'same owner: same address')
  t.same(d.lease, { holder: 'a', until: 6000 })
  t.throws(() => op(3, 'b'), { message: 'block leased' }, 'a live peer lease sends b elsewhere')
  t.equal(op(3, 'b', true).ip, '10.240.1.4', 'overflow: allocates anyway')
  t.same(d.lease, { holder: 'a', until: 6000 }, 'and leaves the lease alone')
  for (let i = 4; i < 14; i++) op(i)
  t.throws(() => op(99), { message: 'block full' })
  const rec: BlockRecord = fromDraft(d)
  t.same(rec.entries.map((e) => ipToInt(e.ip)), [...rec.entries.map((e) => ipToInt(e.ip))].sort((a, b) => a - b), 'sorted')
  t.throws(() => allocateStatic('mv0', '10.240.1.2', owner(7))(d, 1), /already in use/)
  t.equal(allocateStatic('mv0', '10.240.1.2', owner(1))(d, 1).ip, '10.240.1.2')
  const before = d.entries.size
  t.throws(() => changeEntry('10.240.1.2', () => { throw new Error('no') })(d, 1))
  t.equal(d.entries.size, before, 'a refused op changes nothing')
})

/** An in-memory compare-and-set store whose every call waits a random number of turns. */
function casStore (delays: number[]): BlockStore & { data: Map<string, Versioned<BlockRecord>> } {
  const data = new Map<string, Versioned<BlockRecord>>()
  let seq = 0
  let k = 0
  const wait = async (): Promise<void> => { const n = delays[k++ % delays.length]; for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve)) }
  const copy = (v: BlockRecord): BlockRecord => structuredClone(v)
  return {
    data,
    get: async (key) => { await wait(); const v = data.get(key); return v == null ? null : { value: copy(v.value), revision: v.revision } },
    create: async (key, value) => { await wait(); if (data.has(key)) return null; const r = ++seq; data.set(key, { value: copy(value), revision: r }); await wait(); return r },
    update: async (key, value, revision) => {
      await wait()
      if (data.get(key)?.revision !== revision) return null
      const r = ++seq
      data.set(key, { value: copy(value), revision: r })
      await wait() // the answer comes back later than the commit
      return r
    },
  }
}

t.test('property: concurrent batched allocators never answer one address twice, and what they answer is stored', async (t) => {
  const cmd = fc.record({ who: fc.nat(2), release: fc.boolean(), wait: fc.nat(3) })
  await fc.assert(fc.asyncProperty(fc.array(cmd, { minLength: 1, maxLength: 70 }), fc.array(fc.nat(4), { minLength: 1, maxLength: 16 }), fc.nat(5), fc.constantFrom(0, 50), fc.boolean(),
    async (cmds, delays, staleEvery, leaseMs, sameHolder) => {
      const p = viewPool(buildPool('pp', { subnet: '10.240.9.0/26', blockSize: 16 }))
      const store = casStore(delays)
      // Lease 0 and one holder id for all: they pick the same blocks (the most lost races). Each allocator's "mirror" is a copy of the store refreshed only now and then: stale views must be harmless.
      const allocators = [0, 1, 2].map((i) => {
        let view = new Map<string, Versioned<BlockRecord>>()
        let n = 0
        const known = (key: string): Versioned<BlockRecord> | undefined => {
          if (staleEvery > 0 && n++ % staleEvery === 0) view = new Map(store.data)
          return view.get(key)
        }
        const writer = new BlockWriter(store, known)
        const mirror = { ownedBy: () => undefined } as unknown as IpamMirror
        return new BlockAllocator({ writer, mirror, holder: sameHolder ? 'same' : `a${i}`, leaseMs })
      })
      const held = new Map<number, string>() // owner → answered address, while held
      await Promise.all(cmds.map(async (c, i) => {
        for (let w = 0; w < c.wait; w++) await new Promise((resolve) => setImmediate(resolve))
        const a = allocators[c.who]
        const rec = await a.allocate(p, { v: 1, pool: 'pp', ...owner(i) })
        if (rec == null) return // exhausted: allowed
        for (const [o, ip] of held) if (ip === rec.ip) throw new Error(`${rec.ip} answered to owner ${i} while owner ${o} holds it`)
        held.set(i, rec.ip)
        if (!c.release) return
        held.delete(i)
        // A release may lose too many races (CONFLICT): then the address simply stays taken.
        await a.onBlock(p, rec.ip, changeEntry(rec.ip, (cur) => cur != null && cur.owner.mac === owner(i).mac ? { value: true, record: null } : { value: false }))
          .catch((err: { code?: string }) => { if (err.code !== 'DG_CONFLICT') throw err })
      }))
      const stored = new Map<string, string>()
      for (const b of store.data.values()) for (const e of b.value.entries) stored.set(e.ip, e.owner.mac)
      for (const [o, ip] of held) if (stored.get(ip) !== owner(o).mac) throw new Error(`owner ${o} was answered ${ip} but the store has ${stored.get(ip) ?? 'nothing'}`)
    }), { numRuns: 150 })
  t.pass('no duplicate, nothing answered lost')
})

t.test('the mirror re-checks only changed block entries, and still refuses a bad one', async (t) => {
  const { decodeBlockAgainst } = await import('../../src/registry/ipam/mirror.js')
  const enc = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v))
  const e = (n: number, extra: object = {}): object => ({ v: 1, pool: 'mv0', ip: `10.240.1.${n}`, state: 'reserved', owner: { host: 'h1', mac: '02:00:00:00:00:0' + String(n) }, since: 5, ...extra })
  const first = decodeBlockAgainst(enc({ v: 1, pool: 'mv0', index: 0, entries: [e(2), e(3)] }), undefined)
  t.equal(first?.entries.length, 2)
  const next = decodeBlockAgainst(enc({ v: 1, pool: 'mv0', index: 0, entries: [e(2), e(3), e(4)] }), first ?? undefined)
  t.equal(next?.entries[0], first?.entries[0], 'an unchanged entry keeps its checked object')
  t.equal(next?.entries.length, 3)
  t.equal(decodeBlockAgainst(enc({ v: 1, pool: 'mv0', index: 0, entries: [e(2, { junk: 1 }), e(3)] }), first ?? undefined), null, 'an extra field is refused')
  t.equal(decodeBlockAgainst(enc({ v: 1, pool: 'mv0', index: 0, entries: [e(2), { ...e(3), owner: { host: 'h1', mac: '02:00:00:00:00:03', x: 1 } }] }), first ?? undefined), null, 'and in the owner')
  t.equal(decodeBlockAgainst(enc({ v: 1, pool: 'mv0', index: 0, entries: [e(2), e(5, { state: 'gone' })] }), first ?? undefined), null, 'a new bad entry is refused')
  t.equal(decodeBlockAgainst(enc({ v: 1, pool: 'mv0', index: 0, entries: [null] }), first ?? undefined), null)
  t.equal(decodeBlockAgainst(enc({ v: 1, pool: 'mv0', index: 0, entries: 'x' }), undefined), null)
})
