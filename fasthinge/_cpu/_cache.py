"""Where fasthinge's compiled kernels are cached on disk, and when a cached one is stale.

Numba checks a cached function against its own source file only. A kernel
calls helpers from other modules (``_rows.py``, ``_simd.py``), so after an
upgrade that changed only a helper, Numba would load the old machine code.
fasthinge's locators stamp every cached kernel with a hash of *all* the
kernel sources (``fasthinge/_cpu/*.py``) and of the file that defines it: any
change anywhere recompiles. The stamp also holds the band width
(``_tiles.vector_bytes``): Numba keys its cache on the CPU's features, but not
on ``FASTHINGE_VECTOR_BYTES``; the size of the CPU's largest cache
(``_tiles.cache_bytes``), which some kernels compare with their inputs; and
Numba's code-generation settings (``codegen_settings``), which its cache does not
key on either: a kernel cached once under ``NUMBA_ENABLE_PROFILING=1`` (debug
info: a label check ran 18x slower) or ``NUMBA_OPT=0`` was loaded by every
later process.

Where the cache goes, first that works:

1. ``NUMBA_CACHE_DIR`` when set (Numba's rule);
2. ``__pycache__`` beside the sources, when writable;
3. Numba's user-wide cache directory (``~/.cache/numba``);
4. ``<tempdir>/fasthinge-numba-cache-<user>``: a read-only install with no
   writable home still caches.

When none is writable, caching is turned off with a warning and kernels
compile in each process (:data:`CACHE_ENABLED`). ``FASTHINGE_CACHE=0`` turns
it off on purpose.

Several processes compiling into one cache at once (a process pool, pytest-xdist,
jobs sharing a home directory) raced in Numba's index: each reads the index, adds
its entry under the first free data file number and writes the index back, so two
signatures could take the same data file and the index keep one key pointing at
the other's machine code. Every later process asking for that signature then failed
to type it (seen on a GPU machine with 24 processes, and here in two trials of three
with 16; ``tests/test_cache.py`` runs 12). fasthinge's kernels therefore use
:class:`FunctionCache`: the index is read and rewritten under a lock on a file beside
it, and an entry whose machine code is for another signature counts as a miss (the
kernel compiles, and saving rewrites the entry).

The locators are inserted at the front of Numba's list and answer only for
fasthinge's files; Numba's own locators serve everything else
(and ``NUMBA_CACHE_LOCATOR_CLASSES``, when set, replaces them all).
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import hashlib
import os
import tempfile
import warnings
from pathlib import Path

from numba.core import caching, config

try:
    import fcntl
except ImportError:  # pragma: no cover (Windows: Numba's unlocked index)
    fcntl = None

from ._tiles import cache_bytes, vector_bytes

#: The package whose kernels these locators serve (``fasthinge/``).
PACKAGE_DIR = Path(__file__).resolve().parent.parent
KERNEL_DIR = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def kernel_fingerprint() -> str:
    """SHA-256 of every kernel source file, in name order (computed once per process)."""
    digest = hashlib.sha256()
    for path in sorted(KERNEL_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _serves(py_file: str) -> bool:
    return PACKAGE_DIR in Path(py_file).resolve().parents


def codegen_settings() -> tuple:
    """Numba's settings that change a kernel's machine code, as this process read them.

    The optimisation level, debug info (``NUMBA_DEBUGINFO``, on under
    ``NUMBA_ENABLE_PROFILING``), bounds checks, the loop and SLP vectorisers and
    AVX: none is in Numba's own cache key.
    """
    return (
        int(config.OPT),
        bool(config.DEBUGINFO_DEFAULT),
        config.BOUNDSCHECK,
        bool(config.LOOP_VECTORIZE),
        bool(config.SLP_VECTORIZE),
        bool(config.ENABLE_AVX),
    )


class _KernelStamp:
    """Mixin: the source stamp covers all kernel sources; fasthinge's files only."""

    def get_source_stamp(self):
        return (
            super().get_source_stamp(),
            kernel_fingerprint(),
            vector_bytes(),
            cache_bytes(),
            codegen_settings(),
        )

    @classmethod
    def from_function(cls, py_func, py_file):
        return super().from_function(py_func, py_file) if _serves(py_file) else None


