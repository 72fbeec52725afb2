"""Where result files live on disk, and how they are fetched and removed."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from bot.jobs.records import Job
from bot.jobs.service import ImageService

log = logging.getLogger(__name__)

_EXTENSIONS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp", ".gif": "gif"}


class ResultFiles:
    """Result files of each job under ``<data_dir>/results/<job id>/``."""

    def __init__(self, data_dir: Path, *, max_bytes: int) -> None:
        self.root = data_dir / "results"
        self.max_bytes = max_bytes

    def job_dir(self, job_id: int) -> Path:
        """Return the directory holding ``job_id``'s results."""
        return self.root / str(job_id)

    def path_for(self, job: Job, index: int, url: str) -> Path:
        """Return where result ``index`` (0-based) of ``job`` is stored."""
        suffix = PurePosixPath(urlsplit(url).path).suffix.lower()
        ext = _EXTENSIONS.get(suffix)
        if ext is None:
            fmt = job.request.output_format
            ext = "jpg" if fmt == "jpeg" else "png"
        return self.job_dir(job.id) / f"{index + 1}.{ext}"

    async def fetch(self, job: Job, service: ImageService) -> list[Path]:
        """Download every result URL of ``job`` (streamed, size-capped); return the files."""
        paths: list[Path] = []
        for index, url in enumerate(job.result_urls):
            dest = self.path_for(job, index, url)
            await service.download(url, dest, max_bytes=self.max_bytes)
            paths.append(dest)
        return paths

    @staticmethod
    def all_present(job: Job) -> bool:
        """Tell whether every file the job records is still on disk."""
        return bool(job.files) and all(Path(f).is_file() for f in job.files)

    def remove(self, job_id: int) -> None:
        """Delete the job's result files (after delivery, failure or cancellation)."""
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def remove_orphans(self, keep: set[int]) -> int:
        """Delete result directories of jobs not in ``keep`` (left by a crash); return how many."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            if entry.is_dir() and not (entry.name.isdigit() and int(entry.name) in keep):
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
        return removed
