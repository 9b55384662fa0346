-- Usernames are unique ignoring case ("Alice" cannot sit next to "alice"), also when two are
-- created at the same moment: the check before the insert (usernameTakenAs) cannot see a
-- concurrent insert, this index can. Usernames are ASCII, so lower() agrees on SQLite and
-- PostgreSQL. Written by hand: Prisma's schema language has no expression indexes, so the
-- schema snapshot does not list it and later diffs leave it alone.
--
-- Names that already differ only by case (made by such a race before this index) would stop
-- the index from being built: the older user keeps the name, each later one gets "-<its id>"
-- appended, which an admin can change afterwards.
UPDATE "User" SET "username" = "username" || '-' || "id"
WHERE EXISTS (
  SELECT 1 FROM "User" AS "other"
  WHERE lower("other"."username") = lower("User"."username")
    AND ("other"."createdAt" < "User"."createdAt" OR ("other"."createdAt" = "User"."createdAt" AND "other"."id" < "User"."id"))
);

CREATE UNIQUE INDEX "User_username_lower_key" ON "User"(lower("username"));
