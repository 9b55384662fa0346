// A push service for tests, on loopback over TLS, that checks each request as a browser vendor's
// push service would: the VAPID JWT (ES256 signature, aud, exp) against the key in the header,
// and the aes128gcm body (RFC 8188/8291), decrypted with the subscription's private key.
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import path from 'node:path'

export type Behaviour
  = | { status: number, retryAfter?: number, body?: string }
    | { hang: true }
    | { close: true }
    | { garbage: true }
    /** 201 at once, then the body a byte every 100 ms, never ending. */
    | { drip: true }

export interface ReceivedPush {
  name: string
  payload: Record<string, any> | null // eslint-disable-line @typescript-eslint/no-explicit-any
  vapidKey: string
  headers: IncomingMessage['headers']
  answered: string
  problems: string[]
}

export interface TestSubscription {
  name: string
  subscription: { endpoint: string, keys: { p256dh: string, auth: string } }
  ecdh: ECDH
  auth: Buffer
}

const b64u = (buf: Buffer) => buf.toString('base64url')

/** A browser's side of a push subscription: its ECDH pair and auth secret, and them as sent. */
export function browserKeys() {
  const ecdh = createECDH('prime256v1')
  ecdh.generateKeys()
  const auth = randomBytes(16)
  return { ecdh, auth, keys: { p256dh: b64u(ecdh.getPublicKey()), auth: b64u(auth) } }
}

export class TestPushService {
  readonly received: ReceivedPush[] = []
  private readonly scripts = new Map<string, Behaviour[]>()
  private readonly subscriptions = new Map<string, TestSubscription>()
  private server!: Server
  private dir!: string
  url = ''
  /** Every answer waits this long, like a real push service across the internet. */
  latencyMs = 0
  /** PEM of the self-signed certificate: give it to the server as NODE_EXTRA_CA_CERTS. */
  certFile = ''

  async start(): Promise<void> {
    this.dir = mkdtempSync(path.join(tmpdir(), 'mercury-push-'))
    const key = path.join(this.dir, 'key.pem')
    this.certFile = path.join(this.dir, 'cert.pem')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', this.certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' })
    this.server = createServer({ key: readFileSync(key), cert: readFileSync(this.certFile) }, (req, res) => this.handle(req, res))
    await new Promise<void>(resolve => this.server.listen(0, '127.0.0.1', resolve))
    const { port } = this.server.address() as { port: number }
    this.url = `https://127.0.0.1:${port}`
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise(resolve => this.server.close(resolve))
    rmSync(this.dir, { recursive: true, force: true })
  }

  /** A new browser-like subscription: fresh P-256 key pair and auth secret. */
  subscribe(name: string): TestSubscription {
    const { ecdh, auth, keys } = browserKeys()
    const sub = { name, ecdh, auth, subscription: { endpoint: `${this.url}/push/${name}`, keys } }
    this.subscriptions.set(name, sub)
    return sub
  }

  /** The answers for the next requests to this subscription; then 201. */
  script(name: string, behaviours: Behaviour[]): void {
    this.scripts.set(name, [...behaviours])
  }

  to(name: string): ReceivedPush[] {
    return this.received.filter(r => r.name === name)
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const name = decodeURIComponent(req.url?.replace(/^\/push\//, '') ?? '')
      const sub = this.subscriptions.get(name)
      const problems: string[] = []
      let payload: ReceivedPush['payload'] = null
      let vapidKey = ''
      if (!sub) problems.push(`unknown subscription ${name}`)
      else {
        try {
          vapidKey = this.checkVapid(req, problems)
          payload = JSON.parse(decrypt(Buffer.concat(chunks), sub).toString('utf8'))
        }
        catch (error) {
          problems.push(`cannot decrypt: ${(error as Error).message}`)
        }
      }
      if (req.headers['content-encoding'] !== 'aes128gcm') problems.push('Content-Encoding is not aes128gcm')
      if (!req.headers.ttl) problems.push('no TTL header')
      const behaviour = this.scripts.get(name)?.shift() ?? { status: 201 }
      const record: ReceivedPush = { name, payload, vapidKey, headers: req.headers, problems, answered: JSON.stringify(behaviour) }
      this.received.push(record)
      if (problems.length > 0) {
        res.writeHead(400).end(problems.join('; '))
        return
      }
      if ('hang' in behaviour) return
      if ('close' in behaviour) {
        req.socket.destroy()
        return
      }
      if ('drip' in behaviour) {
        res.writeHead(201, { 'content-type': 'text/plain' })
        const timer = setInterval(() => res.write('.'), 100)
        res.on('close', () => clearInterval(timer))
        return
      }
      if ('garbage' in behaviour) {
        req.socket.end('HTTP/1.1 2x0 ???\r\n\r\n\u0000\u0001garbage')
        return
      }
      const headers: Record<string, string> = {}
      if (behaviour.retryAfter !== undefined) headers['retry-after'] = String(behaviour.retryAfter)
      setTimeout(() => res.writeHead(behaviour.status, headers).end(behaviour.body ?? ''), this.latencyMs)
    })
  }

  private checkVapid(req: IncomingMessage, problems: string[]): string {
    const header = req.headers.authorization ?? ''
    const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header)
    if (!match) {
      problems.push(`bad Authorization header: ${header}`)
      return ''
    }
    const [, jwt, k] = match as unknown as [string, string, string]
    const [h, p, s] = jwt.split('.') as [string, string, string]
    const key = Buffer.from(k, 'base64url')
    const publicKey = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64u(key.subarray(1, 33)), y: b64u(key.subarray(33, 65)) }, format: 'jwk' })
    const valid = verify('sha256', Buffer.from(`${h}.${p}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'))
    if (!valid) problems.push('VAPID signature does not verify')
    const header_ = JSON.parse(Buffer.from(h, 'base64url').toString())
    if (header_.alg !== 'ES256') problems.push(`VAPID alg ${header_.alg}`)
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    if (claims.aud !== this.url) problems.push(`VAPID aud ${claims.aud} is not ${this.url}`)
    const now = Math.floor(Date.now() / 1000)
    if (!(claims.exp > now && claims.exp <= now + 24 * 3600)) problems.push(`VAPID exp ${claims.exp} out of range`)
    if (!/^(mailto:|https:)/.test(claims.sub ?? '')) problems.push(`VAPID sub ${claims.sub}`)
    return k
  }
}

/** RFC 8291 (Web Push encryption) over RFC 8188 (aes128gcm), one record. */
export function decrypt(body: Buffer, sub: Pick<TestSubscription, 'ecdh' | 'auth'>): Buffer {
  const salt = body.subarray(0, 16)
  const idlen = body.readUInt8(20)
  const asPublic = body.subarray(21, 21 + idlen)
  const ciphertext = body.subarray(21 + idlen)
  const secret = sub.ecdh.computeSecret(asPublic)
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), sub.ecdh.getPublicKey(), asPublic])
  const ikm = Buffer.from(hkdfSync('sha256', secret, sub.auth, keyInfo, 32))
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16))
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12))
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce)
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()])
  let end = padded.length - 1
  while (end >= 0 && padded[end] === 0) end--
  if (padded[end] !== 2) throw new Error('no last-record delimiter')
  return padded.subarray(0, end)
}
