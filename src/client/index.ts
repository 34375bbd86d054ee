// The registry API client, one for the CLI and the demo.
export { ApiClient, DEFAULT_API, type ActivityPage, type ClientOptions } from './api-client.js'
export { applyFiles, specsFromText, describeWrite, type SpecWrite } from './apply.js'
export { hasChanges, lineDiff, normaliseSpec, specYaml } from './diff.js'
export { logsPath, readLogs, type LogsRequest } from './logs.js'
