// Plain messages for the size and number checks of every schema, on the server and in the app's forms:
// zod's own ("Too big: expected string to have <=64 characters") reach users as they are.
// A message given in a schema still wins. Each schema module calls it as it loads: a bare
// side-effect import was dropped from the server's build, which left zod's messages in the API.
import { z } from 'zod'

let configured = false

export function useZodMessages(): void {
  if (configured) return
  configured = true
  z.config({
    // In the browser, no probe for eval (new Function): the app's content security policy refuses
    // it, and each refusal was a violation in the console of every page with a form. The server
    // keeps zod's compiled parsers (publishing is the hot path).
    jitless: 'window' in globalThis,
    customError: (issue) => {
      if (issue.code === 'invalid_type' && issue.expected === 'int' && typeof issue.input === 'number') return 'must be a whole number'
      if (issue.code !== 'too_big' && issue.code !== 'too_small') return undefined
      const limit = Number(issue.code === 'too_big' ? issue.maximum : issue.minimum)
      if (issue.origin === 'string') {
        if (issue.code === 'too_small') return limit === 1 ? 'is required' : `must be at least ${limit} characters`
        return `must be at most ${limit} characters`
      }
      if (issue.origin === 'array') return issue.code === 'too_big' ? `must have at most ${limit} items` : `must have at least ${limit} items`
      if (issue.origin === 'number' || issue.origin === 'int') {
        if (issue.code === 'too_big') return issue.inclusive ? `must be at most ${limit}` : `must be less than ${limit}`
        return issue.inclusive ? `must be at least ${limit}` : `must be more than ${limit}`
      }
      return undefined
    },
  })
}
