/**
 * The fields of a record being edited while other admins may change it too. A field the admin
 * has not touched follows the record's newest values (it arrives over the admin socket), and
 * `changes()` holds only the fields the admin changed: a save sends those (PATCH), so a change
 * made elsewhere since the form opened is not written back with the old value.
 */
export function useEditForm<T extends Record<string, string>>(record: () => T) {
  const saved: T = { ...record() }
  const form = reactive({ ...saved }) as T

  watch(record, (next) => {
    for (const key of Object.keys(next) as (keyof T)[]) {
      if (form[key] === saved[key]) form[key] = next[key]
      saved[key] = next[key]
    }
  })

  function changes(): Partial<T> {
    const changed: Partial<T> = {}
    for (const key of Object.keys(saved) as (keyof T)[]) {
      if (form[key] !== saved[key]) changed[key] = form[key]
    }
    return changed
  }

  return { form, changes }
}
