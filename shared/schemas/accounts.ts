import { z } from 'zod'
import { useZodMessages } from '../utils/zod-messages'
import { TOPIC_PATTERN_RE } from '../utils/topics'

useZodMessages()

/** A row's id as the API gives it, in a path or a query (`?deviceId=` given empty is refused, not read as no filter). */
export const idSchema = z.string().min(1, 'must not be empty').max(64)

export const roleSchema = z.enum(['admin', 'user'])
export type Role = z.infer<typeof roleSchema>

export const usernameSchema = z.string().trim()
  .regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'must be 1-64 letters, digits or _ . @ -')
export const passwordSchema = z.string()
  .min(8, 'must be at least 8 characters')
  .max(256, 'must be at most 256 characters')

export const loginSchema = z.object({
  // Longer than a new name may be: the migration that made names unique ignoring case appended
  // "-<id>" (26 characters) to a name that differed from an older one only by case.
  username: z.string().trim().min(1, 'is required').max(128),
  password: z.string().min(1, 'is required').max(256),
})

/** The body of a logout, optional: the push endpoint of this browser, to stop its pushes. */
export const logoutSchema = z.object({
  endpoint: z.string().max(2048).optional(),
  /** The login this logout ends (the session's `tokenId`): a logout sent late ends no other. */
  tokenId: z.string().min(1).max(100).optional(),
})

export const userCreateSchema = z.object({
  username: usernameSchema,
  password: passwordSchema,
  role: roleSchema.default('user'),
})

export const userUpdateSchema = z.object({
  username: usernameSchema.optional(),
  password: passwordSchema.optional(),
  role: roleSchema.optional(),
}).refine(v => Object.values(v).some(x => x !== undefined), 'give at least one of username, password, role')

export const groupCreateSchema = z.object({
  name: z.string().trim().min(1, 'is required').max(64),
  description: z.string().max(1000).default(''),
})

export const groupUpdateSchema = z.object({
  name: z.string().trim().min(1).max(64).optional(),
  description: z.string().max(1000).optional(),
}).refine(v => v.name !== undefined || v.description !== undefined, 'give name or description')

export const memberSchema = z.object({
  userId: z.string().min(1, 'is required').max(64),
})

export const topicPatternSchema = z.string().trim()
  .regex(TOPIC_PATTERN_RE, 'must be a topic pattern: letters, digits, _ . - and * (1-128 characters, not dots alone)')

export const grantCreateSchema = z.object({
  userId: z.string().min(1).max(64).optional(),
  groupId: z.string().min(1).max(64).optional(),
  topic: topicPatternSchema,
  read: z.boolean().default(true),
  publish: z.boolean().default(false),
})
  .refine(v => (v.userId === undefined) !== (v.groupId === undefined), 'give exactly one of userId and groupId')
  .refine(v => v.read || v.publish, 'a grant must allow read, publish or both')

export const grantQuerySchema = z.object({
  userId: idSchema.optional(),
  groupId: idSchema.optional(),
})

export const tokenCreateSchema = z.object({
  // "login" names the tokens a login makes (ended by logout and by a password change).
  name: z.string().trim().min(1, 'is required').max(100).refine(name => name.toLowerCase() !== 'login', 'is reserved for the tokens logins make: choose another'),
})

export const idParamSchema = z.object({
  id: idSchema,
})

export type LoginInput = z.infer<typeof loginSchema>
export type UserCreateInput = z.input<typeof userCreateSchema>
export type GrantCreateInput = z.input<typeof grantCreateSchema>

export const passwordChangeSchema = z.object({
  currentPassword: z.string().min(1, 'is required').max(256),
  newPassword: passwordSchema,
})
