-- Usernames are unique ignoring case ("Alice" cannot sit next to "alice"), also when two are
-- created at the same moment: the check before the insert (usernameTakenAs) cannot see a
-- concurrent insert, this index can. Usernames are ASCII, so lower() agrees on SQLite and
-- PostgreSQL. Written by hand: Prisma's schema language has no expression indexes, so the
-- schema snapshot does not list it and later diffs leave it alone.
CREATE UNIQUE INDEX "User_username_lower_key" ON "User"(lower("username"));
