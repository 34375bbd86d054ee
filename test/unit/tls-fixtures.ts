// Test certificates made with the openssl CLI (not a test file): one CA per
// folder, leaves with chosen names and validity (past or future dates come
// from `openssl ca -startdate/-enddate`: OpenSSL 3.0's x509/req cannot set them).
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const ssl = (args: string[], cwd: string): void => { execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] }) }

/** openssl's date form: YYYYMMDDHHMMSSZ. */
export function sslDate (d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z')
}

export interface Leaf { cert: string, key: string, certPath: string, keyPath: string }

export class TestCa {
  private n = 0
  constructor (readonly dir: string) {
    mkdirSync(join(dir, 'new'), { recursive: true })
    writeFileSync(join(dir, 'index.txt'), '')
    writeFileSync(join(dir, 'ca.cnf'), `[ca]
default_ca = tca
[tca]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/new
certificate = $dir/ca.crt
private_key = $dir/ca.key
rand_serial = yes
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = copy
[anything]
commonName = supplied
`)
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=driftgate test CA'], dir)
  }

  /**
   * A key and a certificate for `names` (the first is the CN; all are SANs
   * unless `san: false`), valid from `from` to `to` (default: an hour ago
   * to in 10 days). `key`: reuse an existing key file; `rsaBits`: an RSA
   * key of that size instead of P-256 (1024: valid for Node, too small for
   * nginx's OpenSSL at security level 2).
   */
  leaf (names: string[], opts: { from?: Date, to?: Date, san?: boolean, key?: string, rsaBits?: number } = {}): Leaf {
    const id = `leaf${++this.n}`
    const keyPath = opts.key ?? join(this.dir, `${id}.key`)
    const alg = opts.rsaBits != null ? ['RSA', '-pkeyopt', `rsa_keygen_bits:${opts.rsaBits}`] : ['EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
    if (opts.key == null) ssl(['genpkey', '-algorithm', ...alg, '-out', keyPath], this.dir)
    const san = opts.san === false ? [] : ['-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`]
    ssl(['req', '-new', '-key', keyPath, '-out', `${id}.csr`, '-subj', `/CN=${names[0]}`, ...san], this.dir)
    const from = opts.from ?? new Date(Date.now() - 3600_000)
    const to = opts.to ?? new Date(Date.now() + 10 * 86400_000)
    const certPath = join(this.dir, `${id}.crt`)
    ssl(['ca', '-batch', '-config', 'ca.cnf', '-in', `${id}.csr`, '-out', certPath, '-notext', '-startdate', sslDate(from), '-enddate', sslDate(to)], this.dir)
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8'), certPath, keyPath }
  }
}
