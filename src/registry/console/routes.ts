// The operator console at /ui/ on the API port: a few static files from the
// package's console/ folder and Preact + htm as ES modules from node_modules,
// mapped by the page's import map (no CDN, no bundler). Read once at start,
// answered from memory. The page itself is public (a browser cannot send a
// bearer token on navigation); every API call it makes carries the token.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply } from 'fastify'
import { projectRoot } from '../../paths.js'

interface Asset { body: Buffer, type: string }

const JS = 'text/javascript; charset=utf-8'
const VENDOR: Record<string, string> = {
  'vendor/preact.mjs': 'preact/dist/preact.module.js',
  'vendor/hooks.mjs': 'preact/hooks/dist/hooks.module.js',
  'vendor/htm.mjs': 'htm/dist/htm.module.js',
}
const OWN: Record<string, string> = {
  'app.js': JS, 'api.js': JS, 'pages.js': JS, 'service.js': JS, 'style.css': 'text/css; charset=utf-8',
}

function moduleFile (spec: string): string {
  const require = createRequire(import.meta.url)
  const [pkg, ...rest] = spec.split('/')
  // htm exports no ./package.json: find the package folder from its main file.
  const main = require.resolve(pkg)
  const at = main.lastIndexOf(`/node_modules/${pkg}/`)
  return join(at < 0 ? dirname(main) : main.slice(0, at + `/node_modules/${pkg}`.length), ...rest)
}

/** The files, and the CSP hash of the page's one inline script (the import map). */
export function loadConsole (root = join(projectRoot(), 'console')): { assets: Map<string, Asset>, csp: string } {
  const assets = new Map<string, Asset>()
  for (const [name, type] of Object.entries(OWN)) assets.set(name, { body: readFileSync(join(root, name)), type })
  for (const [name, spec] of Object.entries(VENDOR)) assets.set(name, { body: readFileSync(moduleFile(spec)), type: JS })
  const html = readFileSync(join(root, 'index.html'), 'utf8')
  assets.set('', { body: Buffer.from(html), type: 'text/html; charset=utf-8' })
  const map = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? ''
  const hash = createHash('sha256').update(map).digest('base64')
  const csp = `default-src 'self'; script-src 'self' 'sha256-${hash}'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`
  return { assets, csp }
}

export function consoleRoutes (): FastifyPluginAsync {
  return async function (app: FastifyInstance): Promise<void> {
    const { assets, csp } = loadConsole()
    const serve = async (name: string, reply: FastifyReply): Promise<FastifyReply> => {
      const a = assets.get(name)
      if (a === undefined) return await reply.code(404).type('text/plain; charset=utf-8').send('not found\n')
      return await reply.type(a.type)
        .header('cache-control', 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', csp)
        .header('referrer-policy', 'no-referrer')
        .send(a.body)
    }
    // The API runs with ignoreTrailingSlash: /ui/ is /ui.
    app.get('/ui', { config: { public: true } }, async (_request, reply) => await serve('', reply))
    app.get<{ Params: { '*': string } }>('/ui/*', { config: { public: true } }, async (request, reply) => await serve(request.params['*'], reply))
  }
}
