// The test image, made from Debian's busybox-static (no registry is reachable).
// Its entry script publishes the container's identity as JSON on port 80 and
// shuts down promptly and gracefully on SIGTERM, as a well-behaved service
// does: a bare httpd as pid 1 would ignore it (every `docker stop` would wait
// out its timeout), and exiting at once would cut responses in flight (nginx
// cannot retry a response whose header it has already passed on). The tarball is built once per
// machine and cached under /tmp; each host's dockerd imports it.
import { createHash } from 'node:crypto'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
// TODO(lab): ./exec.js once exec moves
import { run, tryRun } from '../../test/harness/exec.js'

export const TEST_IMAGE = 'driftgate-test:latest'
const BUSYBOX = '/bin/busybox'
const CACHE_DIR = '/tmp/driftgate-image-cache'
const HTTPD_SOURCE = join(dirname(fileURLToPath(import.meta.url)), 'image', 'dg-httpd.c')

/** Builds the static dg-httpd into dir/bin; false (busybox httpd is used) when gcc cannot. */
async function buildHttpd(dir: string): Promise<boolean> {
  const src = existsSync(HTTPD_SOURCE) ? HTTPD_SOURCE : join(process.cwd(), 'test/harness/image/dg-httpd.c')
  const res = await tryRun('gcc', ['-static', '-Os', '-o', join(dir, 'bin', 'dg-httpd'), src])
  if (!res.ok) process.stderr.write(`harness: cannot build dg-httpd (${res.stderr.trim().slice(0, 200)}); using busybox httpd\n`)
  return res.ok
}

function httpdSource(): string {
  try { return readFileSync(HTTPD_SOURCE, 'utf8') } catch { return '' }
}

const ENTRY = `#!/bin/sh
# Identity: hostname and every non-loopback IPv4 address, served as JSON.
mkdir -p /www
ips=$(ip -o -4 addr show | awk '$2!="lo"{split($4,a,"/"); printf "%s\\"%s\\"", (n++?",":""), a[1]}')
printf '{"host":"%s","ips":[%s]}\\n' "$(hostname)" "$ips" > /www/index.html
cp /www/index.html /www/healthz
# dg-httpd (image/dg-httpd.c) sends each response in one write, so a SIGKILL
# never cuts one in half; busybox httpd is the fallback when no C compiler
# was there to build it.
if [ -x /bin/dg-httpd ]; then dg-httpd 80 & else httpd -f -p 80 -h /www & fi
pid=$!
# Stop accepting (busybox httpd serves each connection in a child that keeps
# running), give requests in flight a moment to finish, then exit.
trap 'kill $pid; sleep 0.5; exit 0' TERM INT
wait $pid
`

async function buildRootfs(dir: string): Promise<void> {
  mkdirSync(join(dir, 'bin'), { recursive: true })
  for (const d of ['www', 'tmp', 'etc', 'proc', 'sys', 'dev']) mkdirSync(join(dir, d), { recursive: true })
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'))
  chmodSync(join(dir, 'bin', 'busybox'), 0o755)
  // busybox --list prints every applet compiled in, one per line.
  const list = (await run(BUSYBOX, ['--list'])).split('\n').filter((a) => a && a !== 'busybox')
  for (const a of list) symlinkSync('busybox', join(dir, 'bin', a))
  await buildHttpd(dir)
  writeFileSync(join(dir, 'entry.sh'), ENTRY, { mode: 0o755 })
  writeFileSync(join(dir, 'etc', 'passwd'), 'root:x:0:0:root:/:/bin/sh\n')
  writeFileSync(join(dir, 'etc', 'group'), 'root:x:0:\n')
}

/** Path of the cached image tarball, built on first use (keyed by busybox + entry script). */
export async function imageTarball(): Promise<string> {
  const key = createHash('sha256').update(readFileSync(BUSYBOX)).update(ENTRY).update(httpdSource()).digest('hex').slice(0, 16)
  const tar = join(CACHE_DIR, `driftgate-test-${key}.tar`)
  if (existsSync(tar)) return tar
  mkdirSync(CACHE_DIR, { recursive: true })
  const work = join(CACHE_DIR, `build-${process.pid}-${Date.now()}`)
  try {
    await buildRootfs(work)
    await run('tar', ['-C', work, '-cf', `${tar}.${process.pid}`, '.'])
    renameSync(`${tar}.${process.pid}`, tar) // atomic for concurrent builders
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  return tar
}

/** Imports the test image into the dockerd behind socketPath. */
export async function importImage(socketPath: string, tar: string, tag = TEST_IMAGE): Promise<void> {
  await run('docker', ['-H', `unix://${socketPath}`, 'import', '--change', 'CMD ["/entry.sh"]', tar, tag])
}
