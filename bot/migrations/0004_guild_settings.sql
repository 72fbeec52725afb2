-- Guild settings: art channels, gallery, defaults, limits, blocklist, audit log (issue 6). Placeholder.
SELECT 1;
