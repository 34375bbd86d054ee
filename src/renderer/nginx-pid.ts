// Where the nginx master's pid file is, as nginx itself decides: the `pid`
// directive of the main context (wherever it sits on its line, after
// comments, in a file the main context includes), else the compile-time
// `--pid-path` of `nginx -V`, relative paths against the prefix. The
// configuration comes from `nginx -T`, which prints every file it read.
import { dirname, isAbsolute, join } from 'node:path'

/** `nginx -T` output → file path → text, in the order nginx read them (the first is the main file). */
export function splitDump (dump: string): Map<string, string> {
  const files = new Map<string, string>()
  const re = /^# configuration file (.+):\n/gm
  const marks: Array<{ path: string, start: number, head: number }> = []
  for (let m = re.exec(dump); m != null; m = re.exec(dump)) marks.push({ path: m[1], start: m.index + m[0].length, head: m.index })
  marks.forEach((mk, i) => files.set(mk.path, dump.slice(mk.start, i + 1 < marks.length ? marks[i + 1].head : dump.length)))
  return files
}

type Token = { kind: 'word', value: string } | { kind: ';' | '{' | '}' }

/** nginx's lexer, enough for directives: words, quotes with escapes, `#` comments, `;{}`. */
export function tokenize (text: string): Token[] {
  const out: Token[] = []
  let i = 0
  while (i < text.length) {
    const c = text[i]
    if (/\s/.test(c)) { i++; continue }
    if (c === '#') { while (i < text.length && text[i] !== '\n') i++; continue }
    if (c === ';' || c === '{' || c === '}') { out.push({ kind: c }); i++; continue }
    let value = ''
    if (c === '"' || c === "'") {
      i++
      while (i < text.length && text[i] !== c) {
        if (text[i] === '\\' && i + 1 < text.length) i++
        value += text[i++]
      }
      i++
    } else {
      while (i < text.length && !/[\s;{}]/.test(text[i])) {
        if (text[i] === '\\' && i + 1 < text.length) i++
        value += text[i++]
      }
    }
    out.push({ kind: 'word', value })
  }
  return out
}

/** Glob of an include (`*`, `?`, `[..]`) → RegExp on a whole path. */
function globRe (glob: string): RegExp {
  let s = ''
  for (const ch of glob) {
    if (ch === '*') s += '[^/]*'
    else if (ch === '?') s += '[^/]'
    else if (ch === '[' || ch === ']') s += ch
    else s += ch.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  return new RegExp(`^${s}$`)
}

/**
 * The main context's `pid` argument, or undefined. Only directives at depth
 * 0 count, and only files included at depth 0 are followed: a map entry
 * `pid pid;` inside http {} (a service named "pid") is not the directive.
 */
export function pidFromFiles (files: Map<string, string>, main = [...files.keys()][0]): string | undefined {
  if (main == null) return undefined
  const confPrefix = dirname(main)
  const visit = (path: string, seen: Set<string>): string | undefined => {
    const text = files.get(path)
    if (text == null || seen.has(path)) return undefined
    seen.add(path)
    let depth = 0
    let words: string[] = []
    for (const t of tokenize(text)) {
      if (t.kind === 'word') { words.push(t.value); continue }
      if (t.kind === '{') depth++
      else if (t.kind === '}') depth = Math.max(0, depth - 1)
      else if (depth === 0 && words[0] === 'pid' && words.length >= 2) return words[1]
      else if (depth === 0 && words[0] === 'include' && words.length >= 2) {
        const pat = isAbsolute(words[1]) ? words[1] : join(confPrefix, words[1])
        const re = globRe(pat)
        for (const f of [...files.keys()].filter((k) => re.test(k)).sort()) {
          const found = visit(f, seen)
          if (found != null) return found
        }
      }
      words = []
    }
    return undefined
  }
  return visit(main, new Set())
}

/** From `nginx -V` (it prints to stderr): the compile-time pid path and prefix. */
export function buildDefaults (v: string): { pidPath: string, prefix: string } {
  const arg = (name: string): string | undefined => new RegExp(`--${name}=(\\S+)`).exec(v)?.[1]
  // nginx's own defaults when ./configure was not given them
  return { pidPath: arg('pid-path') ?? 'logs/nginx.pid', prefix: arg('prefix') ?? '/usr/local/nginx' }
}

/** The pid file nginx uses: directive (or compile-time default), relative to -p (or the compile-time prefix). */
export function pidFilePath (directive: string | undefined, v: { pidPath: string, prefix: string }, prefix?: string): string {
  const p = directive ?? v.pidPath
  return isAbsolute(p) ? p : join(prefix ?? v.prefix, p)
}
