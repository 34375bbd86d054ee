// The test images, made locally (no registry is reachable):
// - TEST_IMAGE: Debian's busybox-static plus dg-httpd (image/dg-httpd.c), so
//   tests can `docker exec` a shell, wget, sleep...;
// - TEST_IMAGE_NOSHELL: /bin/dg-httpd and an empty /www, nothing else, like
//   a distroless image (health checks must come from outside).
// dg-httpd serves the container's identity as JSON on port 80 with
// keep-alive, handles SIGTERM itself (finishes requests in flight, then
// exits) and writes its identity file itself (`--identity`), so it runs as
// pid 1 in both. The tarballs are built once per machine and cached under
// /tmp, keyed by a hash of their inputs; each host's dockerd imports them.
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { run, tryRun } from './exec.js'

export const TEST_IMAGE = 'driftgate-test:latest'
export const TEST_IMAGE_NOSHELL = 'driftgate-test-noshell:latest'
const BUSYBOX = '/bin/busybox'
const CACHE_DIR = '/tmp/driftgate-image-cache'

/** dg-httpd.c next to this file (src/lab), else in the project root (dist/src/lab runs). */
function httpdSourcePath(): string {
  const here = dirname(fileURLToPath(import.meta.url))
  const candidates = [join(here, 'image', 'dg-httpd.c'), join(here, '..', '..', '..', 'src', 'lab', 'image', 'dg-httpd.c')]
  return candidates.find((p) => existsSync(p)) ?? candidates[0]
}
export const HTTPD_SOURCE = httpdSourcePath()

function httpdSource(): string {
  try { return readFileSync(HTTPD_SOURCE, 'utf8') } catch { return '' }
}

const ENTRY = `#!/bin/sh
# dg-httpd writes /www/index.html itself and handles SIGTERM as pid 1.
[ -x /bin/dg-httpd ] && exec /bin/dg-httpd --identity 80
# Fallback when no C compiler built dg-httpd: busybox httpd (one request per
# connection, header and body in two writes). Identity: hostname and every
# non-loopback IPv4 address, as JSON.
mkdir -p /www
ips=$(ip -o -4 addr show | awk '$2!="lo"{split($4,a,"/"); printf "%s\\"%s\\"", (n++?",":""), a[1]}')
printf '{"host":"%s","ips":[%s]}\\n' "$(hostname)" "$ips" > /www/index.html
cp /www/index.html /www/healthz
httpd -f -p 80 -h /www &
pid=$!
trap 'kill $pid; sleep 0.5; exit 0' TERM INT
wait $pid
`

/** Path of the static dg-httpd for the current source, compiled once; undefined when gcc cannot. */
async function httpdBinary(): Promise<string | undefined> {
  const src = httpdSource()
  if (!src) return undefined
  const bin = join(CACHE_DIR, `dg-httpd-${createHash('sha256').update(src).digest('hex').slice(0, 16)}`)
  if (existsSync(bin)) return bin
  mkdirSync(CACHE_DIR, { recursive: true })
  const tmp = `${bin}.${process.pid}`
  const res = await tryRun('gcc', ['-static', '-Os', '-o', tmp, HTTPD_SOURCE])
  if (!res.ok) {
    process.stderr.write(`lab: cannot build dg-httpd (${res.stderr.trim().slice(0, 200)})\n`)
    return undefined
  }
  renameSync(tmp, bin) // atomic for concurrent builders
  return bin
}

function installHttpd(dir: string, bin: string): void {
  copyFileSync(bin, join(dir, 'bin', 'dg-httpd'))
  chmodSync(join(dir, 'bin', 'dg-httpd'), 0o755)
}

async function buildRootfs(dir: string): Promise<void> {
  for (const d of ['bin', 'www', 'tmp', 'etc', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true })
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'))
  chmodSync(join(dir, 'bin', 'busybox'), 0o755)
  // busybox --list prints every applet compiled in, one per line.
  const list = (await run(BUSYBOX, ['--list'])).split('\n').filter((a) => a && a !== 'busybox')
  for (const a of list) symlinkSync('busybox', join(dir, 'bin', a))
  const bin = await httpdBinary()
  if (bin) installHttpd(dir, bin)
  else process.stderr.write('lab: the test image falls back to busybox httpd\n')
  writeFileSync(join(dir, 'entry.sh'), ENTRY, { mode: 0o755 })
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n')
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\n')
}

async function buildNoShellRootfs(dir: string): Promise<void> {
  const bin = await httpdBinary()
  if (!bin) throw new Error(`${TEST_IMAGE_NOSHELL} needs dg-httpd, and gcc could not build ${HTTPD_SOURCE}`)
  for (const d of ['bin', 'www']) mkdirSync(join(dir, d), { recursive: true })
  installHttpd(dir, bin)
}

/** Builds (once) the tarball named by key with build(), atomically for concurrent builders. */
async function cachedTarball(name: string, key: string, build: (dir: string) => Promise<void>): Promise<string> {
  const tar = join(CACHE_DIR, `${name}-${key}.tar`)
  if (existsSync(tar)) return tar
  mkdirSync(CACHE_DIR, { recursive: true })
  const work = join(CACHE_DIR, `build-${name}-${process.pid}-${Date.now()}`)
  try {
    await build(work)
    await run('tar', ['-C', work, '-cf', `${tar}.${process.pid}`, '.'])
    renameSync(`${tar}.${process.pid}`, tar)
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return tar
}

/** Path of the cached image tarball (keyed by busybox + entry script + dg-httpd source). */
export function imageTarball(): Promise<string> {
  const key = createHash('sha256').update(readFileSync(BUSYBOX)).update(ENTRY).update(httpdSource()).digest('hex').slice(0, 16)
  return cachedTarball('driftgate-test', key, buildRootfs)
}

/** Path of the cached shell-less image tarball (keyed by the dg-httpd source). */
export function noShellTarball(): Promise<string> {
  const key = createHash('sha256').update('noshell').update(httpdSource()).digest('hex').slice(0, 16)
  return cachedTarball('driftgate-test-noshell', key, buildNoShellRootfs)
}

/**
 * Imports the test image into the dockerd behind socketPath; for the default
 * tag the shell-less image too (it is 1 MB), so every testbed host has both.
 */
export async function importImage(socketPath: string, tar: string, tag = TEST_IMAGE): Promise<void> {
  const sock = `unix://${socketPath}`
  const both: Promise<unknown>[] = [run('docker', ['-H', sock, 'import', '--change', 'CMD ["/entry.sh"]', tar, tag])]
  if (tag === TEST_IMAGE) {
    both.push(noShellTarball()
      .then((t) => run('docker', ['-H', sock, 'import', '--change', 'CMD ["/bin/dg-httpd", "--identity", "80"]', t, TEST_IMAGE_NOSHELL]))
      .catch((err: Error) => { process.stderr.write(`lab: no ${TEST_IMAGE_NOSHELL}: ${err.message}\n`) }))
  }
  await Promise.all(both)
}
