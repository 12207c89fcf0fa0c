"""The source maps of a server: read from ``LEADROUTE_SOURCES_DIR`` when first asked for and
again whenever the file changes (a new vendor is a new file; no restart). ``check_all`` reads
every map at start, so a broken one stops the server with its file and place named."""

from __future__ import annotations

import threading
from pathlib import Path

from api.problems import ApiProblem
from api.sources.mapping import SourceMap, load_map, valid_name

META = "meta.yaml"
GOOGLE_ADS = "google_ads.yaml"
WEB = "web.yaml"


class SourceMaps:
    """Maps by file, cached by modification time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[Path, tuple[int, SourceMap]] = {}
        self._lock = threading.Lock()

    def check_all(self) -> list[str]:
        """Read every map; ``ValueError`` naming each broken file. Returns the files read."""
        if not self.folder.is_dir():
            raise ValueError(f"{self.folder}: the source maps folder does not exist "
                             "(LEADROUTE_SOURCES_DIR)")
        problems, read = [], []
        for path in sorted(self.folder.rglob("*.yaml")):
            try:
                load_map(path)
                read.append(str(path.relative_to(self.folder)))
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return read

    def get(self, relative: str) -> SourceMap | None:
        """The map at ``relative`` (None when there is no such file); a 503 naming the file
        when it has been broken since the server started."""
        path = self.folder / relative
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return None
        with self._lock:
            cached = self._cache.get(path)
            if cached is not None and cached[0] == mtime:
                return cached[1]
        try:
            m = load_map(path)
        except ValueError as exc:
            raise ApiProblem(503, f"the source map is broken: {exc}",
                             kind="source-map-broken") from None
        with self._lock:
            self._cache[path] = (mtime, m)
        return m

    def named(self, folder: str, name: str) -> SourceMap | None:
        """A vendor's or partner's map (``vendors/<name>.yaml``); None for a name that is
        not a plain lower-case name or has no file."""
        if not valid_name(name):
            return None
        return self.get(f"{folder}/{name}.yaml")
