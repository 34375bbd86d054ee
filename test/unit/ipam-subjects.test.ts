// IPAM subjects carry the host: `<prefix>.ipam.<host>.<op>`, and the
// allocator takes the host from there (issue 15 hole 2).
import t from 'tap'
import { ipamSubjectParts, subjects } from '../../src/bus/index.js'
import { requestTarget } from '../../src/registry/ipam/handlers.js'

t.test('subject layout', async (t) => {
  t.equal(subjects().ipam('h1', 'release'), 'driftgate.ipam.h1.release')
  t.equal(subjects('dg').ipam('h1', 'pool'), 'dg.ipam.h1.pool')
  t.equal(subjects().allIpam, 'driftgate.ipam.*.*', 'exactly host and op: no way around the host token')
  t.same(ipamSubjectParts('driftgate.ipam.h1.release'), { host: 'h1', op: 'release' })
  t.same(ipamSubjectParts('dg.ipam.h1.pool', 'dg'), { host: 'h1', op: 'pool' })
  for (const s of ['driftgate.ipam.release', 'driftgate.ipam.h1.release.x', 'driftgate.ipam..release', 'driftgate.ipam.h1.', 'other.ipam.h1.pool', 'driftgate.events.h1']) {
    t.equal(ipamSubjectParts(s), null, s)
  }
})

t.test('requestTarget: the host token must be a host id', async (t) => {
  t.same(requestTarget('driftgate.ipam.edge-7.allocate', 'driftgate'), { host: 'edge-7', op: 'allocate' })
  for (const s of ['driftgate.ipam.H1.allocate', 'driftgate.ipam.-h1.allocate', 'driftgate.ipam.h_1.allocate', `driftgate.ipam.${'a'.repeat(64)}.pool`]) {
    t.throws(() => requestTarget(s, 'driftgate'), { code: 'DG_VALIDATION', reason: 'bad_subject', message: /not a valid host id/ }, s)
  }
  t.throws(() => requestTarget('driftgate.ipam.allocate', 'driftgate'), { reason: 'bad_subject', message: /expected driftgate\.ipam\.<host>\.<op>/ })
})
