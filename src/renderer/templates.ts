// Model → file contents through nunjucks. Pure apart from reading templates:
// no writing, no nginx. Autoescaping is off (it is HTML escaping, useless for
// nginx syntax); instead every printed value goes through the strict `ngx`
// filter, and the model only holds re-validated names and addresses.
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import nunjucks from 'nunjucks'
import { TemplateError, isRouteHost, isRoutePath } from '../core/index.js'
import type { Model, UpstreamModel } from './model.js'
import type { ServersContext } from './route-view.js'

import {
  HEADER, LUA_BODY_LIMIT, LUA_DICT_SIZE, ROUTES_FILE, ROUTES_TEMPLATE, SERVERS_FILE, SERVERS_TEMPLATE, SERVICE_TEMPLATE, STATUS_FILE, TEMPLATES, TLS_FILE, TLS_TEMPLATE, serviceFile,
} from './file-format.js'

const SAFE_TOKEN = /^[A-Za-z0-9._:-]{1,253}$/

/** The `ngx` filter: prints a plain token or fails the whole render. */
export function ngxToken (value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  if (typeof value === 'string' && SAFE_TOKEN.test(value)) return value
  throw new TemplateError(`refusing to print ${JSON.stringify(String(value)).slice(0, 80)} into nginx config: not a plain token`)
}

/** A bundled folder of the project (works from src/ and dist/src/). */
function bundled (folder: string, marker: string): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, folder, marker))) return join(dir, folder)
    dir = dirname(dir)
  }
  throw new Error(`cannot find the bundled ${folder}/ folder`)
}

/** The folder of the bundled templates. */
export function builtinTemplatesDir (): string { return bundled('templates', SERVICE_TEMPLATE) }

/** The folder holding driftgate/*.lua (lua mode's lua_package_path). */
export function builtinLuaDir (): string { return bundled(join('nginx', 'lua'), join('driftgate', 'balancer.lua')) }

/**
 * The `ngxservername` filter: a server_name entry of a TLS server.
 * nginx's `*.example.com` matches any depth (`a.b.example.com`), a
 * certificate's wildcard covers one label only: the wildcard becomes the
 * regex of exactly one label, so nginx never picks a certificate that a
 * client would reject.
 */
export function ngxServerName (value: unknown): string {
  const name = ngxHost(value)
  return name.startsWith('*.') ? `~^[^.]+\\.${name.slice(2).replaceAll('.', '\\.')}$` : name
}

const SAFE_PATH = /^\/[A-Za-z0-9._/-]{0,1023}$/

/** The `ngxpath` filter: an absolute path of plain characters, or the render fails. */
export function ngxPath (value: unknown): string {
  if (typeof value === 'string' && SAFE_PATH.test(value) && !value.split('/').includes('..')) return value
  throw new TemplateError(`refusing to print ${JSON.stringify(String(value)).slice(0, 80)} into nginx config: not a plain absolute path`)
}

/** The `ngxhost` filter: a route host name (`shop.example.com`, `*.example.com`), or the render fails. */
export function ngxHost (value: unknown): string {
  if (isRouteHost(value)) return value
  throw new TemplateError(`refusing to print ${JSON.stringify(String(value)).slice(0, 80)} into nginx config: not a route host name`)
}

/** The `ngxroute` filter: a route path prefix (`/`, `/api/v1`), or the render fails. */
export function ngxRoute (value: unknown): string {
  if (isRoutePath(value)) return value
  throw new TemplateError(`refusing to print ${JSON.stringify(String(value)).slice(0, 80)} into nginx config: not a route path`)
}

/**
 * A loopback address for a service's 503 listener, derived from its name so
 * that it is stable across renders. 127.0.0.0/8 is all local on Linux, so no
 * setup is needed; collisions move to the next address deterministically.
 */
export function fallbackAddresses (names: string[]): Map<string, string> {
  const taken = new Set<number>([1]) // 127.0.0.1 is the status listener's
  const out = new Map<string, string>()
  for (const name of [...names].sort()) {
    let h = createHash('sha1').update(name).digest().readUIntBE(0, 3)
    while (h === 0 || h === 0xffffff || taken.has(h)) h = (h + 1) & 0xffffff
    taken.add(h)
    out.set(name, `127.${h >> 16}.${(h >> 8) & 255}.${h & 255}`)
  }
  return out
}


/** The port of a listen address (`443`, `10.0.0.1:8443`). */
export function httpsPort (listen: string): number {
  return Number(listen.slice(listen.lastIndexOf(':') + 1))
}

export interface RenderedFiles {
  /** File name (no folder) → content. */
  files: Map<string, string>
}

export class TemplateSet {
  private env!: nunjucks.Environment
  private service!: nunjucks.Template
  private status!: nunjucks.Template
  private routes!: nunjucks.Template
  private tls!: nunjucks.Template
  private servers!: nunjucks.Template
  // name → [input key, output]: 10,000 services re-render only what changed.
  private cache = new Map<string, [string, string]>()
  private routesCache: [string, string] | null = null

