// Certificates of the renderer (--certs): validation, name lookup, the store
// (accepted copies, refusals keep the previous one, removal), with real
// certificates made by openssl.
import t from 'tap'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { silentLogger } from '../../src/core/index.js'
import { CertIndex, CertStore, checkCertificate, covers, pairsOf, type CertEntry } from '../../src/renderer/certs/index.js'
import { TestCa } from './tls-fixtures.js'

const root = mkdtempSync(join(tmpdir(), 'dg-certs-'))
t.teardown(() => rmSync(root, { recursive: true, force: true }))
const ca = new TestCa(join(root, 'ca'))
const day = 86400_000
const shop = ca.leaf(['shop.example.com', 'www.shop.example.com'])
const wild = ca.leaf(['*.example.com'])
const expired = ca.leaf(['old.example.com'], { from: new Date(Date.now() - 10 * day), to: new Date(Date.now() - day) })
const future = ca.leaf(['soon.example.com'], { from: new Date(Date.now() + day), to: new Date(Date.now() + 10 * day) })
const cnOnly = ca.leaf(['Cn.Example.com'], { san: false })

t.test('checkCertificate: names from the SAN (else the CN), refusals with a reason', async (t) => {
  t.same(checkCertificate(shop.cert, shop.key).names, ['shop.example.com', 'www.shop.example.com'])
  t.same(checkCertificate(wild.cert, wild.key).names, ['*.example.com'])
  t.same(checkCertificate(cnOnly.cert, cnOnly.key).names, ['cn.example.com'])
  const refused: Array<[string, string, string]> = [
    ['key of another certificate', shop.cert + '|' + wild.key, 'key_mismatch'],
    ['expired', expired.cert + '|' + expired.key, 'expired'],
    ['not yet valid', future.cert + '|' + future.key, 'not_yet_valid'],
    ['not a certificate', 'garbage|' + shop.key, 'parse'],
    ['half-written certificate', shop.cert.slice(0, 200) + '|' + shop.key, 'parse'],
    ['not a key', shop.cert + '|nope', 'key'],
  ]
  for (const [what, pair, reason] of refused) {
    const [c, k] = pair.split('|')
    let got = 'accepted'
    try { checkCertificate(c, k) } catch (err) { got = (err as { reason: string }).reason }
    t.equal(got, reason, what)
  }
})

t.test('covers: exact, or a wildcard for exactly one label', async (t) => {
  const table: Array<[string, string, boolean]> = [
    ['a.example.com', 'a.example.com', true],
    ['a.example.com', 'A.Example.COM', true],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'example.com', false],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', '*.example.com', true],
    ['a.example.com', 'b.example.com', false],
  ]
  for (const [name, host, want] of table) t.equal(covers(name, host), want, `${name} ~ ${host}`)
})

const entry = (source: string, names: string[], notAfter: number): CertEntry => ({
  source, names, cert: `/c/${source}.crt`, key: `/c/${source}.key`, notBefore: new Date(0), notAfter: new Date(notAfter), fingerprint: source,
})

t.test('CertIndex: exact beats wildcard, one label, longest validity then source name', async (t) => {
  const idx = new CertIndex([
    entry('wild', ['*.example.com'], 5000),
    entry('shop', ['shop.example.com'], 1000),
    entry('b-other', ['x.example.org'], 1000),
    entry('a-other', ['x.example.org'], 1000),
    entry('longer', ['y.example.org'], 9000),
    entry('shorter', ['y.example.org'], 2000),
  ])
  t.equal(idx.certFor('shop.example.com')?.cert, '/c/shop.crt')
  t.equal(idx.certFor('api.example.com')?.cert, '/c/wild.crt')
  t.equal(idx.certFor('*.example.com')?.cert, '/c/wild.crt')
  t.equal(idx.certFor('example.com'), undefined)
  t.equal(idx.certFor('a.api.example.com'), undefined)
  t.equal(idx.certFor('x.example.org')?.cert, '/c/a-other.crt')
  t.equal(idx.certFor('y.example.org')?.cert, '/c/longer.crt')
  t.equal(idx.certFor('nothing.test'), undefined)
})

t.test('pairsOf: certbot live/, <name>.crt + .key, mkcert .pem + -key.pem', async (t) => {
  const live = new Map([['shop.example.com', ['cert.pem', 'chain.pem', 'fullchain.pem', 'privkey.pem']], ['README', []]])
  const got = pairsOf(['README', 'a.crt', 'a.key', '_wildcard.x.pem', '_wildcard.x-key.pem', 'lonely.pem', '.hidden.crt', 'live'], live, '/d')
  t.same(got.map((p) => [p.source, p.certPath, p.keyPath]), [
    ['_wildcard.x', '/d/_wildcard.x.pem', '/d/_wildcard.x-key.pem'],
    ['a', '/d/a.crt', '/d/a.key'],
    ['live/shop.example.com', '/d/live/shop.example.com/fullchain.pem', '/d/live/shop.example.com/privkey.pem'],
  ])
})

