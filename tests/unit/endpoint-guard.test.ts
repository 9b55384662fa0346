import { describe, expect, it, vi } from 'vitest'
import { endpointProblem, guardedLookup, isInternalAddress } from '../../server/services/push/endpoint-guard'

// As /etc/hosts may say: "vm" and "printer" are this network's, push.example is public.
vi.mock('node:dns', () => ({
  lookup: (hostname: string, _options: object, callback: (error: null, addresses: { address: string, family: number }[]) => void) =>
    callback(null, [{ address: hostname === 'push.example' ? '93.184.216.34' : hostname === 'printer' ? '10.0.0.7' : '127.0.0.1', family: 4 }]),
}))

function lookup(hostname: string): Promise<{ error: Error | null, address: unknown }> {
  return new Promise(resolve => guardedLookup(hostname, {}, (error, address) => resolve({ error, address })))
}

describe('push endpoint guard', () => {
  it('refuses loopback, private and reserved hosts however the address is written', () => {
    const refused = [
      'https://127.0.0.1/a', 'https://127.1/a', 'https://0177.0.0.1/a', 'https://0x7f000001/a', 'https://2130706433/a',
      'https://10.1.2.3/a', 'https://172.16.0.1/a', 'https://192.168.1.1/a', 'https://169.254.169.254/a', 'https://100.64.0.1/a',
      'https://0.0.0.0/a', 'https://224.0.0.1/a', 'https://255.255.255.255/a', 'https://198.18.0.1/a',
      'https://[::1]/a', 'https://[::]/a', 'https://[fd00::1]/a', 'https://[fe80::1]/a', 'https://[ff02::1]/a',
      // IPv4 inside IPv6: mapped (dotted and hex), compatible, NAT64, 6to4, Teredo.
      'https://[::ffff:127.0.0.1]:19990/a', 'https://[::ffff:7f00:1]/a', 'https://[::ffff:10.0.0.1]/a', 'https://[::ffff:a00:1]/a',
      'https://[::127.0.0.1]/a', 'https://[64:ff9b::7f00:1]/a', 'https://[2002:7f00:1::]/a', 'https://[2001:0:4136:e378::1]/a',
      // IPv6 outside global unicast: SIIT (carries 127.0.0.1, 10.0.0.1), the rest of ::/8, NAT64 local-use, discard,
      // SRv6, site-local, ULA written in full.
      'https://[::ffff:0:7f00:1]/a', 'https://[::ffff:0:a00:1]/a', 'https://[::1:0:0:1]/a', 'https://[0:0:0:0:0:0:0:1]/a',
      'https://[64:ff9b:1::a00:1]/a', 'https://[100::1]/a', 'https://[5f00::1]/a', 'https://[fec0::1]/a', 'https://[fc00::1]/a',
      'https://[4000::1]/a', 'https://[e000::1]/a',
      // Special-purpose blocks inside global unicast: IETF protocol assignments (2001::/23: ORCHID, ORCHIDv2,
      // benchmarking, AMT, AS112), documentation, AS112 delegation.
      'https://[2001:10::1]/a', 'https://[2001:20::1]/a', 'https://[2001:2::1]/a', 'https://[2001:3::1]/a', 'https://[2001:1ff::1]/a',
      'https://[2001:db8::1]/a', 'https://[3fff::1]/a', 'https://[3fff:fff::1]/a', 'https://[2620:4f:8000::1]/a',
      'https://localhost/a', 'https://localhost./a', 'https://push.localhost/a', 'https://printer.local/a', 'https://db.internal./a',
    ]
    for (const endpoint of refused) expect(endpointProblem(endpoint, false), endpoint).not.toBeNull()
  })

  it('accepts push services on public names and addresses', () => {
    const accepted = [
      'https://fcm.googleapis.com/fcm/send/abc', 'https://updates.push.services.mozilla.com/wpush/v2/abc',
      'https://web.push.apple.com/abc', 'https://8.8.8.8/a', 'https://[2a00:1450:4001:80b::200a]/a', 'https://[::ffff:808:808]/a',
      // Global unicast just beside the special-purpose blocks.
      'https://[2001:200::1]/a', 'https://[2001:db9::1]/a', 'https://[2003::1]/a', 'https://[3fff:1000::1]/a', 'https://[3ffe::1]/a',
    ]
    for (const endpoint of accepted) expect(endpointProblem(endpoint, false), endpoint).toBeNull()
    expect(endpointProblem('http://push.example/a', false)).toMatch(/https/)
  })

  it('refuses a user name or password in the endpoint, which no browser puts there', () => {
    for (const endpoint of ['https://u:p@push.example.com/a', 'https://u@push.example.com/a', 'https://:p@push.example.com/a']) {
      expect(endpointProblem(endpoint, false), endpoint).toBe('must not contain a user name or password')
      expect(endpointProblem(endpoint, true), endpoint).toBe('must not contain a user name or password')
    }
  })

  it('classifies resolved addresses, IPv4-mapped ones as IPv4', () => {
    expect(isInternalAddress('::ffff:192.168.0.1')).toBe(true)
    expect(isInternalAddress('::ffff:c0a8:1')).toBe(true)
    expect(isInternalAddress('93.184.216.34')).toBe(false)
    expect(isInternalAddress('2606:2800:220:1:248:1893:25c8:1946')).toBe(false)
    // What a name may resolve to is held to the same rules as an address in the URL.
    for (const ip of ['::ffff:0:7f00:1', '::1:0:0:1', '5f00::1', '3fff::1', '2001:10::1', '2001:20::1', 'fe80::1%eth0']) {
      expect(isInternalAddress(ip), ip).toBe(true)
    }
    expect(isInternalAddress('not an address')).toBe(false)
  })

  it('refuses a name resolving to an internal address without saying the address, which it logs at most once a minute per host', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {})
    try {
      const refused = await lookup('vm')
      // The error is the delivery's text, shown to the user who registered the endpoint.
      expect(refused.error?.message).toBe('push endpoint vm resolves to an internal address: refused')
      expect((await lookup('vm')).error?.message).not.toContain('127.0.0.1')
      expect((await lookup('printer')).error?.message).toBe('push endpoint printer resolves to an internal address: refused')
      expect(warn.mock.calls.map(call => String(call[0]))).toEqual([
        'mercury: push endpoint vm: resolves to internal address 127.0.0.1: refused',
        'mercury: push endpoint printer: resolves to internal address 10.0.0.7: refused',
      ])
      expect(await lookup('push.example')).toEqual({ error: null, address: '93.184.216.34' })
    }
    finally {
      warn.mockRestore()
    }
  })
})
