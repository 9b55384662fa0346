#!/usr/bin/env node
// Messages with a notification: each is stored with its inbox rows before it goes out, then
// fanned out. One embedded instance, SUBS users subscribed to the topic (push off: this measures
// the storage and the fanout, bench/push.mjs measures the pushes), NOTIFICATIONS published over
// /datalink with at most 64 awaiting their ack, ROUNDS times. Reports the server's CPU per
// notification and notifications per second.
//
//   node bench/notifications.mjs          # SUBS=10 NOTIFICATIONS=2000 ROUNDS=3
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { api, cpuSeconds, ensureBuilt, log, median, publishOverDatalink, sleep, startSeededServer, stopServer } from './lib.mjs'

const SUBS = Number(process.env.SUBS ?? 10)
const NOTIFICATIONS = Number(process.env.NOTIFICATIONS ?? 2000)
const ROUNDS = Number(process.env.ROUNDS ?? 3)
const TOPIC = 'bench.notify'

async function main() {
  ensureBuilt()
  const { out, tokens, server } = await startSeededServer('notifications', 19300)
  try {
    // The bench user and SUBS - 1 more readers of bench.*, all subscribed to the topic.
    const users = [tokens.userToken]
    for (let i = 1; i < SUBS; i++) {
      const user = await api(server.url, 'POST', '/api/admin/users', { token: tokens.adminToken, body: { username: `reader${i}`, password: tokens.userPassword } })
      await api(server.url, 'POST', '/api/admin/grants', { token: tokens.adminToken, body: { userId: user.id, topic: 'bench.*', read: true } })
      users.push((await api(server.url, 'POST', '/api/auth/login', { body: { username: `reader${i}`, password: tokens.userPassword } })).token)
    }
    for (const token of users) await api(server.url, 'POST', '/api/subscriptions', { token, body: { topic: TOPIC, push: false } })
    const rounds = []
    for (let round = 1; round <= ROUNDS; round++) {
      const cpu0 = cpuSeconds(server.pid)
      const t0 = Date.now()
      await publishOverDatalink(server.url, tokens.sourceToken, NOTIFICATIONS, i => ({
        topic: TOPIC, event: 'bench', data: { i }, notification: { title: `Notification ${i}`, body: 'Body of a benchmark notification', priority: 3 },
      }))
      const ackedMs = Date.now() - t0
      await sleep(1500) // the fanout of the last ones; the server is otherwise idle
      const cpu = cpuSeconds(server.pid) - cpu0
      const row = { round, notifications: NOTIFICATIONS, subscribers: SUBS, acked_ms: ackedMs, per_second: Math.round(NOTIFICATIONS / (ackedMs / 1000)), cpu_ms_per_notification: +(1000 * cpu / NOTIFICATIONS).toFixed(2) }
      log(JSON.stringify(row))
      rounds.push(row)
    }
    const result = {
      subscribers: SUBS, notifications_per_round: NOTIFICATIONS, rounds,
      median_per_second: median(rounds.map(r => r.per_second)), median_cpu_ms_per_notification: median(rounds.map(r => r.cpu_ms_per_notification)),
    }
    writeFileSync(path.join(out, 'result.json'), JSON.stringify(result, null, 2))
    console.log(JSON.stringify(result))
  }
  finally {
    await stopServer(server)
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
