export default defineEventHandler(async (event) => {
  const user = await authenticate(event)
  if (user?.tokenId) {
    await useDb().accessToken.deleteMany({ where: { id: user.tokenId, name: 'login' } })
  }
  await clearUserSession(event)
  return { loggedOut: true }
})
