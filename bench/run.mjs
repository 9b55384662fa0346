#!/usr/bin/env node
// `npm run bench`: Mercury side by side with the peers of ../shared/peers (Django Channels,
// Socket.IO, bare ws), driven by the same load generator, in several modes, repeated.
//
//   npm run bench                                   # everything below, 3 repetitions
//   BENCH_MODES=embedded-http BENCH_REPEAT=1 npm run bench
//   BENCH_SKIP_BUILD=1 RATE=50 MESSAGES=1500 npm run bench
//
// Modes: embedded-http, embedded-datalink (Mercury without Redis: the harness's REDIS_URL is
// removed from its environment), redis-http, redis-datalink (Mercury on the harness's Redis).
// The peers do not depend on Mercury's mode: all of them run in embedded-http, and `ws` (the
// ceiling) runs again next to Mercury in every other mode so each run has its own reference.
// Knobs passed through to the harness: SUBS TOPICS MESSAGES RATE RATES PAYLOAD CONCURRENCY WARMUP PIN ...
// Results: bench/results/<stamp>/{<mode>-r<n>/results.jsonl, all.jsonl, summary.md}
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs'
import path from 'node:path'
import { BENCH, PEERS_DIR, PEERS_SRC, ensureBuilt, hubCmd, log, median, readTokens, seedDataDir, stamp } from './lib.mjs'

const MODES = (process.env.BENCH_MODES ?? 'embedded-http embedded-datalink redis-http redis-datalink').split(/[\s,]+/).filter(Boolean)
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const ALL_PEERS = process.env.PEERS ?? 'mercury django socketio ws'
const OTHER_PEERS = process.env.BENCH_OTHER_PEERS ?? 'mercury ws'

/** Copies the harness next to us (gitignored) and runs its setup once. */
function preparePeers() {
  if (!existsSync(path.join(PEERS_SRC, 'run.sh'))) throw new Error(`peer harness not found at ${PEERS_SRC}`)
  const stampFile = path.join(PEERS_DIR, '.copied-from')
  const newest = Math.max(...walk(PEERS_SRC).map(f => statSync(f).mtimeMs))
  if (!existsSync(stampFile) || Number(readFileSync(stampFile, 'utf8')) < newest) {
    log(`copying ${PEERS_SRC} to ${PEERS_DIR}`)
    rmSync(PEERS_DIR, { recursive: true, force: true })
    cpSync(PEERS_SRC, PEERS_DIR, { recursive: true, filter: src => !/\/(node_modules|results)(\/|$)/.test(src) })
    writeFileSync(stampFile, String(newest))
  }
  const python = spawnSync('/usr/bin/python3', ['-c', 'import django, channels, daphne, channels_redis'], { stdio: 'ignore' })
  const redis = spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' })
  if (python.status !== 0 || redis.status !== 0 || !existsSync(path.join(PEERS_DIR, 'node_modules/ws'))) {
    log('running the harness setup (apt + npm ci)…')
    const setup = spawnSync('bash', ['setup.sh'], { cwd: PEERS_DIR, stdio: ['ignore', 'inherit', 'inherit'] })
    if (setup.status !== 0) throw new Error('peer setup.sh failed')
  }
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'results') return []
    const full = path.join(dir, entry.name)
    return entry.isDirectory() ? walk(full) : [full]
  })
}

function rotate(list, by) {
  const items = list.split(/\s+/).filter(Boolean)
  const n = by % items.length
  return [...items.slice(n), ...items.slice(0, n)].join(' ')
}

