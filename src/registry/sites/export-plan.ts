// Pure: what the endpoint export (driftgate_export_endpoints) must be told so
// it holds exactly the local endpoint table. Values compare as their JSON.
// No I/O: export-writer.ts applies the plan.

export interface ExportPlan {
  /** Keys whose export is missing or differs, with the local value. */
  put: Array<[string, unknown]>
  /** Keys exported that are gone locally. */
  del: string[]
}

export function planExport (local: ReadonlyMap<string, unknown>, exported: ReadonlyMap<string, unknown>): ExportPlan {
  const put: Array<[string, unknown]> = []
  const del: string[] = []
  for (const [k, v] of local) {
    const e = exported.get(k)
    if (e === undefined || JSON.stringify(e) !== JSON.stringify(v)) put.push([k, v])
  }
  for (const k of exported.keys()) if (!local.has(k)) del.push(k)
  return { put, del }
}
