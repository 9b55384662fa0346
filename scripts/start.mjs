// `npm start`: build when the sources changed since the last build, apply migrations, serve.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const stampFile = path.join(root, '.output', '.source-hash')
const SOURCES = ['app.vue', 'nuxt.config.ts', 'package.json', 'assets', 'components', 'composables',
  'layouts', 'middleware', 'pages', 'plugins', 'public', 'server', 'shared', 'stores', 'service-worker', 'prisma/schema.prisma']

function hashSources() {
  const hash = createHash('sha256')
  const visit = (rel) => {
    const abs = path.join(root, rel)
    if (!existsSync(abs)) return
    const stat = statSync(abs)
    if (stat.isDirectory()) {
      for (const entry of readdirSync(abs).sort()) {
        if (entry !== 'node_modules' && entry !== 'generated') visit(path.join(rel, entry))
      }
    }
    else {
      hash.update(rel).update(readFileSync(abs))
    }
  }
  SOURCES.forEach(visit)
  return hash.digest('hex')
}

function run(command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env })
  if (result.status !== 0) {
    console.error(`mercury: "${command} ${args.join(' ')}" failed`)
    process.exit(result.status ?? 1)
  }
}

const sourceHash = hashSources()
const built = existsSync(path.join(root, '.output/server/index.mjs'))
  && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === sourceHash
if (!built) {
  console.log('mercury: building the app (first start or sources changed)…')
  run('nuxt', ['build'])
  writeFileSync(stampFile, sourceHash)
}

const dataDir = path.resolve(root, process.env.MERCURY_DATA_DIR || 'data')
mkdirSync(dataDir, { recursive: true })
const env = { ...process.env, MERCURY_DATA_DIR: dataDir }
env.DATABASE_URL ||= `file:${path.join(dataDir, 'mercury.db')}`
run('prisma', ['migrate', 'deploy'], env)

const port = process.env.PORT || process.env.NITRO_PORT || '3000'
const host = process.env.HOST || process.env.NITRO_HOST || ''
console.log(`\nmercury: serving on http://${host && host !== '0.0.0.0' ? host : 'localhost'}:${port}`)
console.log('mercury: log in as "admin" with MERCURY_ADMIN_PASSWORD, or the password printed below on the first start.')
console.log('mercury: lost it? Start once with MERCURY_RESET_ADMIN_PASSWORD=<new password>.\n')
Object.assign(process.env, env)
await import(path.join(root, '.output/server/index.mjs'))
