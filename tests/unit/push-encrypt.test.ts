import webpush from 'web-push'
import { afterAll, describe, expect, it } from 'vitest'
import { configurePushEncryption, EncryptionThreadError, encryptPush, stopPushEncryption } from '../../server/services/push/encrypt'
import { sendPush } from '../../server/services/push/send'
import { browserKeys, decrypt } from '../helpers/push-service'

function device() {
  const { ecdh, auth, keys } = browserKeys()
  return { ecdh, auth, p256dh: keys.p256dh, authKey: keys.auth }
}

const devices = [device(), device(), device()]

async function roundTrip(count: number) {
  const payloads = Array.from({ length: count }, (_, i) => JSON.stringify({ i, body: 'é'.repeat(i * 7) }))
  // All asked for in one turn of the event loop: one batch, one buffer back.
  const bodies = await Promise.all(payloads.map((p, i) => encryptPush(devices[i % 3]!.p256dh, devices[i % 3]!.authKey, p)))
  bodies.forEach((body, i) => expect(decrypt(body, devices[i % 3]!).toString('utf8')).toBe(payloads[i]))
  // Every push has its own key pair and salt.
  expect(new Set(bodies.map(b => b.subarray(0, 16).toString('hex'))).size).toBe(count)
}

describe('encryptPush', () => {
  afterAll(async () => {
    configurePushEncryption(0)
    await stopPushEncryption()
  })

  it('encrypts in a thread: a batch of pushes for several devices decrypts back, each with its own salt', async () => {
    configurePushEncryption(1)
    await roundTrip(50)
    // Batches from several turns in flight at once.
    await Promise.all([roundTrip(10), new Promise(r => setImmediate(r)).then(() => roundTrip(20))])
  })

  it('rejects a push whose keys cannot be used with web-push\'s reason, and encrypts the rest of its batch', async () => {
    configurePushEncryption(2)
    const good = devices[0]!
    const [ok, bad, alsoOk] = await Promise.allSettled([
      encryptPush(good.p256dh, good.authKey, 'one'),
      encryptPush('AAAA', good.authKey, 'two'),
      encryptPush(good.p256dh, good.authKey, 'three'),
    ])
    expect(decrypt((ok as PromiseFulfilledResult<Buffer>).value, good).toString()).toBe('one')
    expect(decrypt((alsoOk as PromiseFulfilledResult<Buffer>).value, good).toString()).toBe('three')
    expect((bad as PromiseRejectedResult).reason).not.toBeInstanceOf(EncryptionThreadError)
    expect((bad as PromiseRejectedResult).reason.message).toBe('The subscription p256dh value should be 65 bytes long.')
  })

  it('fails the requests of a thread that stops with a retryable error, and starts a new thread for the next ones', async () => {
    configurePushEncryption(1)
    const good = devices[1]!
    await encryptPush(good.p256dh, good.authKey, 'warm')
    const lost = encryptPush(good.p256dh, good.authKey, 'lost')
    await stopPushEncryption()
    await expect(lost).rejects.toBeInstanceOf(EncryptionThreadError)
    expect(decrypt(await encryptPush(good.p256dh, good.authKey, 'again'), good).toString()).toBe('again')
  })

  it('encrypts on the event loop with 0 threads', async () => {
    configurePushEncryption(0)
    await stopPushEncryption()
    await roundTrip(5)
    await expect(encryptPush(devices[0]!.p256dh, '', 'x')).rejects.toThrow('No user auth provided for encryption.')
  })

  it('sendPush: an unusable key is a 400 outcome, sent nowhere', async () => {
    configurePushEncryption(1)
    const outcome = await sendPush({ endpoint: 'https://push.invalid/x', p256dh: 'AAAA', auth: devices[0]!.authKey }, 'x', {
      vapid: { ...webpush.generateVAPIDKeys(), subject: 'mailto:ops@example.com' },
      ttlSeconds: 60, urgency: 'normal', timeoutMs: 1000, allowInsecure: false,
    })
    expect(outcome).toEqual({ statusCode: 400, retryAfterMs: null, error: 'cannot encrypt for this device: The subscription p256dh value should be 65 bytes long.' })
  })
})
