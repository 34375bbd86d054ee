// The renderer role (DESIGN section 1): one per nginx.
import { Renderer, type RendererDeps } from './renderer.js'
import type { RendererConfig } from './config.js'

export { Renderer, type RendererDeps, type RendererStatus } from './renderer.js'
export * from './config.js'
export * from './model.js'
export { TemplateSet, ngxToken, fallbackAddresses, builtinTemplatesDir } from './templates.js'
export { HEADER, STATUS_FILE } from './file-format.js'
export { Coalescer, realClock, type Clock } from './coalescer.js'
export { ConfWriter } from './writer.js'
export { NginxController, fetchGeneration, pidFromConf } from './nginx.js'
export { culpritFile } from './held-back.js'

export function createRenderer (config: RendererConfig, deps?: RendererDeps): Renderer {
  return new Renderer(config, deps)
}