async function main() {
  ensureBuilt()
  preparePeers()
  const out = path.join(BENCH, 'results', stamp())
  mkdirSync(out, { recursive: true })
  const dataDir = path.join(out, 'data')
  log(`seeding ${dataDir}`)
  await seedDataDir(dataDir)
  const tokens = readTokens(dataDir)
  const all = path.join(out, 'all.jsonl')
  for (let rep = 1; rep <= REPEAT; rep++) {
    for (const mode of MODES) {
      const [layer, publishMode] = mode.split('-')
      const peers = rotate(mode === MODES[0] ? ALL_PEERS : OTHER_PEERS, rep - 1)
      const outdir = path.join(out, `${mode}-r${rep}`)
      log(`== ${mode}, repetition ${rep}/${REPEAT}: ${peers}`)
      const env = {
        ...process.env,
        PATH: `${path.dirname(process.execPath)}:${process.env.PATH}`,
        OUTDIR: outdir,
        PEERS: peers,
        REF: 'ws',
        HUB_NAME: 'mercury',
        HUB_PROTO: 'mercury',
        HUB_PUBLISH_MODE: publishMode,
        HUB_CMD: hubCmd(dataDir, { redis: layer === 'redis' }),
        HUB_USER_TOKEN: tokens.userToken,
        HUB_SOURCE_TOKEN: tokens.sourceToken,
      }
      const result = spawnSync('bash', ['run.sh'], { cwd: PEERS_DIR, env, stdio: ['ignore', 'inherit', 'inherit'] })
      if (result.status !== 0) log(`run.sh exited ${result.status}`)
      const file = path.join(outdir, 'results.jsonl')
      if (!existsSync(file)) continue
      for (const line of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
        appendFileSync(all, JSON.stringify({ ...JSON.parse(line), mode, rep }) + '\n')
      }
    }
  }
  const summary = summarize(all)
  writeFileSync(path.join(out, 'summary.md'), summary)
  console.log(summary)
  console.log(`results: ${out}`)
}

/** Medians over repetitions; ratios are taken within each run, then their median. */
export function summarize(file) {
  const rows = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(l => JSON.parse(l)) : []
  const lines = []
  const fmt = (v, digits = 0) => v == null ? '-' : Number(v).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
  for (const rate of [...new Set(rows.map(r => r.target_rate))]) {
    lines.push(`### ${rate} msg/s (medians of ${REPEAT} repetitions unless noted)`, '')
    lines.push('| mode | peer | runs | lost (sum) | p50 ms | p99 ms | deliv/srv-cpu-s | x ws (same run) | x socketio | x django | VmHWM MB |')
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|')
    const ok = rows.filter(r => r.target_rate === rate && !r.error)
    const refMedian = name => median(ok.filter(r => r.name === name).map(r => r.deliveries_per_server_cpu_s))
    for (const mode of [...new Set(ok.map(r => r.mode))]) {
      for (const peer of [...new Set(ok.filter(r => r.mode === mode).map(r => r.name))]) {
        const mine = ok.filter(r => r.mode === mode && r.name === peer)
        const perRunWs = mine.map((r) => {
          const ws = ok.find(o => o.mode === r.mode && o.rep === r.rep && o.name === 'ws')
          return ws ? r.deliveries_per_server_cpu_s / ws.deliveries_per_server_cpu_s : null
        })
        const cpu = median(mine.map(r => r.deliveries_per_server_cpu_s))
        const vs = name => (refMedian(name) ? cpu / refMedian(name) : null)
        lines.push(`| ${mode} | ${peer} | ${mine.length} | ${fmt(mine.reduce((a, r) => a + r.lost, 0))}/${fmt(mine.reduce((a, r) => a + r.expected, 0))} | ${fmt(median(mine.map(r => r.lat_p50_ms)), 2)} | ${fmt(median(mine.map(r => r.lat_p99_ms)), 2)} | ${fmt(cpu)} | ${fmt(median(perRunWs), 2)} | ${fmt(vs('socketio'), 2)} | ${fmt(vs('django'), 2)} | ${fmt(median(mine.map(r => r.server_vmhwm_mb)), 1)} |`)
      }
    }
    const errors = rows.filter(r => r.target_rate === rate && r.error)
    for (const r of errors) lines.push('', `error: ${r.mode} r${r.rep} ${r.name}: ${r.error}`)
    lines.push('', '`x socketio` / `x django`: median deliveries per server CPU-second of the row over the median of that peer (all its runs at this rate).', '')
  }
  return lines.join('\n')
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) {
  if (process.argv[2] === '--summarize') console.log(summarize(process.argv[3]))
  else main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
