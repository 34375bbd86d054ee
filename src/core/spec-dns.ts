// Spec `dns`: whether replicas placement starts resolve through the agent's
// DNS stub on the network's shim (`<service>` and `<service>.service.<domain>`
// by name, other names forwarded). Default on; `dns: false` leaves Docker's
// own resolver configuration (issue 19).
export const specDnsSchema = { type: 'boolean' } as const
