// The host agent (DESIGN section 1): Docker → NATS.
export { createAgent, type Agent, type AgentDeps } from './agent.js'
export { agentSchema, resolveAgentConfig, dockerOptions, parseHostLabels, type AgentConfig, type ResolvedAgentConfig } from './config.js'
export { classifyContainer, listItemToInspect, healthFromStatus, type Classified, type ContainerInspect, type ContainerListItem } from './endpoint.js'
export { parseLabels, LABEL, type RejectReason } from './labels.js'
export { buildSnapshot, applyOverrides } from './snapshot.js'
export type { Trace } from './handler.js'
