// `--reload-cmd "docker kill -s HUP 'my nginx'"` → argv, split the way a
// POSIX shell splits words (quotes, backslashes) but with nothing else of a
// shell: no variables, globs, pipes or `;`. The argv is then run as is.

/** Splits a command line into words; throws on an unterminated quote or a trailing backslash. */
export function shellWords (line: string): string[] {
  const words: string[] = []
  let word: string | null = null
  let i = 0
  const add = (s: string): void => { word = (word ?? '') + s }
  while (i < line.length) {
    const c = line[i]
    if (c === ' ' || c === '\t' || c === '\n') {
      if (word !== null) { words.push(word); word = null }
      i++
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1)
      if (end === -1) throw new Error(`unterminated ' in ${JSON.stringify(line)}`)
      add(line.slice(i + 1, end))
      i = end + 1
    } else if (c === '"') {
      let s = ''
      i++
      for (;;) {
        if (i >= line.length) throw new Error(`unterminated " in ${JSON.stringify(line)}`)
        const d = line[i]
        if (d === '"') { i++; break }
        // inside double quotes a backslash escapes only these (POSIX)
        if (d === '\\' && i + 1 < line.length && '"\\$`\n'.includes(line[i + 1])) { s += line[i + 1]; i += 2; continue }
        s += d; i++
      }
      add(s)
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error(`trailing backslash in ${JSON.stringify(line)}`)
      add(line[i + 1])
      i += 2
    } else {
      add(c)
      i++
    }
  }
  if (word !== null) words.push(word)
  return words
}
