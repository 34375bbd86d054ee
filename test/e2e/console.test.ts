// The operator console in real Chromium (Debian's /usr/bin/chromium driven by
// playwright-core; nothing downloaded) against a real control plane on a
// 3-host testbed: dockerd ×3, agents with their reconcilers, a registry
// (placement, activity feed, API with history and the console), a renderer
// and nginx in lua mode (so the service page shows its load). One testbed for
// every step; a second API on the same registry has a read token (read-only
// console). Keyboard: navigation, the token and scale forms, the rollback
// confirm step are driven by keys. Screenshots go to a temp dir (kept, its
// path printed).
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Dockerode from 'dockerode'
import { chromium, type Page } from 'playwright-core'
import { Registry as PromRegistry } from 'prom-client'
import { cliArgs, waitFor, TEST_IMAGE } from '../harness/index.js'
import { silentLogger } from '../../src/core/index.js'
import { createRegistry, resolveRegistryConfig, type SubComponentStarter } from '../../src/registry/index.js'
import { activityRoutes } from '../../src/registry/activity/index.js'
import { consoleRoutes } from '../../src/registry/console/routes.js'
import { statsRoutes } from '../../src/registry/stats/index.js'
import { ipamRoutes } from '../../src/registry/ipam/index.js'
import { serviceRoutes, historyRoutes, type Placement } from '../../src/placement/index.js'
import { ApiClient } from '../../src/client/index.js'
import { startLoopbackLookup, controlPlane, startEdge, startHost as startHostOf, startLoad as startLoadIn, startBed } from './placement-fixtures.js'

const TOKEN = 'e2e-console-token'
const READ_TOKEN = 'e2e-console-read-token'
const HOST_GRACE = '5s'
const log = silentLogger()
const shots = mkdtempSync(join(tmpdir(), 'dg-console-shots-'))
t.comment(`screenshots in ${shots}`)

const { tb, nats, nc } = await startBed(t, 'console', 3)

let placement: Placement | undefined
let api = ''
let apiRo = ''
const components: SubComponentStarter[] = [
  ...controlPlane({
    log, token: TOKEN, activity: true,
    routes: (ctx, p) => [ipamRoutes({ kv: ctx.kv.ipam, log }), serviceRoutes({ kv: ctx.kv, tables: p?.tables, log }), historyRoutes({ kv: ctx.kv, log }),
      activityRoutes({ nc: ctx.nc, log }), consoleRoutes(), statsRoutes({ load: ctx.load })],
    onPlacement: (p) => { placement = p },
    onApi: (url) => { api = url },
  }),
  {
    // the same registry behind an API whose reads need a token (its own metrics registry: the names would clash)
    name: 'lookup-ro',
    start: async (ctx) => await startLoopbackLookup(ctx, {
      log, metrics: new PromRegistry(), apiToken: [TOKEN], apiReadToken: [READ_TOKEN], onApi: (url) => { apiRo = url },
      plugins: [serviceRoutes({ kv: ctx.kv, tables: placement?.tables, log }), historyRoutes({ kv: ctx.kv, log }),
        activityRoutes({ nc: ctx.nc, log }), consoleRoutes(), statsRoutes({ load: ctx.load })],
    }),
  },
]
const registry = createRegistry(resolveRegistryConfig({ httpPort: 0, dnsPort: 0, nats: nats.url, heartbeatInterval: '1s', hostGrace: HOST_GRACE }), { nc, log, components })
await registry.start()
t.teardown(async () => await registry.close())

const dockers = tb.hosts.map((h) => new Dockerode({ socketPath: h.socketPath }))
const startHost = async (i: number): Promise<{ close: () => Promise<void> }> => await startHostOf(tb, i, nats.url, log)
const hostSides = await Promise.all(tb.hosts.map(async (_, i) => await startHost(i)))
t.teardown(async () => { await Promise.all(hostSides.map(async (s) => await s.close())) })

