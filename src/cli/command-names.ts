// The name, usage and one-line description of every subcommand, in the
// order of --help. Data only: the command files take their description from
// here, and command-list.ts loads a command by its name, so --help with no
// command loaded reads the same as with all of them (issue 20, memory by size).

export interface CommandInfo {
  name: string
  /** what --help shows after the name in the command list (options and arguments) */
  usage: string
  description: string
}

export const commandInfo: readonly CommandInfo[] = [
  { name: 'up', usage: '[options]', description: 'run everything on this Docker host: embedded nats-server, registry, agent, renderer and an nginx on :8080' },
  { name: 'demo', usage: '[options]', description: 'a local 3-host lab (namespaces + dockerd each) with the control plane and a 3-replica web service behind nginx' },
  { name: 'agent', usage: '[options]', description: 'Watch one Docker host and publish every labelled container with its MacVLAN IP to NATS' },
  { name: 'registry', usage: '[options]', description: 'control plane: endpoint table from agent events, host liveness, IPAM, HTTP API and DNS' },
  { name: 'renderer', usage: '[options]', description: 'render nginx upstreams from the endpoint table, validate with nginx -t, reload gracefully' },
  { name: 'ipam', usage: '', description: 'shared MacVLAN address pools (the Docker IPAM driver allocates from these)' },
  { name: 'apply', usage: '[options]', description: 'create or update services from spec files (YAML or JSON)' },
  { name: 'scale', usage: '[options] <service=replicas...>', description: 'set the replica count of services, or the autoscale range (min..max) of autoscaled ones' },
  { name: 'status', usage: '[options]', description: 'services with desired/running/healthy replicas, hosts with capacity and use, unschedulable replicas' },
  { name: 'ps', usage: '[options] <service>', description: 'the replicas of a service: host, container, IP, state, health, since, spec version' },
  { name: 'history', usage: '[options] <service>', description: 'versions of a service\'s spec: when, by whom, why (* marks the current one)' },
  { name: 'rollback', usage: '[options] <service>', description: 'apply an earlier version of a service\'s spec again, as a new version (default: the previous one)' },
  { name: 'logs', usage: '[options] <service>', description: 'a service\'s output from every replica on every host, merged by timestamp (kept after containers are removed)' },
  { name: 'rm', usage: '[options] <service...>', description: 'delete services: every replica is drained from nginx and stopped' },
]

/** A command's description (the command files call this). */
export function descriptionOf (name: string): string {
  const entry = commandInfo.find((c) => c.name === name)
  if (entry === undefined) throw new Error(`no command ${name} in command-names.ts`)
  return entry.description
}
