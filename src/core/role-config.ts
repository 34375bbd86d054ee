// The part of every role's configuration that is the same for all roles:
// NATS connection, subject prefix, logging, metrics. Each role's schema
// spreads these properties into its own. Defaults and help texts live here
// only: the command line is generated from them (src/cli/schema-options.ts).
import type { SchemaProp } from './config.js'
import { SITE_PATTERN } from './spec-failover.js'

/** JSON-schema properties every role config has (merged into each role's schema). */
export const commonRoleProperties: Record<string, SchemaProp> = {
  nats: { type: 'string', minLength: 1, default: 'nats://127.0.0.1:4222', arg: '<urls>', description: 'NATS server URL(s), comma separated' },
  natsUser: { type: 'string', arg: '<user>', description: 'NATS user' },
  natsPass: { type: 'string', arg: '<pass>', description: 'NATS password (prefer the env variable or --nats-pass-file: arguments are visible in ps)' },
  natsPassFile: { type: 'string', minLength: 1, arg: '<file>', description: 'file holding the NATS password (its first line), so the password stays out of argv and the environment' },
  natsToken: { type: 'string', arg: '<token>', description: 'NATS token (prefer the env variable or --nats-token-file)' },
  natsTokenFile: { type: 'string', minLength: 1, arg: '<file>', description: 'file holding the NATS token' },
  natsCreds: { type: 'string', arg: '<file>', description: 'NATS credentials file' },
  natsTlsCa: { type: 'string', arg: '<file>', description: 'CA certificate for NATS TLS' },
  natsTlsCert: { type: 'string', arg: '<file>', description: 'client certificate for NATS TLS' },
  natsTlsKey: { type: 'string', arg: '<file>', description: 'client key for NATS TLS' },
  prefix: { type: 'string', pattern: '^[a-zA-Z0-9_-]+$', default: 'driftgate', arg: '<prefix>', description: 'subject prefix' },
  logLevel: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info', arg: '<level>', description: 'log level' },
  metricsPort: { type: 'integer', minimum: 0, maximum: 65535, description: 'serve Prometheus /metrics on this port' },
  // Sites (issue 21): one NATS cluster and its roles; also its JetStream domain when sites are joined.
  site: { type: 'string', pattern: SITE_PATTERN, maxLength: 63, default: 'local', arg: '<name>', description: "this site's name (a DNS label; the NATS JetStream domain when sites are joined by leaf nodes)" },
}

/**
 * The long-running roles with big tables (registry, renderer) bound V8's
 * old-generation growth in the process at start (src/cli/v8-heap.ts; issue
 * 20, docs/scaling.md "Memory by size"). One definition for both schemas.
 */
export const heapGrowingProperty: Record<'heapGrowingPercent', SchemaProp> = {
  heapGrowingPercent: { type: 'integer', minimum: 0, maximum: 400, default: 20, cli: false, description: 'V8 lets the old generation grow by this percent of what survived a full GC before the next one (0: V8\'s own choice, up to 300 %); lower keeps RSS near the live data at some GC CPU, and never caps the heap' },
}

export interface CommonRoleConfig {
  nats: string
  natsUser?: string
  natsPass?: string
  natsPassFile?: string
  natsToken?: string
  natsTokenFile?: string
  natsCreds?: string
  natsTlsCa?: string
  natsTlsCert?: string
  natsTlsKey?: string
  prefix: string
  logLevel: string
  metricsPort?: number
  site: string
}