const { nginx, renderer } = await startEdge(t, 'console', nc, log, { lua: true })

const client = new ApiClient({ api, token: TOKEN })
const routed = (): string[] => renderer.applied?.containers ?? []
const webContainers = async (): Promise<Array<{ Id: string, Image: string }>> =>
  (await Promise.all(dockers.map(async (d) => await d.listContainers({ filters: { label: ['driftgate.service=web', 'driftgate.managed=true'] } }).catch(() => [])))).flat()

const startLoad = (): ReturnType<typeof startLoadIn> => startLoadIn(t, nginx.port, 4, 600_000)

const profile = mkdtempSync(join(tmpdir(), 'dg-console-chromium-'))
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1100, height: 900 },
})
t.teardown(async () => { await browser.close(); rmSync(profile, { recursive: true, force: true }) })
const page: Page = await browser.newPage()
const pageErrors: string[] = []
page.on('pageerror', (e) => { pageErrors.push(e.message) })
const shot = async (name: string): Promise<void> => { await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true }) }
/** Set on the window once: still there later means the page was never reloaded. */
const mark = async (): Promise<void> => { await page.evaluate(() => { (globalThis as unknown as { dgMark: number }).dgMark = 42 }) }
const notReloaded = async (): Promise<boolean> => await page.evaluate(() => (globalThis as unknown as { dgMark?: number }).dgMark === 42)
const cell = (service: string, col: string) => page.locator(`tr[data-service="${service}"] td.${col}`)
/** What has the keyboard focus: its tag and text (or aria-label). */
const focused = async (p: Page = page): Promise<string> => await p.evaluate(() => {
  interface El { tagName: string, textContent: string | null, getAttribute: (n: string) => string | null }
  const e = (globalThis as unknown as { document: { activeElement: El | null } }).document.activeElement
  return e === null ? '' : `${e.tagName.toLowerCase()}:${(e.textContent ?? '').trim() || (e.getAttribute('aria-label') ?? '')}`
})

const spec = { name: 'web', image: TEST_IMAGE, replicas: 3, port: 80, network: 'mv0', resources: { cpu: 0.05, memory: '32Mi' }, health: { http: '/healthz', interval: '2s' }, stopGracePeriod: '2s' }

t.test('overview: web with 3 replicas on 3 hosts; first load within 200 KB', async (t) => {
  await waitFor(async () => placement?.isLeader() === true, { timeoutMs: 15_000, what: 'placement leader' })
  await waitFor(async () => (await client.get<{ hosts: unknown[] }>('/v1/hosts')).hosts.length === 3, { timeoutMs: 15_000, what: '3 hosts' })
  await client.put('/v1/services/web', spec)
  await waitFor(() => routed().length === 3, { timeoutMs: 90_000, what: 'nginx routes 3' })
  let bytes = 0
  page.on('response', (r) => { void r.body().then((b) => { bytes += b.length }, () => {}) })
  await page.goto(`${api}/ui/`)
  await page.waitForLoadState('networkidle').catch(() => {})
  await cell('web', 'healthy').filter({ hasText: /^3$/ }).waitFor({ timeout: 15_000 })
  t.equal(await cell('web', 'desired').textContent(), '3')
  t.equal(await cell('web', 'running').textContent(), '3')
  t.match(await page.locator('tr[data-service="web"]').textContent(), /h1:1 h2:1 h3:1/, 'one replica on each host')
  t.match(await page.locator('tr[data-service="web"]').textContent(), /healthy/)
  t.equal(await page.locator('tr[data-host] .badge.up').count(), 3, '3 hosts up')
  t.ok(bytes > 10_000 && bytes <= 200_000, `first load ${bytes} bytes`)
  await shot('overview')
  await mark()
})

