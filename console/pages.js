// Overview, hosts and pools: tables read live (useLive) from the API.
import { html, useLive, Bar, ErrorNote, bytes, ago } from './api.js'

function health (desired, running, healthy) {
  if (desired === 0) return ['idle', 'grey']
  if (healthy >= desired) return ['healthy', 'green']
  if (healthy > 0 || running > 0) return ['degraded', 'amber']
  return ['down', 'red']
}

export function ServicesTable () {
  const p = useLive('/v1/placement')
  const s = useLive('/v1/services')
  const counts = new Map((s.data?.services ?? []).map((x) => [x.name, x.endpoints]))
  const rows = p.data?.services ?? []
  return html`<section aria-labelledby="h-services"><h2 id="h-services">Services</h2>
    <${ErrorNote} error=${p.error ?? s.error} />
    ${rows.length === 0 && p.data ? html`<p>No services yet: <code>driftgate apply -f web.yaml</code>.</p>` : null}
    <div class="scroll"><table><thead><tr><th scope="col">Service</th><th scope="col">Version</th><th scope="col">Desired</th><th scope="col">Running</th><th scope="col">Healthy</th><th scope="col">State</th><th scope="col">Hosts</th></tr></thead>
    <tbody>${rows.map((x) => {
      const c = counts.get(x.name) ?? { healthy: 0, total: 0 }
      const [word, colour] = health(x.desired, c.total, c.healthy)
      return html`<tr data-service=${x.name}><th scope="row"><a href=${`#/services/${x.name}`}>${x.name}</a></th><td>${x.version}</td>
        <td class="desired">${x.desired}</td><td class="running">${c.total}</td><td class="healthy">${c.healthy}</td>
        <td><span class=${`dot ${colour}`} aria-hidden="true"></span> ${word}</td>
        <td>${Object.entries(x.hosts).sort().map(([h, n]) => `${h}:${n}`).join(' ') || '-'}</td></tr>`
    })}</tbody></table></div></section>`
}

export function HostsTable ({ detail = false }) {
  const p = useLive('/v1/placement')
  const hr = useLive(detail ? '/v1/hosts' : null)
  const rec = new Map((hr.data?.hosts ?? []).map((h) => [h.host, h]))
  const hosts = p.data?.hosts ?? []
  return html`<section aria-labelledby="h-hosts"><h2 id="h-hosts">Hosts</h2>
    <${ErrorNote} error=${p.error} />
    <p class="summary">${['up', 'suspect', 'down'].map((st) => `${hosts.filter((h) => h.status === st).length} ${st}`).join(', ')}</p>
    <div class="scroll"><table><thead><tr><th scope="col">Host</th><th scope="col">Status</th><th scope="col">CPU</th><th scope="col">Memory</th><th scope="col">Replicas</th>${detail ? html`<th scope="col">Address</th><th scope="col">Last seen</th><th scope="col">Labels</th>` : null}</tr></thead>
    <tbody>${hosts.map((h) => html`<tr data-host=${h.host}><th scope="row">${h.host}</th>
      <td><span class=${`badge ${h.status}`}>${h.status}</span></td>
      <td><${Bar} label=${`${h.host} CPU`} used=${h.used.cpus} cap=${h.capacity.cpus} fmt=${(x) => Math.round(x * 100) / 100} /></td>
      <td><${Bar} label=${`${h.host} memory`} used=${h.used.memoryBytes} cap=${h.capacity.memoryBytes} fmt=${bytes} /></td>
      <td>${h.replicas}</td>
      ${detail ? html`<td>${rec.get(h.host)?.address ?? '-'}</td><td>${rec.get(h.host) ? ago(rec.get(h.host).lastSeen) : '-'}</td>
        <td>${Object.entries(h.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '-'}</td>` : null}</tr>`)}</tbody></table></div></section>`
}

export function PoolsTable ({ detail = false }) {
  const p = useLive('/v1/ipam/pools')
  const pools = p.data?.pools ?? []
  return html`<section aria-labelledby="h-pools"><h2 id="h-pools">Pools</h2>
    <${ErrorNote} error=${p.error} />
    ${pools.length === 0 && p.data ? html`<p>No IPAM pools.</p>` : null}
    ${pools.map((pool) => html`<div class="pool"><h3>${pool.name} <small>${pool.subnet ?? ''}</small></h3>
      <${PoolUse} pool=${pool} />${detail ? html`<${Addresses} pool=${pool.name} />` : null}</div>`)}</section>`
}

function PoolUse ({ pool }) {
  const u = pool.usage ?? { size: 0, reserved: 0, bound: 0, quarantined: 0 }
  const used = u.reserved + u.bound + u.quarantined
  return html`<p class="pool-use"><${Bar} label=${`pool ${pool.name}`} used=${used} cap=${u.size} />
    <span> ${used} used (${u.bound} bound, ${u.reserved} reserved, ${u.quarantined} quarantined), ${Math.max(0, u.size - used)} free</span></p>`
}

function Addresses ({ pool }) {
  const a = useLive(`/v1/ipam/pools/${pool}/addresses`)
  const list = a.data?.addresses ?? []
  return html`<${ErrorNote} error=${a.error} /><div class="scroll"><table><caption>Who holds which address in ${pool}</caption>
    <thead><tr><th scope="col">Address</th><th scope="col">State</th><th scope="col">Host</th><th scope="col">Container</th><th scope="col">Since</th></tr></thead>
    <tbody>${list.map((r) => html`<tr><th scope="row">${r.ip}</th><td>${r.state}</td><td>${r.owner?.host ?? '-'}</td>
      <td>${(r.owner?.container ?? '').slice(0, 12) || '-'}</td><td>${r.since ? ago(r.since) : '-'}</td></tr>`)}</tbody></table></div>`
}

export function Overview () {
  return html`<${ServicesTable} /><${HostsTable} /><${PoolsTable} />`
}
export function Hosts () { return html`<${HostsTable} detail=${true} />` }
export function Pools () { return html`<${PoolsTable} detail=${true} />` }
