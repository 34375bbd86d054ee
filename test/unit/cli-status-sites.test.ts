// `driftgate status`'s sites part (issue 21).
import t from 'tap'
import { renderSites } from '../../src/cli/status-sites.js'

t.test('sites, their link state and the failed-over services', async (t) => {
  const text = renderSites({
    site: 'a',
    remote: [{ site: 'b', link: 'down', lastHeardMs: 7400, lag: 0, stale: true, endpoints: 3, hosts: { up: 2, suspect: 1, down: 0 }, summaryAgeMs: 7400, lost: false, takenOver: [] }],
    failedOver: [{ service: 'web', site: 'b' }],
  })
  t.match(text, /^site: a\n/)
  t.match(text, /b\s+down \(stale\)\s+7\.4s ago\s+0\s+3\s+2\/1\/0\s+7\.4s ago\s+heard/)
  t.match(text, /FAILED OVER\s+SERVED BY SITE\nweb\s+b/)
  t.notMatch(text, /TAKEN OVER/)
  t.equal(renderSites({ site: 'local', remote: [], failedOver: [] }), 'site: local (no other site mirrored)\n')
})

t.test('a lost site and the services taken over from it', async (t) => {
  const text = renderSites({
    site: 'b',
    remote: [{ site: 'a', link: 'down', lastHeardMs: 61_000, lag: 0, stale: true, endpoints: 2, hosts: { up: 1, suspect: 0, down: 0 }, summaryAgeMs: null, lost: true, takenOver: ['api', 'web'] }],
    failedOver: [],
  })
  t.match(text, /a\s+down \(stale\)\s+61\.0s ago.*never\s+LOST/)
  t.match(text, /TAKEN OVER HERE\s+FROM LOST SITE\napi\s+a\nweb\s+a/)
})
