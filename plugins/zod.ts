import { z } from 'zod'

// zod compiles validators with `new Function` when it may; the content security policy forbids
// eval, so tell zod not to try (it would only log a violation and fall back anyway).
export default defineNuxtPlugin({
  name: 'zod-jitless',
  enforce: 'pre',
  setup() {
    z.config({ jitless: true })
  },
})
