/**
 * An error answer's JSON. An error's `data` that JSON cannot hold (a BigInt from a schema, a
 * cycle) must not leave the request without an answer: a BigInt is written as its digits, and
 * anything else JSON refuses drops `data`, the message kept.
 */
export function errorJson(body: Record<string, unknown>): string {
  try {
    return JSON.stringify(body, (_key, value: unknown) => typeof value === 'bigint' ? value.toString() : value)
  }
  catch {
    const { data: _data, ...rest } = body
    return JSON.stringify(rest)
  }
}
