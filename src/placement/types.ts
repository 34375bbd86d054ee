// Inputs and outputs of the pure scheduler.
import type { AssignmentRecord, HostRecord, ServiceSpec } from '../core/index.js'

/** A spec with the version it is stored under (a ServiceRecord fits). */
export interface SpecEntry { spec: ServiceSpec, version: number }

export interface ScheduleInput {
  specs: SpecEntry[]
  hosts: HostRecord[]
  assignments: AssignmentRecord[]
  /** `since` of new assignments; a parameter so the function stays pure. */
  now?: number
}

export interface Unschedulable { service: string, replica: number, reason: string }

export interface ScheduleResult {
  /** The complete desired table, sorted by key. */
  assignments: AssignmentRecord[]
  unschedulable: Unschedulable[]
  /** More than half of the known hosts are down: nothing was moved off them. */
  failStatic: boolean
}