t.test('CertStore: accept, renew, refuse (previous keeps serving), remove, restore after restart, prune', async (t) => {
  const dir = join(root, 'store-in')
  const out = join(root, 'store-out')
  mkdirSync(dir)
  const store = new CertStore({ dir, copyDir: out, log: silentLogger() })
  t.equal(await store.scan(), false, 'empty folder: nothing changed')

  // certbot layout with symlinks into archive/
  mkdirSync(join(dir, 'archive', 'shop'), { recursive: true })
  mkdirSync(join(dir, 'live', 'shop'), { recursive: true })
  cpSync(shop.certPath, join(dir, 'archive', 'shop', 'fullchain1.pem'))
  cpSync(shop.keyPath, join(dir, 'archive', 'shop', 'privkey1.pem'))
  symlinkSync('../../archive/shop/fullchain1.pem', join(dir, 'live', 'shop', 'fullchain.pem'))
  symlinkSync('../../archive/shop/privkey1.pem', join(dir, 'live', 'shop', 'privkey.pem'))
  t.equal(await store.scan(), true, 'a certificate added')
  const first = store.certFor('www.shop.example.com')
  t.ok(first?.cert.startsWith(`${out}/live-shop-`), String(first?.cert))
  t.equal(statSync(first!.key).mode & 0o777, 0o600, 'the key copy is 0600')
  t.equal(await store.scan(), false, 'unchanged files: no change')

  // renewal: new archive files, symlinks re-pointed
  const renewed = ca.leaf(['shop.example.com'], { key: shop.keyPath })
  cpSync(renewed.certPath, join(dir, 'archive', 'shop', 'fullchain2.pem'))
  rmSync(join(dir, 'live', 'shop', 'fullchain.pem'))
  symlinkSync('../../archive/shop/fullchain2.pem', join(dir, 'live', 'shop', 'fullchain.pem'))
  t.equal(await store.scan(), true, 'renewed')
  const second = store.certFor('shop.example.com')
  t.not(second?.cert, first?.cert, 'a renewal has a new copy path')
  t.same(second?.names, ['shop.example.com'])

  // broken: the key of another certificate
  writeFileSync(join(dir, 'archive', 'shop', 'privkey1.pem'), wild.key)
  t.equal(await store.scan(), false, 'refused: nothing changed')
  t.equal(store.certFor('shop.example.com')?.cert, second?.cert, 'the previous certificate keeps serving')
  t.same(store.refusals().map((r) => [r.source, r.reason]), [['live/shop', 'key_mismatch']])

  // restart with the broken pair in place: the copy accepted before serves
  const again = new CertStore({ dir, copyDir: out, log: silentLogger() })
  await again.scan()
  t.equal(again.certFor('shop.example.com')?.cert, second?.cert, 'restored from the copy')

  // prune: only the copies in use remain
  await store.prune()
  t.same(readdirSync(out).sort(), [second!.cert, second!.key].map((p) => p.slice(out.length + 1)).sort())

  // plain files: expired is refused with nothing to fall back to
  cpSync(expired.certPath, join(dir, 'old.crt'))
  cpSync(expired.keyPath, join(dir, 'old.key'))
  await store.scan()
  t.equal(store.certFor('old.example.com'), undefined)
  t.ok(store.refusals().some((r) => r.source === 'old' && r.reason === 'expired'))

  // removed: HTTP only again
  rmSync(join(dir, 'live'), { recursive: true })
  rmSync(join(dir, 'old.crt'))
  t.equal(await store.scan(), true)
  t.equal(store.certFor('shop.example.com'), undefined)
  t.same(store.refusals(), [])
})

t.test('CertStore scan({ write: false }) creates nothing (dry-run)', async (t) => {
  const dir = join(root, 'dry-in')
  const out = join(root, 'dry-out')
  mkdirSync(dir)
  cpSync(shop.certPath, join(dir, 'shop.crt'))
  cpSync(shop.keyPath, join(dir, 'shop.key'))
  const store = new CertStore({ dir, copyDir: out, log: silentLogger() })
  t.equal(await store.scan({ write: false }), true)
  t.ok(store.certFor('shop.example.com')?.cert.startsWith(`${out}/shop-`))
  t.throws(() => statSync(out), { code: 'ENOENT' })
})
