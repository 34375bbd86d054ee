// The part of every role's configuration that is the same for all roles:
// NATS connection, subject prefix, logging, metrics. Each role's schema
// spreads these properties into its own.
/** JSON-schema properties every role config has (merged into each role's schema). */
export const commonRoleProperties = {
  nats: { type: 'string', minLength: 1, default: 'nats://127.0.0.1:4222' }, // = bus DEFAULT_NATS
  natsUser: { type: 'string' },
  natsPass: { type: 'string' },
  natsPassFile: {
    type: 'string', minLength: 1,
    description: 'file holding the NATS password (its first line), so the password stays out of argv and the environment',
  },
  natsToken: { type: 'string' },
  natsCreds: { type: 'string' },
  natsTlsCa: { type: 'string' },
  natsTlsCert: { type: 'string' },
  natsTlsKey: { type: 'string' },
  prefix: { type: 'string', pattern: '^[a-zA-Z0-9_-]+$', default: 'driftgate' },
  logLevel: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
  metricsPort: { type: 'integer', minimum: 0, maximum: 65535 },
} as const

export interface CommonRoleConfig {
  nats: string
  natsUser?: string
  natsPass?: string
  natsPassFile?: string
  natsToken?: string
  natsCreds?: string
  natsTlsCa?: string
  natsTlsCert?: string
  natsTlsKey?: string
  prefix: string
  logLevel: string
  metricsPort?: number
}

