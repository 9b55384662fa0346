// Security headers, the cross-site request guard and the worker-role guard (utils/request-guards.ts).
export default defineEventHandler(guardRequest)
