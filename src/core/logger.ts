// pino everywhere: JSON lines with fields, one child logger per component.
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino'

export type { Logger }

export interface LoggerOpts {
  level?: string
  /** Role name put on every line, e.g. "agent". */
  role?: string
  destination?: DestinationStream
}

export function createLogger (opts: LoggerOpts = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.DRIFTGATE_LOG_LEVEL ?? 'info',
    base: opts.role != null ? { role: opts.role } : undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }
  return opts.destination != null ? pino(options, opts.destination) : pino(options)
}

/** A child logger for one component of a role: every line carries `component`. */
export function componentLogger (parent: Logger, component: string): Logger {
  return parent.child({ component })
}

/** A logger that discards everything: for pure-unit tests. */
export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}
