-- Languages (issue 12): the language of a server's public posts, set with /settings language
-- (a shipped language such as 'zh-CN'); NULL follows the server's Discord language.
ALTER TABLE guild_settings ADD COLUMN language TEXT;
