// Service logs (issue 18): followers per container, batches, budgets, cursor.
export { LogManager, DEFAULT_LOG_BUDGETS, type LogBudgets, type LogManagerOptions } from './manager.js'
export { Batcher } from './batcher.js'
export { LineRateLimit } from './rate-limit.js'
export { cursorAfter, resumeFilter, type Cursor } from './cursor.js'
export { compareTs, dropMarker, parseDockerLine, sinceParam, tsNanos, type LogBatch, type LogLine } from './record.js'