t.test('a wrong token shows the error; nothing changes (the service is reached by keyboard)', async (t) => {
  await page.locator('tr[data-service="web"] a').focus()
  await page.keyboard.press('Enter')
  await page.getByRole('spinbutton', { name: /Replicas/ }).waitFor()
  await page.locator('#token').fill('wrong-token-123')
  await page.getByRole('button', { name: 'Save' }).click()
  await page.getByRole('spinbutton', { name: /Replicas/ }).fill('5')
  await page.getByRole('button', { name: 'Scale' }).click()
  const alert = page.locator('form.scale [role="alert"]')
  await alert.waitFor({ timeout: 10_000 })
  t.match(await alert.textContent(), /401.*wrong bearer token/i)
  await shot('wrong-token')
  t.equal((await client.get<{ version: number }>('/v1/services/web')).version, 1, 'still version 1')
})

t.test('scale to 5 through the page (keyboard: Enter in the token and replicas fields): 5 running without a reload', async (t) => {
  await page.locator('#token').fill(TOKEN)
  await page.locator('#token').press('Enter')
  await page.locator('label[for="token"]').filter({ hasText: /one is set for this tab\)$/ }).waitFor()
  await page.getByRole('spinbutton', { name: /Replicas/ }).press('Enter')
  await page.getByRole('status').filter({ hasText: /Scaled to 5/ }).waitFor({ timeout: 10_000 })
  await page.locator('a', { hasText: 'Overview' }).click()
  await cell('web', 'running').filter({ hasText: /^5$/ }).waitFor({ timeout: 90_000 })
  await cell('web', 'healthy').filter({ hasText: /^5$/ }).waitFor({ timeout: 60_000 })
  t.ok(await notReloaded(), 'the same page, never reloaded')
  t.equal(await cell('web', 'desired').textContent(), '5')
  await shot('scaled-5')
})

