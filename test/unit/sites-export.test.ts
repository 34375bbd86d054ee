// The endpoint export (issue 21): the resync plan, and the link carrying the
// export bucket instead of the CAS-written endpoints bucket.
import t from 'tap'
import { planExport } from '../../src/registry/sites/export-plan.js'
import { MIRROR_ORIGIN, siteLinkPermissions } from '../../src/bus/index.js'

t.test('planExport puts what is missing or differs and deletes what is gone', async (t) => {
  const local = new Map<string, unknown>([['web.1', { state: 'running', n: 2 }], ['web.2', { state: 'running' }], ['web.3', { a: 1 }]])
  const exported = new Map<string, unknown>([['web.1', { state: 'running', n: 1 }], ['web.3', { a: 1 }], ['web.9', { gone: true }]])
  const p = planExport(local, exported)
  t.same(p.put, [['web.1', { state: 'running', n: 2 }], ['web.2', { state: 'running' }]])
  t.same(p.del, ['web.9'])
  t.same(planExport(local, new Map(local)), { put: [], del: [] }, 'equal tables: nothing to write')
  t.same(planExport(new Map(), exported).del.sort(), ['web.1', 'web.3', 'web.9'], 'empty local table: every export deleted')
})

t.test('the link carries the export bucket, never the CAS-written endpoints bucket', async (t) => {
  t.equal(MIRROR_ORIGIN.endpoints, 'driftgate_export_endpoints')
  const p = siteLinkPermissions('a', 'b')
  for (const list of [p.publish, p.subscribe]) {
    t.ok(list.some((s) => s.includes('CONSUMER.CREATE.KV_driftgate_export_endpoints')), 'consumer create on the export')
    t.ok(list.includes('$JS.FC.KV_driftgate_export_endpoints.>'), 'its flow control')
    t.notOk(list.some((s) => /KV_driftgate_endpoints\b/.test(s)), 'nothing on KV_driftgate_endpoints')
    t.ok(list.some((s) => s.includes('KV_driftgate_site')), 'the summaries still cross')
  }
})
