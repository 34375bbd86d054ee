// `driftgate registry`: see src/registry/. (being built)
import type { Command } from 'commander'

export function register (_program: Command): void {}
