import { closeDb } from '../utils/db'

// Registered last, so it runs after every other plugin's close hook has finished its writes.
export default defineNitroPlugin((nitro) => {
  nitro.hooks.hook('close', async () => {
    await closeDb()
  })
})
