// `npm run build`: the production build, stamped so that `npm start` does not build it again.
import { buildApp } from './source-hash.mjs'

const result = buildApp()
if (result.error) console.error(`mercury: the build could not run: ${result.error.message}`)
process.exit(result.status ?? 1)
