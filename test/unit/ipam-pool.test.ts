import t from 'tap'
import { ValidationError, fnv1a, intToIp, ipToInt, parseCidr, parseRange } from '../../src/core/index.js'
import { buildPool, candidates, checkStatic, samePool, viewPool } from '../../src/registry/ipam/pool.js'

t.test('address arithmetic', async (t) => {
  t.equal(ipToInt('10.240.1.5'), 0x0af00105)
  t.equal(intToIp(0xffffffff), '255.255.255.255')
  t.equal(intToIp(ipToInt('192.168.0.1')), '192.168.0.1')
  t.match(parseCidr('10.240.1.0/24'), { prefix: 24, size: 256, exact: true })
  t.equal(parseCidr('10.240.1.7/24')?.exact, false)
  t.equal(parseCidr('10.240.1.0/33'), null)
  t.equal(parseCidr('nope/24'), null)
  t.same(parseRange('10.0.0.10-10.0.0.20'), { start: ipToInt('10.0.0.10'), end: ipToInt('10.0.0.20') })
  t.same(parseRange('10.0.0.128/25'), { start: ipToInt('10.0.0.128'), end: ipToInt('10.0.0.255') })
  t.equal(parseRange('10.0.0.1-x'), null)
  t.equal(fnv1a('a'), fnv1a('a'))
  t.not(fnv1a('h1|02:42:0a:f0:01:05'), fnv1a('h2|02:42:0a:f0:01:05'))
})

t.test('buildPool: defaults', async (t) => {
  const p = buildPool('mv0', { subnet: '10.240.1.0/24' }, 5)
  t.same(p, { v: 1, name: 'mv0', subnet: '10.240.1.0/24', start: '10.240.1.1', end: '10.240.1.254', gateway: '10.240.1.1', reserved: [], createdAt: 5 })
  t.equal(viewPool(p).size, 253, 'network, broadcast and gateway excluded')
})

t.test('buildPool: range, gateway, reserve', async (t) => {
  const p = buildPool('mv0', { subnet: '10.240.1.0/24', range: '10.240.1.128/25', gateway: '10.240.1.254', reserve: ['10.240.1.200', '10.240.1.130'] })
  t.equal(p.start, '10.240.1.128')
  t.equal(p.end, '10.240.1.254', 'broadcast clipped from the range')
  t.same(p.reserved, ['10.240.1.130', '10.240.1.200'], 'sorted')
  t.equal(viewPool(p).size, 127 - 1 - 2)
  t.ok(samePool(p, { ...p, createdAt: 99 }))
  t.notOk(samePool(p, { ...p, gateway: '10.240.1.1' }))
})

t.test('buildPool: every bad input is refused with a clear problem', async (t) => {
  const bad: Array<[unknown, object, RegExp]> = [
    ['Bad_Name', { subnet: '10.240.1.0/24' }, /name/],
    ['pool', { subnet: '10.240.1.0/24' }, /not "pool"/],
    ['mv0', {}, /CIDR form/],
    ['mv0', { subnet: '10.240.1.5/24' }, /did you mean 10\.240\.1\.0\/24/],
    ['mv0', { subnet: '10.0.0.0/4' }, /prefix length/],
    ['mv0', { subnet: '10.240.1.0/31' }, /prefix length/],
    ['mv0', { subnet: '10.240.1.0/24', range: '10.240.2.0/25' }, /inside 10\.240\.1\.0\/24/],
    ['mv0', { subnet: '10.240.1.0/24', range: 'abc' }, /CIDR .* or a range/],
    ['mv0', { subnet: '10.240.1.0/24', range: '10.240.1.20-10.240.1.10' }, /start <= end/],
    ['mv0', { subnet: '10.240.1.0/24', gateway: '10.240.1.255' }, /gateway/],
    ['mv0', { subnet: '10.240.1.0/24', gateway: '10.240.9.1' }, /gateway/],
    ['mv0', { subnet: '10.240.1.0/24', reserve: ['10.240.7.1'] }, /not an address inside/],
    ['mv0', { subnet: '10.240.1.0/24', range: '10.240.1.1-10.240.1.2', reserve: ['10.240.1.2'] }, /no allocatable address/],
  ]
  for (const [name, input, re] of bad) {
    let err: unknown
    try { buildPool(name, input) } catch (e) { err = e }
    t.ok(err instanceof ValidationError && re.test((err as Error).message), `${String(name)} ${JSON.stringify(input)}: ${String((err as Error)?.message)}`)
  }
})

t.test('candidates: each allocatable address once, from the seed offset', async (t) => {
  const v = viewPool(buildPool('mv0', { subnet: '10.240.1.0/28', reserve: ['10.240.1.5'] }))
  const all = [...candidates(v, 0)]
  t.equal(all.length, v.size)
  t.equal(new Set(all).size, all.length, 'no repeats')
  t.notOk(all.includes('10.240.1.1'), 'no gateway')
  t.notOk(all.includes('10.240.1.5'), 'no reserved')
  t.notOk(all.includes('10.240.1.0') || all.includes('10.240.1.15'), 'no network, no broadcast')
  const from7 = [...candidates(v, 6)]
  t.equal(from7[0], '10.240.1.7', 'starts at the offset')
  t.same([...from7].sort(), [...all].sort(), 'same set in another order')
})

t.test('checkStatic', async (t) => {
  const v = viewPool(buildPool('mv0', { subnet: '10.240.1.0/24', range: '10.240.1.100-10.240.1.110', reserve: ['10.240.1.50'] }))
  t.same(checkStatic(v, '10.240.1.105'), { ok: true }, 'inside the range')
  t.same(checkStatic(v, '10.240.1.100'), { ok: true }, 'first of the range')
  t.same(checkStatic(v, '10.240.1.110'), { ok: true }, 'last of the range')
  // Issue 15 hole 8: addresses outside the range (routers, hosts, shims) are not driftgate's to hand out.
  t.match(checkStatic(v, '10.240.1.20'), { ok: false, reason: /10\.240\.1\.20 is outside the range 10\.240\.1\.100-10\.240\.1\.110 of pool mv0/ })
  t.match(checkStatic(v, '10.240.1.111'), { ok: false, reason: /outside the range/ })
  t.match(checkStatic(v, '10.240.2.20'), { ok: false, reason: /outside pool mv0/ })
  t.match(checkStatic(v, '10.240.1.1'), { ok: false, reason: /gateway/ })
  t.match(checkStatic(v, '10.240.1.50'), { ok: false, reason: /reserved/ })
  t.match(checkStatic(v, '10.240.1.255'), { ok: false, reason: /reserved/ })
})
