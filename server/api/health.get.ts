import { startupReady } from '../services/bootstrap'

export default defineEventHandler(async (event) => {
  try {
    await startupReady()
    await useDb().$queryRawUnsafe('SELECT 1')
  }
  catch {
    setResponseStatus(event, 503)
    return { status: 'unavailable', database: 'down' }
  }
  return { status: 'ok', database: 'up', uptime: Math.round(process.uptime()) }
})