class UserProvidedLocator(_KernelStamp, caching.UserProvidedCacheLocator):
    """``NUMBA_CACHE_DIR``."""


class InTreeLocator(_KernelStamp, caching.InTreeCacheLocator):
    """``__pycache__`` beside the kernel sources."""


class UserWideLocator(_KernelStamp, caching.UserWideCacheLocator):
    """Numba's user-wide cache directory."""


def fallback_cache_dir() -> Path:
    """``<tempdir>/fasthinge-numba-cache-<user>``, the last place tried."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name (some containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"fasthinge-numba-cache-{user}"


class TempDirLocator(_KernelStamp, caching.UserWideCacheLocator):
    """The temporary directory, for read-only installs without a writable home."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        subpath = self.get_suitable_cache_subpath(py_file)
        self._cache_path = str(fallback_cache_dir() / subpath)


LOCATORS = (UserProvidedLocator, InTreeLocator, UserWideLocator, TempDirLocator)


@contextlib.contextmanager
def index_lock(index_path: str, exclusive: bool):
    """Hold a lock on ``<index_path>.lock`` (shared to read, exclusive to update).

    Without ``fcntl`` (Windows), or where the lock file cannot be made (a read-only
    cache, which is only read), no lock.
    """
    try:
        fd = os.open(index_path + ".lock", os.O_RDWR | os.O_CREAT, 0o666) if fcntl else -1
    except OSError:
        fd = -1
    try:
        if fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if fd >= 0:
            os.close(fd)  # releases the lock


class LockedIndexDataCacheFile(caching.IndexDataCacheFile):
    """Numba's index and data files, each save and load under :func:`index_lock`.

    A save reads the index, picks the entry's data file, writes the index and then
    the data: under the exclusive lock no other process does the same in between,
    and no load sees the index before its data file is written.
    """

    def save(self, key, data):
        with index_lock(self._index_path, exclusive=True):
            super().save(key, data)

    def load(self, key):
        with index_lock(self._index_path, exclusive=False):
            return super().load(key)


class FunctionCache(caching.FunctionCache):
    """Numba's per-function cache with a locked index and checked entries (module docstring)."""

    def __init__(self, py_func):
        super().__init__(py_func)
        self._cache_file = LockedIndexDataCacheFile(
            cache_path=self._cache_path,
            filename_base=self._impl.filename_base,
            source_stamp=self._cache_file._source_stamp,
        )

    def _load_overload(self, sig, target_context):
        data = super()._load_overload(sig, target_context)
        if data is not None and tuple(data.signature.args) != tuple(sig):
            return None  # another signature's code under this key: compile again
        return data


def install() -> bool:
    """Put fasthinge's locators first in Numba's list; whether one can cache here.

    Returns
    -------
    bool
        ``True`` when a writable cache location exists for the kernel sources.
    """
    classes = caching.CacheImpl._locator_classes
    for locator in reversed(LOCATORS):
        if locator not in classes:
            classes.insert(0, locator)
    probe = install.__code__  # any function defined in the kernel package
    source = str(KERNEL_DIR / "_cache.py")
    if config.CACHE_LOCATOR_CLASSES:
        return True  # the user chose the locators; Numba reports any failure
    if any(loc.from_function(_Probe(probe), source) is not None for loc in LOCATORS):
        return True
    warnings.warn(
        "fasthinge: no writable directory for Numba's cache (tried NUMBA_CACHE_DIR, "
        f"{KERNEL_DIR / '__pycache__'}, the user cache and {fallback_cache_dir()}); "
        "kernels compile in every process. Set NUMBA_CACHE_DIR to a writable directory.",
        RuntimeWarning,
        stacklevel=3,
    )
    return False


class _Probe:
    """The attributes of a function that the locators read."""

    def __init__(self, code):
        self.__code__ = code