t.test('read-token mode: without a token a clear 401; a read token reads, writes greyed out with the reason, and the API refuses them', async (t) => {
  const ro = await browser.newPage()
  ro.on('pageerror', (e) => { pageErrors.push(`read-only page: ${e.message}`) })
  try {
    await ro.goto(`${apiRo}/ui/#/services/web`)
    await ro.locator('[role="alert"]').filter({ hasText: /Not authorised \(401\).*missing bearer token/ }).first().waitFor({ timeout: 10_000 })
    await ro.locator('#token').fill(READ_TOKEN)
    await ro.locator('#token').press('Enter')
    await ro.locator('label[for="token"]').filter({ hasText: 'read-only' }).waitFor({ timeout: 10_000 })
    await ro.locator('tr.replica').nth(4).waitFor({ timeout: 10_000 }) // reads work: the 5 replicas
    const scale = ro.getByRole('button', { name: 'Scale' })
    t.ok(await scale.isDisabled(), 'Scale disabled')
    const rollback = ro.getByRole('button', { name: 'Rollback to 1' })
    await rollback.waitFor({ timeout: 10_000 })
    t.ok(await rollback.isDisabled(), 'Rollback disabled')
    t.match(await ro.locator('#scale-ro').textContent(), /can read but not write/, 'the reason beside Scale')
    t.equal(await scale.getAttribute('aria-describedby'), 'scale-ro', 'and read to screen readers with the button')
    t.match(await ro.locator('#history-ro').textContent(), /can read but not write/)
    t.notOk(await ro.locator('[role="alert"]').filter({ hasText: /401/ }).count(), 'no 401 left on the page')
    await ro.screenshot({ path: join(shots, 'read-only.png'), fullPage: true })
    const refused = await fetch(`${apiRo}/v1/services/web`, {
      method: 'PATCH', headers: { authorization: `Bearer ${READ_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ replicas: 1 }),
    })
    t.equal(refused.status, 401, 'the API refuses a write with the read token')
    t.match(((await refused.json()) as { error: { message: string } }).error.message, /can read but not write/)
    const access = await (await fetch(`${apiRo}/v1/auth`, { headers: { authorization: `Bearer ${READ_TOKEN}` } })).json()
    t.same(access, { token: 'read', readsNeedToken: true, writesEnabled: true })
    t.equal((await client.get<{ version: number }>('/v1/services/web')).version, 2, 'still version 2')
  } finally { await ro.close() }
})

t.test('a stopped host shows down and its replicas move', async (t) => {
  const victim = 2
  const name = tb.hosts[victim].name
  await hostSides[victim].close()
  await tb.stopDockerd(victim + 1)
  await page.locator(`tr[data-host="${name}"] .badge.down`).waitFor({ timeout: 30_000 })
  await page.locator('tr[data-service="web"]').filter({ hasNotText: new RegExp(`${name}:`) }).waitFor({ timeout: 60_000 })
  await cell('web', 'healthy').filter({ hasText: /^5$/ }).waitFor({ timeout: 90_000 })
  t.ok(await notReloaded())
  await shot('host-down')
  await tb.startDockerd(victim + 1)
  hostSides[victim] = await startHost(victim)
  await page.locator(`tr[data-host="${name}"] .badge.up`).waitFor({ timeout: 30_000 })
  t.pass(`${name} down, replicas moved, back up`)
})

t.test('rollback to version 1 through the page: the old spec runs, 0 failed requests under load', async (t) => {
  for (let i = 1; i <= 3; i++) await tb.docker(i)('tag', TEST_IMAGE, 'driftgate-test:v2')
  await client.put('/v1/services/web', { ...spec, replicas: 5, image: 'driftgate-test:v2' })
  await waitFor(async () => { const c = await webContainers(); return c.length === 5 && c.every((x) => x.Image === 'driftgate-test:v2') && routed().length === 5 },
    { timeoutMs: 180_000, intervalMs: 500, what: 'v2 everywhere' })
  await page.locator('tr[data-service="web"] a').click()
  const row = page.locator('tr[data-version="1"]')
  await row.waitFor({ timeout: 10_000 })
  const load = startLoad()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  // the service's load under the loop: a non-zero requests/s (lua mode's counters via the registry)
  const rps = page.locator('.load .rps')
  const tLoad = Date.now()
  await waitFor(async () => parseFloat(await rps.textContent({ timeout: 1000 }).catch(() => '0') ?? '0') > 0, { timeoutMs: 15_000, intervalMs: 250, what: 'requests/s above 0 on the service page' })
  t.comment(`service page under load after ${Date.now() - tLoad} ms more: ${(await page.locator('.load').innerText()).replace(/\s+/g, ' ')}`)
  t.match(await page.locator('.load .eps').textContent(), /^[0-9.]+\/s$/, 'upstream errors/s shown')
  await shot('load')
  // keyboard: Enter opens the confirm step with the focus on Cancel, Escape cancels
  // and gives the focus back; then Shift+Tab to Confirm and Enter
  const rb = row.getByRole('button', { name: 'Rollback to 1' })
  await rb.focus()
  await page.keyboard.press('Enter')
  await row.getByRole('button', { name: 'Confirm rollback' }).waitFor()
  t.equal(await focused(), 'button:Cancel', 'the confirm step takes the focus, on Cancel')
  await page.keyboard.press('Escape')
  await rb.waitFor()
  t.equal(await focused(), 'button:Rollback to 1', 'Escape cancels; the focus is back on Rollback')
  await page.keyboard.press('Enter')
  await row.getByRole('button', { name: 'Confirm rollback' }).waitFor()
  await page.keyboard.press('Shift+Tab')
  t.equal(await focused(), 'button:Confirm rollback')
  await page.keyboard.press('Enter')
  await page.getByRole('status').filter({ hasText: /Rolled back to version 1/ }).waitFor({ timeout: 10_000 })
  await waitFor(async () => { const c = await webContainers(); return c.length === 3 && c.every((x) => x.Image === TEST_IMAGE) && routed().length === 3 },
    { timeoutMs: 180_000, intervalMs: 500, what: 'version 1 (3 replicas of the first image) everywhere' })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const samples = await load.stop()
  const failed = samples.filter((s) => s[2] < 200 || s[2] > 299)
  t.comment(`rollback under load: ${samples.length} requests, ${failed.length} failed`)
  t.ok(samples.length > 0)
  t.equal(failed.length, 0, '0 failed requests')
  await page.locator('tr[data-version="4"]').filter({ hasText: 'rollback to 1' }).waitFor({ timeout: 10_000 })
  await page.locator('tr.replica').filter({ hasText: /running\s*healthy/ }).nth(2).waitFor({ timeout: 30_000 })
  t.ok(await notReloaded())
  await shot('rolled-back')
  const nginxErrors = readFileSync(nginx.errorLog, 'utf8').split('\n').filter((l) => /\[(crit|alert|emerg)\]/.test(l))
  t.same(nginxErrors, [], 'no nginx crit/alert')
})

t.test('CLI: rollback --to 3 --wait follows the rollout to the end, 0 failed requests under load', async (t) => {
  const load = startLoad()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const { execFile } = await import('node:child_process')
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [...cliArgs(), 'rollback', 'web', '--to', '3', '--wait', '--timeout', '180s', '--api', api, '--token', TOKEN],
      { timeout: 200_000 }, (err, stdout, stderr) => { if (err !== null) reject(new Error(`${err.message}\n${stdout}${stderr}`)); else resolve(stdout) })
  })
  t.match(out, /web: version 3 applied again as version 5 \(was 4\)/)
  t.match(out, /web: 5\/5 on version 5 and healthy\n$/, 'progress ends when every replica runs version 5')
  t.ok(out.split('\n').length > 3, 'progress lines on the way')
  const c = await webContainers()
  t.ok(c.every((x) => x.Image === 'driftgate-test:v2'), 'the v2 image again')
  await waitFor(async () => (await webContainers()).length === 5 && routed().length === 5, { timeoutMs: 60_000, what: '5 routed' })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const samples = await load.stop()
  const failed = samples.filter((s) => s[2] < 200 || s[2] > 299)
  t.comment(`CLI rollback under load: ${samples.length} requests, ${failed.length} failed; progress:\n${out}`)
  t.equal(failed.length, 0, '0 failed requests')
})

t.test('pools page: a pool created through the API appears with used/free, without a reload', async (t) => {
  await page.locator('a', { hasText: 'Pools' }).click()
  await page.getByRole('heading', { name: 'Pools' }).waitFor()
  const t0 = Date.now()
  await client.put('/v1/ipam/pools/lab', { subnet: '10.246.1.0/24' })
  const use = page.locator('.pool-use')
  await use.filter({ hasText: /0 used .* free/ }).waitFor({ timeout: 10_000 })
  const ms = Date.now() - t0
  t.ok(ms < 1000, `on the open page ${ms} ms after the write (live, within 1 s)`)
  t.match(await page.locator('.pool h3').textContent(), /lab/)
  t.ok(await notReloaded())
  // keyboard: Tab from the title link reaches the page links in order; Enter follows one
  await page.locator('header h1 a').focus()
  await page.keyboard.press('Tab')
  t.equal(await focused(), 'a:Overview')
  await page.keyboard.press('Tab')
  t.equal(await focused(), 'a:Hosts')
  await page.keyboard.press('Enter')
  await page.locator('tr[data-host] .badge.up').nth(2).waitFor({ timeout: 10_000 })
  await page.setViewportSize({ width: 420, height: 900 })
  await shot('hosts-narrow')
  await page.setViewportSize({ width: 1100, height: 900 })
  await page.locator('a', { hasText: 'Overview' }).click()
  await page.locator('tr[data-service="web"]').waitFor()
  await shot('overview-end')
})

t.test('no script errors on the page', async (t) => { t.same(pageErrors, []) })
