// Credentials in NATS URLs (`nats://user:pass@host`, `nats://token@host`)
// must never reach a log line or an error message: every text that may hold a
// server URL goes through redactUrls before it is shown.

const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@,]+)@/gi

/** `nats://user:pass@h` → `nats://user:***@h`; `nats://token@h` → `nats://***@h`; other text unchanged. */
export function redactUrls (text: string): string {
  return text.replace(URL_USERINFO, (_m, scheme: string, info: string) => {
    const colon = info.indexOf(':')
    return `${scheme}${colon < 0 ? '***' : `${info.slice(0, colon)}:***`}@`
  })
}
