/* global sessionStorage, document */
// One service: scale control, replicas (ps), spec, history with a diff
// between any two versions and Rollback (with a confirm step), and its
// activity. Writes ask for the write token once when none is set.
import { useContext, useEffect, useRef, useState } from 'preact/hooks'
import { html, useLive, useBlocking, api, ErrorNote, ago, Live, ApiError, writeBlocked } from './api.js'

/** Line diff (LCS) of two texts: [[' '|'-'|'+', line]]. */
function diff (a, b) {
  const x = a.split('\n'); const y = b.split('\n')
  const L = Array.from({ length: x.length + 1 }, () => new Array(y.length + 1).fill(0))
  for (let i = x.length - 1; i >= 0; i--) for (let j = y.length - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1])
  const out = []; let i = 0; let j = 0
  while (i < x.length && j < y.length) {
    if (x[i] === y[j]) { out.push([' ', x[i]]); i++; j++ } else if (L[i + 1][j] >= L[i][j + 1]) out.push(['-', x[i++]]); else out.push(['+', y[j++]])
  }
  while (i < x.length) out.push(['-', x[i++]])
  while (j < y.length) out.push(['+', y[j++]])
  return out
}

const sorted = (v) => JSON.stringify(v, (_k, val) => (val && typeof val === 'object' && !Array.isArray(val) ? Object.fromEntries(Object.entries(val).sort()) : val), 2)

function useWrite () {
  const { askToken } = useContext(Live)
  const [state, set] = useState({ busy: false, error: null, done: null })
  const run = async (method, path, body, doneText) => {
    set({ busy: true, error: null, done: null })
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const r = await api(method, path, body)
        set({ busy: false, error: null, done: doneText(r) })
        return
      } catch (err) {
        // No token yet: ask once, then try again; a wrong token is shown, not retried.
        if (err instanceof ApiError && err.status === 401 && attempt === 0 && !sessionStorage.getItem('driftgate.token')) { await askToken(); continue }
        set({ busy: false, error: err, done: null }); return
      }
    }
  }
  return [state, run]
}

/** Why writes are greyed out for this tab (a read-only token, writes disabled), as a note the buttons point at. */
function ReadOnlyNote ({ id }) {
  const why = writeBlocked(useContext(Live).access)
  return why ? html`<p class="note read-only" id=${id}>${why}</p>` : null
}

function Scale ({ name, desired }) {
  const [value, setValue] = useState('')
  const [st, run] = useWrite()
  const blocked = writeBlocked(useContext(Live).access) !== null
  const submit = (e) => { e.preventDefault(); run('PATCH', `/v1/services/${name}`, { replicas: Number(value) }, (r) => `Scaled to ${r.replicas} (version ${r.version}).`) }
  return html`<form class="scale" onSubmit=${submit}><label for="replicas">Replicas (now ${desired})</label>
    <input id="replicas" type="number" min="0" max="1000" required value=${value} onInput=${(e) => setValue(e.target.value)} />
    <button type="submit" disabled=${st.busy || blocked} aria-describedby=${blocked ? 'scale-ro' : undefined}>Scale</button>
    <span role="status">${st.done ?? ''}</span><${ErrorNote} error=${st.error} /><${ReadOnlyNote} id="scale-ro" /></form>`
}

function Replicas ({ name }) {
  const ps = useLive(`/v1/services/${name}/ps`)
  const rows = ps.data?.replicas ?? []
  return html`<section aria-labelledby="h-replicas"><h2 id="h-replicas">Replicas <small>${rows.filter((r) => r.state === 'running').length} running</small></h2>
    <${ErrorNote} error=${ps.error} />
    <div class="scroll"><table><thead><tr><th scope="col">Replica</th><th scope="col">Host</th><th scope="col">Container</th><th scope="col">IP</th><th scope="col">State</th><th scope="col">Health</th><th scope="col">Since</th><th scope="col">Version</th></tr></thead>
    <tbody>${rows.map((r) => html`<tr class="replica"><th scope="row">${r.replica ?? '-'}</th><td>${r.host}</td><td><code>${r.container}</code></td><td>${r.ip}</td>
      <td>${r.state}</td><td>${r.health}</td><td>${ago(r.since)}</td><td>${r.specVersion ?? '?'}</td></tr>`)}</tbody></table></div></section>`
}

