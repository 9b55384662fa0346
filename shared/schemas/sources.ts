import { z } from 'zod'
import { useZodMessages } from '../utils/zod-messages'
import { splitPatterns, TOPIC_PATTERN_RE } from '../utils/topics'

useZodMessages()

export const sourceStatusSchema = z.enum(['draft', 'active', 'inactive'])
export type SourceStatus = z.infer<typeof sourceStatusSchema>

/** Topic patterns a source may publish to: a list, or one comma separated string. Empty means every topic. */
export const sourceTopicsSchema = z.union([z.string().max(2000), z.array(z.string().max(128)).max(50)], {
  error: 'must be patterns separated by commas (up to 2,000 characters) or a list of up to 50 patterns',
})
  // "," or [" "] is a typo, not "every topic": only an empty value means that.
  .refine(value => (typeof value === 'string' ? value.trim() === '' || splitPatterns(value).length > 0 : value.length === 0 || value.some(p => p.trim() !== '')), 'give at least one pattern, or leave it empty for every topic')
  .transform(value => (typeof value === 'string' ? splitPatterns(value) : value.map(p => p.trim()).filter(Boolean)))
  .refine(list => list.every(p => TOPIC_PATTERN_RE.test(p)), 'each pattern must be letters, digits, _ . - and * (1-128 characters, not dots alone)')
  .transform(list => (list.length ? [...new Set(list)].join(',') : '*'))

export const sourceCreateSchema = z.object({
  name: z.string().trim().min(1, 'is required').max(64),
  description: z.string().trim().max(1000).default(''),
  topics: sourceTopicsSchema.default('*'),
  /** `active` to start publishing at once; a new source is a draft otherwise. */
  status: z.enum(['draft', 'active']).default('draft'),
})

export const sourceUpdateSchema = z.object({
  name: z.string().trim().min(1).max(64).optional(),
  description: z.string().trim().max(1000).optional(),
  topics: sourceTopicsSchema.optional(),
}).refine(v => v.name !== undefined || v.description !== undefined || v.topics !== undefined, 'give name, description or topics')

export type SourceCreateInput = z.input<typeof sourceCreateSchema>
