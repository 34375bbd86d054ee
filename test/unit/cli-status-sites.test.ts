// `driftgate status`'s sites part (issue 21).
import t from 'tap'
import { renderSites } from '../../src/cli/status-sites.js'

t.test('sites, their link state and the failed-over services', async (t) => {
  const text = renderSites({
    site: 'a',
    remote: [{ site: 'b', link: 'down', lastHeardMs: 7400, lag: 0, stale: true, endpoints: 3, hosts: { up: 2, suspect: 1, down: 0 }, summaryAgeMs: 7400 }],
    failedOver: [{ service: 'web', site: 'b' }],
  })
  t.match(text, /^site: a\n/)
  t.match(text, /b\s+down \(stale\)\s+7\.4s ago\s+0\s+3\s+2\/1\/0/)
  t.match(text, /FAILED OVER\s+SERVED BY SITE\nweb\s+b/)
  t.equal(renderSites({ site: 'local', remote: [], failedOver: [] }), 'site: local (no other site mirrored)\n')
})
