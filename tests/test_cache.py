"""Cache hygiene: an edited helper module recompiles its callers; read-only installs work.

Each test runs fresh processes on a private copy of the package, so that the
cache files they write, find or miss are their own.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import fasthinge

SCRIPT = """
import json, warnings
import numpy as np
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fasthinge as fh
    from fasthinge._cpu import _jit, binary
    # the cheapest kernel to compile: each test compiles it in fresh processes
    loss = fh.binary_hinge(np.full(3, 2.0), np.ones(3), reduction="sum", return_grad=False)
stats = binary.binary_serial.stats
print(json.dumps({
    "loss": float(loss),
    "hits": sum(stats.cache_hits.values()),
    "misses": sum(stats.cache_misses.values()),
    "path": stats.cache_path,
    "cache": _jit._CACHE,
    "warnings": [str(w.message) for w in caught],
}))
"""


def _copy_package(tmp_path):
    root = tmp_path / "site"
    package = Path(fasthinge.__file__).parent
    shutil.copytree(package, root / "fasthinge", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def _run(root, **env_overrides):
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(PYTHONPATH=str(root), **env_overrides)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_editing_a_helper_module_recompiles_the_kernels_that_use_it(tmp_path):
    root = _copy_package(tmp_path)
    first = _run(root)
    assert first["misses"] == 1 and first["hits"] == 0
    assert first["path"] == str(root / "fasthinge" / "_cpu" / "__pycache__")
    again = _run(root)
    assert again["hits"] == 1 and again["misses"] == 0  # the cache is used
    # an "upgrade" that changes only a helper the kernel calls (not binary.py)
    helper = root / "fasthinge" / "_cpu" / "_simd.py"
    helper.write_text(helper.read_text() + "\n# a new version of this helper\n")
    after = _run(root)
    assert after["misses"] == 1 and after["hits"] == 0, "a stale kernel was loaded"
    assert after["loss"] == first["loss"] == 0.0


@pytest.mark.parametrize("setting", ["NUMBA_ENABLE_PROFILING", "NUMBA_OPT"])
def test_a_kernel_cached_under_other_numba_codegen_settings_is_stale(tmp_path, setting):
    """Numba's cache keys on neither debug info nor the optimisation level; the stamp does.

    (At ``NUMBA_OPT=0`` Numba caches nothing; a kernel cached at level 3 was loaded.)
    """
    root = _copy_package(tmp_path)
    value = {"NUMBA_ENABLE_PROFILING": "1", "NUMBA_OPT": "1"}[setting]
    assert _run(root)["misses"] == 1
    other = _run(root, **{setting: value})
    assert other["misses"] == 1 and other["hits"] == 0, "the default build was loaded"
    assert _run(root, **{setting: value})["hits"] == 1  # its own cache is used
    back = _run(root)
    assert back["misses"] == 1 and back["hits"] == 0, f"the {setting}={value} build was loaded"
    assert back["loss"] == other["loss"] == 0.0


def test_the_cache_stamp_holds_numbas_codegen_settings():
    from numba.core import config

    from fasthinge._cpu import _cache

    stamp = _cache.InTreeLocator(_cache.install, _cache.__file__).get_source_stamp()
    assert stamp[4] == _cache.codegen_settings()
    assert stamp[4][:3] == (int(config.OPT), bool(config.DEBUGINFO_DEFAULT), config.BOUNDSCHECK)


def test_a_read_only_install_caches_in_the_temporary_directory(tmp_path):
    root = _copy_package(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    # in-tree __pycache__ impossible (a file is in its way), no writable user cache
    (root / "fasthinge" / "_cpu" / "__pycache__").write_text("")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"XDG_CACHE_HOME": str(blocker / "cache"), "HOME": str(blocker), "TMPDIR": str(tmp)}
    first = _run(root, **env)
    assert first["cache"] is True and first["warnings"] == []
    assert first["path"].startswith(str(tmp / "fasthinge-numba-cache-"))
    assert _run(root, **env)["hits"] == 1


def test_no_writable_directory_turns_caching_off_with_a_warning(monkeypatch):
    """Every directory read-only (root ignores permissions, so the check itself fails)."""
    from numba.core import caching

    from fasthinge._cpu import _cache

    def read_only(self):
        raise OSError(30, "Read-only file system", self.get_cache_path())

    monkeypatch.setattr(caching._CacheLocator, "ensure_cache_path", read_only)
    with pytest.warns(RuntimeWarning, match="no writable directory for Numba's cache"):
        assert _cache.install() is False
    assert caching.CacheImpl._locator_classes[:4] == list(_cache.LOCATORS)  # inserted once


def test_the_cache_stamp_holds_the_band_width(monkeypatch):
    """A kernel cached with other bands (``FASTHINGE_VECTOR_BYTES``) is stale here."""
    from fasthinge._cpu import _cache, _tiles

    locator = _cache.InTreeLocator(_cache.install, _cache.__file__)
    stamps = {}
    try:
        for width in ("16", "64"):
            monkeypatch.setenv("FASTHINGE_VECTOR_BYTES", width)
            _tiles.vector_bytes.cache_clear()
            stamps[width] = locator.get_source_stamp()
    finally:
        monkeypatch.undo()
        _tiles.vector_bytes.cache_clear()
    assert stamps["16"][2] == 16 and stamps["64"][2] == 64
    assert stamps["16"][:2] == stamps["64"][:2]  # the same sources
    assert stamps["16"][3] == stamps["64"][3] == _tiles.cache_bytes()  # and the same cache


def test_cache_bytes_reads_the_largest_cache(tmp_path):
    from fasthinge._cpu._tiles import DEFAULT_CACHE_BYTES, cache_bytes

    for name, size in (("index0", "32K"), ("index2", "1024K"), ("index3", "32768K")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "size").write_text(size + "\n")
    (tmp_path / "index4").mkdir()  # no size file: skipped
    (tmp_path / "index5").mkdir()
    (tmp_path / "index5" / "size").write_text("lots\n")  # not a number: skipped
    assert cache_bytes(str(tmp_path)) == 32 << 20
    assert cache_bytes(str(tmp_path / "nothing")) == DEFAULT_CACHE_BYTES


@pytest.mark.parametrize("value", ["0"])
def test_fasthinge_cache_0_turns_caching_off(tmp_path, value):
    root = _copy_package(tmp_path)
    result = _run(root, FASTHINGE_CACHE=value)
    assert result["cache"] is False and result["warnings"] == []
    assert not list((root / "fasthinge" / "_cpu").glob("__pycache__/*.nbi"))


#: A child process: one signature of a small cached helper (``i`` picks the dtypes),
#: compiled when the file ``go`` appears; or, with ``check N``, the first N signatures,
#: printing how many came from the cache and which failed.
SIGNATURES = """
import json, os, sys, time
import numpy as np
from fasthinge._cpu.small import _overlaps
KINDS = [np.float32, np.float64, np.int64, np.int32]
def arrays(i):
    return np.zeros(2, KINDS[i % 4]), np.zeros(2, KINDS[i // 4 % 4])
if sys.argv[1] == "check":
    failed = []
    for i in range(int(sys.argv[2])):
        try:
            _overlaps(*arrays(i))
        except Exception as error:
            failed.append([i, type(error).__name__])
    hits = sum(_overlaps.stats.cache_hits.values())
    print(json.dumps({"failed": failed, "hits": hits}))
else:
    for i in sys.argv[2:]:
        while not os.path.exists(sys.argv[1]):
            time.sleep(0.001)
        _overlaps(*arrays(int(i)))
"""


def _signatures(cache, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env.update(NUMBA_CACHE_DIR=str(cache))
    return subprocess.Popen([sys.executable, "-c", SIGNATURES, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _check(cache, count):
    import json

    out, err = _signatures(cache, "check", count).communicate(timeout=300)
    assert out, err[-3000:]
    return json.loads(out.splitlines()[-1])


def test_processes_compiling_into_one_cache_at_once_leave_every_entry_loadable(tmp_path):
    """Numba's index is read, extended and written back by each saving process: without
    fasthinge's lock, two of three runs of 16 processes here left an entry that no later
    process could load (its data file held another signature's code), and this test
    failed on that code."""
    go, count = tmp_path / "go", 12
    children = [_signatures(tmp_path / "cache", go, i) for i in range(count)]
    time.sleep(3)  # every child imported and waiting
    go.touch()
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-3000:]
    assert _check(tmp_path / "cache", count) == {"failed": [], "hits": count}


def test_an_entry_holding_another_signatures_code_is_compiled_again(tmp_path):
    """A cache an unlocked writer (an older version, a process of another library)
    left inconsistent: the entry counts as a miss, and compiling it repairs it."""
    cache = tmp_path / "cache"
    first = _signatures(cache, tmp_path, 0, 1)  # ``go`` exists: at once, in this order
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-3000:]
    (one,) = cache.glob("**/small._overlaps-*.1.nbc")
    shutil.copyfile(one, one.with_name(one.name.replace(".1.nbc", ".2.nbc")))
    assert _check(cache, 2) == {"failed": [], "hits": 1}  # signature 1 compiled again
    assert _check(cache, 2) == {"failed": [], "hits": 2}  # and saved: loaded from now on
