// The cross-site request guard and the worker-role guard (utils/request-guards.ts); the security
// headers are already set (plugins/04.security-headers.ts).
export default defineEventHandler(guardRequest)
