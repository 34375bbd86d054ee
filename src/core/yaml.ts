// One strict YAML reading for specs and config files. The yaml library only
// *warns* (on the process) about tags it cannot resolve (`!!js/function`) and
// about mapping keys that are collections; a spec is data, so both are
// refused here with the line they are on, and nothing reaches process warnings.
import { parseAllDocuments } from 'yaml'
import { ValidationError } from './errors.js'

const OPTIONS = { logLevel: 'error' as const }
const ALIASES = { maxAliasCount: 50 }

export interface YamlDocument { /** `where`, with the document's number when there are several. */ at: string, value: unknown }

/** Every document of `text` as plain data (empty documents skipped); throws ValidationError naming `where`. */
export function readYamlDocuments (text: string, where: string): YamlDocument[] {
  const docs = parseAllDocuments(text, OPTIONS)
  const list = Array.isArray(docs) ? docs : [docs]
  const out: YamlDocument[] = []
  list.forEach((doc, i) => {
    const at = list.length > 1 ? `${where} (document ${i + 1})` : where
    const problem = doc.errors[0] ?? doc.warnings[0]
    if (problem != null) throw new ValidationError(`YAML in ${at}`, [{ field: '/', message: problem.message.split('\n')[0] }])
    if (hasCollectionKey(doc.contents)) throw new ValidationError(`YAML in ${at}`, [{ field: '/', message: 'a mapping key must be a plain value, not a list or mapping' }])
    let value: unknown
    try {
      value = doc.toJS(ALIASES)
    } catch (err) { // e.g. too many aliases (an expansion bomb)
      throw new ValidationError(`YAML in ${at}`, [{ field: '/', message: (err as Error).message.split('\n')[0] }])
    }
    if (value != null) out.push({ at, value })
  })
  return out
}

/** The single document of `text` (null when empty). */
export function readYaml (text: string, where: string): unknown {
  const docs = readYamlDocuments(text, where)
  if (docs.length > 1) throw new ValidationError(`YAML in ${where}`, [{ field: '/', message: `expected one document, found ${docs.length}` }])
  return docs[0]?.value ?? null
}

function hasCollectionKey (node: unknown, depth = 0): boolean {
  if (node == null || typeof node !== 'object' || depth > 64) return false
  const items = (node as { items?: unknown[] }).items
  if (!Array.isArray(items)) return false
  for (const it of items) {
    const key = (it as { key?: { items?: unknown } } | null)?.key
    if (key != null && typeof key === 'object' && Array.isArray(key.items)) return true
    if (hasCollectionKey((it as { value?: unknown } | null)?.value ?? it, depth + 1)) return true
  }
  return false
}
