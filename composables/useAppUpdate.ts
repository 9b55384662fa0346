// Whether a new release of the app is there for this tab (plugins/app-update.client.ts).
export interface AppUpdate {
  /** A newer release is waiting, or already controls this tab, which still runs the older code. */
  available: boolean
  /** "Later": hidden until a newer release still comes. */
  dismissed: boolean
}

export const useAppUpdate = () => useState<AppUpdate>('app-update', () => ({ available: false, dismissed: false }))
