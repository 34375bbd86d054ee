/* global location, addEventListener, removeEventListener, document */
// The console shell: header with navigation and the token form, hash routes
// (#/, #/services/<name>, #/hosts, #/pools), and the live loop: one blocking
// query on the activity feed (GET /v1/events?since=&wait=) at a time; each
// event bumps `tick` and the open page reads its data again. No timer polls.
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, auth, html, ApiError, Live } from './api.js'
import { Overview, Hosts, Pools } from './pages.js'
import { Service } from './service.js'

function useRoute () {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const on = () => setHash(location.hash)
    addEventListener('hashchange', on)
    return () => removeEventListener('hashchange', on)
  }, [])
  return hash.replace(/^#/, '') || '/'
}

function TokenForm ({ onSaved, prompt, access }) {
  const [value, setValue] = useState('')
  const save = (e) => { e.preventDefault(); auth.set(value.trim()); setValue(''); onSaved() }
  return html`<form class="token" onSubmit=${save} aria-label="Authentication">
    ${prompt ? html`<p role="alert">${prompt}</p>` : null}
    <label for="token">API token${auth.token ? ` (one is set for this tab${access?.token === 'read' ? ': read-only' : access?.token === 'wrong' ? ': not accepted' : ''})` : ''}</label>
    <input id="token" type="password" autocomplete="off" value=${value} onInput=${(e) => setValue(e.target.value)} />
    <button type="submit">Save</button>
    ${auth.token ? html`<button type="button" onClick=${() => { auth.set(''); onSaved() }}>Forget</button>` : null}
  </form>`
}

function App () {
  const route = useRoute()
  const [tick, setTick] = useState(0)
  const [feedError, setFeedError] = useState(null)
  const [ask, setAsk] = useState(null)
  const [tokenGen, setTokenGen] = useState(0)

  useEffect(() => {
    const ctl = new AbortController()
    let cursor
    ;(async () => {
      while (!ctl.signal.aborted) {
        try {
          const q = cursor === undefined ? 'limit=1' : `since=${cursor}&wait=25s`
          const page = await api('GET', `/v1/events?${q}`, undefined, ctl.signal)
          // The first read only fixes the cursor, but something may have changed since the page last read: read again.
          if (cursor === undefined || page.events.length > 0) setTick((t) => t + 1)
          cursor = page.next
          setFeedError(null)
        } catch (err) {
          if (ctl.signal.aborted) return
          setFeedError(err)
          // A 401 waits for a new token (tokenGen restarts this loop); anything else retries after a pause.
          if (err instanceof ApiError && err.status === 401) return
          await new Promise((resolve) => setTimeout(resolve, 2000))
        }
      }
    })()
    return () => ctl.abort()
  }, [tokenGen])

  // What the token may do (read-only tokens grey out writes); asked again when it changes.
  const [access, setAccess] = useState(null)
  useEffect(() => {
    const ctl = new AbortController()
    api('GET', '/v1/auth', undefined, ctl.signal).then(setAccess, () => setAccess(null))
    return () => ctl.abort()
  }, [tokenGen])

  const askToken = () => new Promise((resolve) => setAsk({ resolve }))
  const saved = () => { setTokenGen((g) => g + 1); setTick((t) => t + 1); if (ask) { ask.resolve(); setAsk(null) } }
  const m = /^\/services\/([a-z0-9-]+)$/.exec(route)
  const page = m ? html`<${Service} name=${m[1]} />`
    : route === '/hosts' ? html`<${Hosts} />`
      : route === '/pools' ? html`<${Pools} />` : html`<${Overview} />`
  const here = (r) => (route === r || (r === '/' && m) ? 'page' : undefined)
  return html`<${Live.Provider} value=${{ tick, askToken, access, tokenGen }}>
    <header>
      <h1><a href="#/">driftgate</a></h1>
      <nav aria-label="Pages"><a href="#/" aria-current=${here('/')}>Overview</a> <a href="#/hosts" aria-current=${here('/hosts')}>Hosts</a> <a href="#/pools" aria-current=${here('/pools')}>Pools</a></nav>
      <${TokenForm} onSaved=${saved} access=${access} prompt=${ask ? 'This change needs the write token: enter it to continue.' : null} />
      <span class="live" aria-live="polite">${feedError ? html`<span class="error" role="alert">Live updates stopped: ${feedError.message}</span>` : 'live'}</span>
    </header>
    <main>${page}</main>
  </${Live.Provider}>`
}

const root = document.getElementById('root')
root.textContent = '' // the "Loading…" line
render(html`<${App} />`, root)
