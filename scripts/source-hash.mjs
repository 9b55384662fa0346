// What `npm start` compares to decide whether to build: a hash of every source of the built app,
// kept beside the build once it is made (by `npm run build`, `npm start` or `npm test`).
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
export const stampFile = path.join(root, '.output', '.source-hash')
const SOURCES = ['app.vue', 'nuxt.config.ts', 'package.json', 'assets', 'components', 'composables',
  'layouts', 'middleware', 'pages', 'plugins', 'public', 'server', 'shared', 'stores', 'service-worker', 'prisma/schema.prisma']

export function hashSources() {
  const hash = createHash('sha256')
  const visit = (rel) => {
    const abs = path.join(root, rel)
    if (!existsSync(abs)) return
    const stat = statSync(abs)
    if (stat.isDirectory()) {
      for (const entry of readdirSync(abs).sort()) {
        // Not what builds and type checks leave among the sources (generated clients, tsc's cache).
        if (entry !== 'node_modules' && entry !== 'generated' && !entry.endsWith('.tsbuildinfo')) visit(path.join(rel, entry))
      }
    }
    else {
      hash.update(rel).update(readFileSync(abs))
    }
  }
  SOURCES.forEach(visit)
  return hash.digest('hex')
}

/**
 * Builds the app and stamps the build with the sources it was made from (hashed before the build:
 * a source changed while it runs makes the next `npm start` build again). Returns the build's result.
 */
export function buildApp(stdio = 'inherit') {
  const sources = hashSources()
  const result = spawnSync(path.join(root, 'node_modules/.bin/nuxt'), ['build'], { cwd: root, stdio })
  if (result.status === 0) writeFileSync(stampFile, sources)
  return result
}
