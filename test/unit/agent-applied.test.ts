// parseApplied: the renderer of an announcement is its subject's.
import t from 'tap'
import { encodeJson } from '../../src/bus/index.js'
import { parseApplied } from '../../src/agent/reconciler/index.js'

const msg = (renderer: string): Uint8Array => encodeJson({ v: 1, renderer, generation: 3, endpointsRevision: 1, containers: [], appliedAt: 1 })

t.test('accepted only when the payload names the subject\'s renderer', async (t) => {
  t.match(parseApplied('driftgate.applied.edge1', msg('edge1'), 'driftgate'), { ok: true, msg: { renderer: 'edge1', generation: 3 } })
  t.match(parseApplied('driftgate.applied.edge1', msg('edge2'), 'driftgate'), { ok: false, reason: 'renderer_mismatch', detail: /edge1.*edge2/ })
  t.match(parseApplied('dg.applied.edge1', msg('edge1'), 'dg'), { ok: true }, 'another prefix')
  for (const s of ['driftgate.applied.', 'driftgate.applied.edge1.x', 'other.applied.edge1', 'driftgate.events.edge1']) {
    t.match(parseApplied(s, msg('edge1'), 'driftgate'), { ok: false, reason: 'bad_subject' }, s)
  }
  t.match(parseApplied('driftgate.applied.edge1', new TextEncoder().encode('{no'), 'driftgate'), { ok: false, reason: 'invalid' })
  t.match(parseApplied('driftgate.applied.edge1', encodeJson({ v: 1, renderer: 'edge1' }), 'driftgate'), { ok: false, reason: 'invalid' })
})
