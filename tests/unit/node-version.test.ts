import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { MIN_NODE, nodeTooOld } from '../../server/utils/node-version'

describe('the Node.js the server needs', () => {
  it('is the one package.json asks for', () => {
    const engines = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).engines.node
    expect(engines).toBe(`>=${MIN_NODE}`)
  })

  it('refuses older versions only', () => {
    expect(nodeTooOld('v20.20.2')).toBe(true)
    expect(nodeTooOld('v22.11.0')).toBe(true)
    expect(nodeTooOld('v22.12.0')).toBe(false)
    expect(nodeTooOld('v22.23.1')).toBe(false)
    expect(nodeTooOld('v24.1.0')).toBe(false)
  })
})
