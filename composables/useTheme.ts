// Light, dark, or whatever the system prefers; the choice is kept in localStorage and applied as
// <html data-theme> (an inline script in nuxt.config.ts applies it before the app boots).
export type Theme = 'light' | 'dark' | 'system'

const KEY = 'mercury-theme'

export function useTheme() {
  const theme = useState<Theme>('theme', () => 'system')

  function load() {
    const saved = localStorage.getItem(KEY)
    theme.value = saved === 'light' || saved === 'dark' ? saved : 'system'
  }

  function set(next: Theme) {
    theme.value = next
    if (next === 'system') {
      localStorage.removeItem(KEY)
      delete document.documentElement.dataset.theme
    }
    else {
      localStorage.setItem(KEY, next)
      document.documentElement.dataset.theme = next
    }
  }

  return { theme, load, set }
}