  /** dirs: searched in order; a user folder may hold only some templates. */
  constructor (private readonly dirs: string[], readonly mode: 'file' | 'lua' = 'file') { this.reload() }

  /** Re-reads and compiles the templates. Throws TemplateError, keeping the previous set. */
  reload (): void {
    const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(this.dirs, { noCache: true }), {
      autoescape: false, throwOnUndefined: true, trimBlocks: true, lstripBlocks: true,
    })
    env.addFilter('ngx', ngxToken)
    env.addFilter('ngxpath', ngxPath)
    env.addFilter('ngxhost', ngxHost)
    env.addFilter('ngxservername', ngxServerName)
    env.addFilter('ngxroute', ngxRoute)
    try {
      const service = env.getTemplate(TEMPLATES[this.mode].service, true)
      const status = env.getTemplate(TEMPLATES[this.mode].status, true)
      const routes = env.getTemplate(ROUTES_TEMPLATE, true)
      const tls = env.getTemplate(TLS_TEMPLATE, true)
      const servers = env.getTemplate(SERVERS_TEMPLATE, true)
      this.env = env; this.service = service; this.status = status; this.routes = routes; this.tls = tls; this.servers = servers
      this.cache = new Map()
      this.routesCache = null
    } catch (err) {
      throw new TemplateError(`cannot compile templates: ${(err as Error).message}`, { cause: err })
    }
  }

  private renderOne (up: UpstreamModel, fallback: { address: string, port: number }): string {
    // Lua mode's file holds no endpoint: only what it prints is part of the key
    // (10,000 services re-render and re-key nothing on an endpoint change).
    const key = this.mode === 'lua' ? `${up.keepalive}|${up.defaulted}` : JSON.stringify([up, fallback])
    const hit = this.cache.get(up.name)
    if (hit?.[0] === key) return hit[1]
    const text = HEADER + this.renderTemplate(this.service, { service: up, fallback }, up.name)
    this.cache.set(up.name, [key, text])
    return text
  }

  private renderTemplate (t: nunjucks.Template, ctx: object, what: string): string {
    try {
      return t.render(ctx)
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause
      const msg = cause instanceof TemplateError ? cause.message : (err as Error).message
      throw new TemplateError(`template failed for ${what}: ${msg}`, { cause: err })
    }
  }

  /**
   * One file per service, `<service>.conf`, the Host map's entries and, with
   * `edge`, the route servers (the whole model: see route-view.ts).
   */
  renderServices (model: Model, statusPort: number, edge?: ServersContext): Map<string, string> {
    const empty = model.services.filter((s) => s.servers.length === 0).map((s) => s.name)
    const fallbacks = fallbackAddresses(empty)
    const files = new Map<string, string>()
    const live = new Set<string>()
    for (const up of model.services) {
      live.add(up.name)
      const fallback = { address: fallbacks.get(up.name) ?? '127.0.0.1', port: statusPort }
      files.set(serviceFile(up.name), this.renderOne(up, fallback))
    }
    for (const name of this.cache.keys()) if (!live.has(name)) this.cache.delete(name)
    // without an edge context (older callers) the host-prefix map stays on, as before issue 16
    files.set(ROUTES_FILE, this.renderRoutes(edge?.hostPrefix === false ? [] : model.services.map((s) => s.name)))
    if (edge !== undefined) files.set(SERVERS_FILE, HEADER + this.renderTemplate(this.servers, edge, SERVERS_FILE))
    return files
  }

  /** The Host map's entries (`<svc>` and `<svc>.*`, only with the host-prefix option): change only when a service appears or goes. */
  private renderRoutes (list: string[]): string {
    const names = list.join(' ')
    if (this.routesCache?.[0] === names) return this.routesCache[1]
    const text = HEADER + this.renderTemplate(this.routes, { names: list }, ROUTES_FILE)
    this.routesCache = [names, text]
    return text
  }

  /**
   * With --certs, `_driftgate-tls.conf`: the HTTPS address's default server,
   * refusing the handshake of names no certificate covers; nothing while no
   * route host has a certificate (nothing listens on the HTTPS address then).
   */
  renderTls (tlsHosts: number, httpsListen: string): string {
    return HEADER + this.renderTemplate(this.tls, { tlsHosts, https: { listen: httpsListen, port: httpsPort(httpsListen) } }, TLS_FILE)
  }

  /** The status file: changes with every generation, so it is written only when a reload is due. */
  renderStatus (model: Model, generation: number, statusPort: number): string {
    return HEADER + this.renderTemplate(this.status, {
      generation, statusPort, services: model.services.length, endpoints: model.containers.length,
      ...(this.mode === 'lua' ? { luaPath: builtinLuaDir(), dictSize: LUA_DICT_SIZE, bodyLimit: LUA_BODY_LIMIT } : {}),
    }, STATUS_FILE)
  }
}
