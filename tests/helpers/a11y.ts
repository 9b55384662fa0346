import type { Locator } from 'playwright-core'

/**
 * How a field's error reaches a screen reader: whether the field is marked invalid, and the text
 * and role of what describes it (aria-describedby; '' when it names nothing that exists).
 */
export function fieldError(field: Locator) {
  return field.evaluate((input) => {
    const described = (input.getAttribute('aria-describedby') ?? '').split(/\s+/).filter(Boolean)
      .map(id => document.getElementById(id)).filter(element => element !== null)
    return {
      invalid: input.getAttribute('aria-invalid') === 'true',
      text: described.map(element => element.textContent?.trim()).join(' '),
      alert: described.some(element => element.closest('[role="alert"], [aria-live]') !== null),
    }
  })
}
