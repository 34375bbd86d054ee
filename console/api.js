/* global sessionStorage */
// The registry API from the browser: same origin, the token from this tab's
// sessionStorage (never localStorage: it must not outlive the tab), and a
// clear error for every failure (a 401 says so; nothing fails silently).
import { h, createContext } from 'preact'
import { useContext, useEffect, useState } from 'preact/hooks'
import htm from 'htm'

export const html = htm.bind(h)
const KEY = 'driftgate.token'

export const auth = {
  get token () { return sessionStorage.getItem(KEY) ?? '' },
  set (t) { if (t) sessionStorage.setItem(KEY, t); else sessionStorage.removeItem(KEY) },
}

export class ApiError extends Error {
  constructor (status, message) { super(message); this.status = status }
}

export async function api (method, path, body, signal) {
  const headers = { accept: 'application/json', 'x-driftgate-client': 'console' }
  if (auth.token) headers.authorization = `Bearer ${auth.token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal })
  } catch (err) {
    if (err.name === 'AbortError') throw err
    throw new ApiError(0, `cannot reach the registry (${err.message})`)
  }
  const text = await res.text()
  let data = {}
  try { data = text ? JSON.parse(text) : {} } catch { /* not JSON */ }
  if (!res.ok) {
    const msg = data?.error?.message ?? `HTTP ${res.status}`
    throw new ApiError(res.status, res.status === 401 ? `Not authorised (401): ${msg}. Enter the right token above.` : msg)
  }
  return data
}

/** Plain numbers the way `driftgate status` prints them. */
export function bytes (n) {
  const u = ['B', 'Ki', 'Mi', 'Gi', 'Ti']
  let i = 0
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++ }
  return `${Math.round(n * 10) / 10}${u[i]}`
}

export function ago (ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000))
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : s < 86400 ? `${Math.floor(s / 3600)}h ago` : `${Math.floor(s / 86400)}d ago`
}

/** A labelled use bar: a <meter> (screen readers read its value) with the numbers beside it. */
export function Bar ({ label, used, cap, fmt = (x) => x }) {
  const pct = cap > 0 ? Math.round((used / cap) * 100) : 0
  return html`<span class="bar"><meter min="0" max=${cap || 1} value=${used} low=${cap * 0.7} high=${cap * 0.9} optimum="0"
    aria-label=${`${label} ${pct}% used`}></meter> <span>${fmt(used)} / ${fmt(cap)}</span></span>`
}

export function ErrorNote ({ error }) {
  if (!error) return null
  return html`<p class="error" role="alert">${error.message}</p>`
}

/**
 * `tick` moves on every cluster change (app.js's live loop); askToken() asks
 * for the write token once; `access` is what the tab's token may do
 * (GET /v1/auth: token none/read/write/wrong, writesEnabled); `tokenGen`
 * moves when the token changes.
 */
export const Live = createContext({ tick: 0, askToken: async () => {}, access: null, tokenGen: 0 })

/** Why this tab cannot write, or null when it may try. */
export function writeBlocked (access) {
  if (access?.writesEnabled === false) return 'Writes are disabled on this registry (it was started without a write token).'
  if (access?.token === 'read') return 'This token can read but not write: scaling and rollback need the write token.'
  return null
}

/**
 * A blocking read: GETs `path`, then `path?index=<index>&wait=25s` again and
 * again, each answer arriving when the data moved (the server parks the
 * request until then). For data that changes without an activity event
 * (service load). {data, error}; stops on a 401 until the token changes.
 */
export function useBlocking (path) {
  const { tokenGen } = useContext(Live)
  const [state, set] = useState({ data: null, error: null })
  useEffect(() => {
    const ctl = new AbortController()
    ;(async () => {
      let index
      while (!ctl.signal.aborted) {
        try {
          const data = await api('GET', index === undefined ? path : `${path}?index=${index}&wait=25s`, undefined, ctl.signal)
          index = data.index
          set({ data, error: null })
        } catch (error) {
          if (ctl.signal.aborted) return
          set((s) => ({ data: s.data, error }))
          if (error instanceof ApiError && error.status === 401) return
          await new Promise((resolve) => setTimeout(resolve, 2000))
        }
      }
    })()
    return () => ctl.abort()
  }, [path, tokenGen])
  return state
}

/** GETs `path` again whenever the cluster changes; {data, error}. */
export function useLive (path) {
  const { tick } = useContext(Live)
  const [state, set] = useState({ data: null, error: null })
  useEffect(() => {
    if (path == null) return
    const ctl = new AbortController()
    api('GET', path, undefined, ctl.signal).then((data) => set({ data, error: null }), (error) => { if (error.name !== 'AbortError') set((s) => ({ data: s.data, error })) })
    return () => ctl.abort()
  }, [path, tick])
  return state
}

