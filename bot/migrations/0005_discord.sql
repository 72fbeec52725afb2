-- Discord layer: upload cache by content hash, command-sync hash, job extras (issue 5). Placeholder.
SELECT 1;
