// Which mode `auto` means on this machine: lua when the main nginx config
// loads ngx_http_lua_module (asked from nginx itself with `nginx -T`, which
// follows includes such as Debian's modules-enabled/), else file.
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import type { RendererMode } from './config.js'

export type ResolvedMode = Exclude<RendererMode, 'auto'>

/** Pure: does an `nginx -T` dump load the Lua module? */
export function loadsLua (dump: string): boolean {
  return /^\s*load_module\s+\S*ngx_http_lua_module\.so\s*;/m.test(dump)
}

export async function detectMode (bin: string, conf: string, prefix?: string): Promise<{ mode: ResolvedMode, why: string }> {
  const args = [...(prefix != null ? ['-p', prefix] : []), '-c', conf, '-T', '-q']
  const dump = await new Promise<string | null>((resolve) => {
    execFile(bin, args, { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 }, (err, stdout) => resolve(err == null ? stdout : null))
  })
  // -T also fails when the generated files are broken; the main config's own
  // text still tells whether the module is loaded there.
  if (dump == null) {
    const text = await readFile(conf, 'utf8').catch(() => '')
    return loadsLua(text)
      ? { mode: 'lua', why: 'nginx -T failed, but the main config loads ngx_http_lua_module' }
      : { mode: 'file', why: 'nginx -T failed and the main config does not load ngx_http_lua_module itself' }
  }
  return loadsLua(dump)
    ? { mode: 'lua', why: 'the main nginx config loads ngx_http_lua_module' }
    : { mode: 'file', why: 'the main nginx config does not load ngx_http_lua_module' }
}
