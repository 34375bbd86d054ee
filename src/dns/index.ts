// DNS wire pieces with no view of driftgate's data: the codec, the forwarder,
// per-client rate limits and DNS-over-TCP framing. The registry's DNS server
// (src/registry/lookup/dns) and the agent's container stub (src/agent/dns) both
// build on them.
export { Rcode, bare } from './rcode.js'
export { UDP_MAX, clampUdp, decodeQuery, encodeFit, fitForwarded, rcodeOf, udpLimit } from './codec.js'
export { Forwarder, parseUpstream } from './forward.js'
export { ClientRateLimit } from './rate.js'
export { serveTcp } from './tcp.js'