function History ({ name, current }) {
  const h = useLive(`/v1/services/${name}/history`)
  const [pick, setPick] = useState({ a: null, b: null })
  const [confirm, setConfirm] = useState(null)
  const [st, run] = useWrite()
  const blocked = writeBlocked(useContext(Live).access) !== null
  // Keyboard: the confirm step takes the focus (on Cancel: Enter twice must not roll back);
  // Escape cancels and gives the focus back to the Rollback button.
  const cancelRef = useRef(null)
  const [back, setBack] = useState(null)
  useEffect(() => { if (confirm !== null) cancelRef.current?.focus() }, [confirm])
  useEffect(() => {
    if (back === null) return
    document.querySelector(`tr[data-version="${back}"] button.rollback`)?.focus()
    setBack(null)
  }, [back])
  const cancel = (v) => { setConfirm(null); setBack(v) }
  const versions = h.data?.versions ?? []
  const a = pick.a ?? versions[1]?.version ?? null
  const b = pick.b ?? versions[0]?.version ?? null
  const va = useLive(a !== null ? `/v1/services/${name}/history/${a}` : null)
  const vb = useLive(b !== null ? `/v1/services/${name}/history/${b}` : null)
  const rollback = (to) => { setConfirm(null); run('POST', `/v1/services/${name}/rollback`, { to }, (r) => `Rolled back to version ${to}: now version ${r.version}.`) }
  return html`<section aria-labelledby="h-history"><h2 id="h-history">History</h2>
    <${ErrorNote} error=${h.error ?? st.error} /><p role="status">${st.done ?? ''}</p>
    <div class="scroll"><table><thead><tr><th scope="col">Version</th><th scope="col">When</th><th scope="col">By</th><th scope="col">Reason</th><th scope="col">Image</th><th scope="col">Replicas</th><th scope="col">Diff from</th><th scope="col">Diff to</th><th scope="col"><span class="sr">Action</span></th></tr></thead>
    <tbody>${versions.map((v) => html`<tr data-version=${v.version}><th scope="row">${v.version}${v.version === current ? ' (current)' : ''}</th>
      <td>${ago(v.at)}</td><td>${v.by}</td><td>${v.reason}</td><td>${v.image}</td><td>${v.replicas}</td>
      <td><input type="radio" name="diff-a" aria-label=${`diff from version ${v.version}`} checked=${a === v.version} onChange=${() => setPick({ ...pick, a: v.version })} /></td>
      <td><input type="radio" name="diff-b" aria-label=${`diff to version ${v.version}`} checked=${b === v.version} onChange=${() => setPick({ ...pick, b: v.version })} /></td>
      <td>${v.version === current ? null : confirm === v.version
        ? html`<span class="confirm" role="group" aria-label=${`confirm rollback to version ${v.version}`} onKeyDown=${(e) => { if (e.key === 'Escape') cancel(v.version) }}>Roll back to version ${v.version}? <button onClick=${() => rollback(v.version)}>Confirm rollback</button> <button ref=${cancelRef} onClick=${() => cancel(v.version)}>Cancel</button></span>`
        : html`<button class="rollback" onClick=${() => setConfirm(v.version)} disabled=${st.busy || blocked} aria-describedby=${blocked ? 'history-ro' : undefined}>Rollback to ${v.version}</button>`}</td></tr>`)}</tbody></table></div>
    <${ReadOnlyNote} id="history-ro" />
    ${va.data && vb.data ? html`<h3>Diff: version ${a} → ${b}</h3><pre class="diff" aria-label=${`differences between version ${a} and ${b}`}>${diff(sorted(va.data.spec), sorted(vb.data.spec)).map(([k, l]) =>
      html`<span class=${k === '+' ? 'add' : k === '-' ? 'del' : 'same'}>${`${k} ${l}`}</span>`)}</pre>` : null}</section>`
}

const perSec = (x) => (x >= 100 ? Math.round(x) : x >= 10 ? x.toFixed(1) : x.toFixed(2))

/** Requests and upstream errors per second (GET /v1/stats/services/<name>, a blocking read: it moves with each renderer report). */
function Load ({ name }) {
  const s = useBlocking(`/v1/stats/services/${name}`)
  const l = s.data?.load
  const n = s.data?.renderers?.length ?? 0
  return html`<section aria-labelledby="h-load"><h2 id="h-load">Load</h2><${ErrorNote} error=${s.error} />
    ${l ? html`<dl class="load" aria-live="polite">
        <div><dt>Requests</dt><dd class="rps">${perSec(l.requestsPerSec)}/s</dd></div>
        <div><dt>Upstream errors</dt><dd class=${`eps${l.errorsPerSec > 0 ? ' error' : ''}`}>${perSec(l.errorsPerSec)}/s</dd></div>
        <div><dt>From</dt><dd>${l.renderers} renderer${l.renderers === 1 ? '' : 's'}, read ${ago(l.at)}</dd></div></dl>`
      : s.data ? html`<p class="note no-load">${n === 0
        ? 'No data: no renderer is reporting (renderers in file mode have no counters; lua mode reports every 2 s).'
        : `No requests counted for ${name} yet (${n} renderer${n === 1 ? '' : 's'} reporting).`}</p>` : null}</section>`
}

function Activity ({ name }) {
  const ev = useLive(`/v1/events?service=${name}&limit=200`)
  const list = [...(ev.data?.events ?? [])].reverse().slice(0, 30)
  return html`<section aria-labelledby="h-activity"><h2 id="h-activity">Activity</h2><${ErrorNote} error=${ev.error} />
    <ol class="feed">${list.map((e) => html`<li><time datetime=${new Date(e.at).toISOString()}>${ago(e.at)}</time> <span class="kind">${e.kind}</span> ${e.message}</li>`)}</ol></section>`
}

export function Service ({ name }) {
  const s = useLive(`/v1/services/${name}`)
  const spec = s.data?.spec
  return html`<h2 class="title">Service ${name} ${s.data?.version != null ? html`<small>version ${s.data.version}</small>` : null}</h2>
    <${ErrorNote} error=${s.error} />
    ${spec ? html`<${Scale} name=${name} desired=${spec.replicas} />` : null}
    <${Replicas} name=${name} />
    <${Load} name=${name} />
    <${History} name=${name} current=${s.data?.version} />
    ${spec ? html`<section aria-labelledby="h-spec"><h2 id="h-spec">Spec</h2><pre>${sorted(spec)}</pre></section>` : null}
    <${Activity} name=${name} />`
}
