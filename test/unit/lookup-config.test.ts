import t from 'tap'
import { checkLookupConfig } from '../../src/registry/lookup/index.js'
import { parseUpstream } from '../../src/dns/index.js'

t.test('valid configs pass', async (t) => {
  t.doesNotThrow(() => checkLookupConfig({ httpPort: 7070, dnsPort: 8600 }))
  t.doesNotThrow(() => checkLookupConfig({ httpPort: 0, dnsPort: 53, domain: 'dg.example.internal.', dnsTtl: 5, dnsForward: ['10.0.0.2', '127.0.0.1:5353'] }))
})

t.test('every problem is reported at once, naming its field', async (t) => {
  try {
    checkLookupConfig({ httpPort: 70000, dnsPort: -1, domain: 'Bad_Domain', dnsTtl: 1.5, dnsForward: ['resolver.example', '10.0.0.1:99999'] })
    t.fail('should throw')
  } catch (err) {
    const e = err as { code: string, problems: Array<{ field: string }> }
    t.equal(e.code, 'DG_CONFIG_INVALID')
    t.same(e.problems.map((p) => p.field), ['httpPort', 'dnsPort', 'domain', 'dnsTtl', 'dnsForward', 'dnsForward'])
  }
})

t.test('parseUpstream', async (t) => {
  t.same(parseUpstream('10.1.2.3'), { host: '10.1.2.3', port: 53 })
  t.same(parseUpstream(' 127.0.0.1:5353 '), { host: '127.0.0.1', port: 5353 })
  for (const bad of ['', 'localhost', '10.1.2.300', '10.1.2.3:0', '[::1]:53', '10.1.2.3:abc']) {
    t.throws(() => parseUpstream(bad), { code: 'DG_CONFIG_INVALID' }, bad)
  }
})
