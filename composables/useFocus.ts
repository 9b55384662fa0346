/**
 * Puts the keyboard focus on an element that is not focusable by itself (a heading, a panel):
 * where the focus goes when the control that had it goes away, instead of falling to the body.
 */
export function focusElement(element: HTMLElement | null | undefined) {
  if (!element) return
  if (!element.hasAttribute('tabindex') && element.tabIndex < 0) element.tabIndex = -1
  element.focus()
}

/** The page's own heading: the place to start again from when what had the focus is gone. */
export function focusPageHeading() {
  focusElement(document.querySelector<HTMLElement>('main h1'))
}

/** Gives `element` the focus only if the focus was lost meanwhile (it is on the body). */
export function focusIfLost(element: HTMLElement | null | undefined) {
  if (document.activeElement && document.activeElement !== document.body) return
  focusElement(element)
}
