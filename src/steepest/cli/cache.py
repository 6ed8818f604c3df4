"""JAX's persistent compilation cache for the command line: on by default, in the
user's cache directory, so that a second ``steepest fit`` in a new process loads what
the first compiled instead of compiling it again.

Where: ``$STEEPEST_CACHE_DIR`` when set (empty: no cache), else ``steepest/jax`` in the
user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux,
``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows). ``--no-cache`` turns
it off for one command. The cache is JAX's own (``jax_compilation_cache_dir``), kept
to ``MAX_BYTES`` by JAX, least recently used first.
"""

import contextlib
import glob
import os
import re
import sys
import warnings
from pathlib import Path

VARIABLE = "STEEPEST_CACHE_DIR"
MAX_BYTES = 512 * 2**20


def add_argument(command) -> None:
    command.add_argument(
        "--no-cache",
        action="store_true",
        help=f"compile afresh, without JAX's compilation cache (default: cached in "
        f"{_describe(directory())}; ${VARIABLE} moves it, empty turns it off)",
    )


def directory(environ=os.environ) -> Path | None:
    """The cache's directory, or None when ``$STEEPEST_CACHE_DIR`` is set empty (or no
    home directory is known).

    Example:
        >>> str(directory({"STEEPEST_CACHE_DIR": "/tmp/steepest-cache"}))
        '/tmp/steepest-cache'
        >>> directory({"STEEPEST_CACHE_DIR": ""}) is None
        True
    """
    if VARIABLE in environ:
        return Path(environ[VARIABLE]) if environ[VARIABLE] else None
    try:
        home = Path.home()
    except RuntimeError:  # no $HOME and no entry in the password database
        return None
    if sys.platform == "darwin":
        base = home / "Library" / "Caches"
    elif sys.platform == "win32":
        base = Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    else:
        base = Path(environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "steepest" / "jax"


def _describe(path: Path | None) -> str:
    """``path`` for a help text, the home directory written ``~``."""
    if path is None:
        return "nowhere"
    try:
        return f"~/{path.relative_to(Path.home())}"
    except (ValueError, RuntimeError):
        return str(path)


@contextlib.contextmanager
def compilation_cache(enabled: bool):
    """JAX's persistent cache in ``directory()`` for the length of the block (every
    compilation cached, however quick), then JAX's settings and cache as they were. A
    directory that cannot be made or written is one warning, and the command runs
    uncached."""
    import jax
    from jax.experimental.compilation_cache import compilation_cache as jax_cache

    where = directory() if enabled else None
    if where is not None:
        try:
            where.mkdir(parents=True, exist_ok=True)
            if not os.access(where, os.W_OK | os.X_OK):
                raise PermissionError(13, "not writable")
        except OSError as error:
            sys.stderr.write(
                f"steepest: warning: no compilation cache: cannot write to {where} "
                f"({error.strerror or error})\n"
            )
            where = None
    if where is None:
        yield
        return
    settings = {
        "jax_compilation_cache_dir": str(where),
        "jax_persistent_cache_min_compile_time_secs": 0.0,
        "jax_compilation_cache_max_size": MAX_BYTES,
    }
    previous = {name: getattr(jax.config, name) for name in settings}
    for name, value in settings.items():
        jax.config.update(name, value)
    jax_cache.reset_cache()  # JAX opens its cache once per process: open this one
    try:
        with _damaged_entries_removed(where):
            yield
    finally:
        for name, value in previous.items():
            jax.config.update(name, value)
        jax_cache.reset_cache()  # and close it, so that what follows is not cached here


# How JAX words an entry it cannot read or write (jax._src.compiler), naming the module.
DAMAGED = re.compile(r"Error (reading|writing) persistent compilation cache entry for '([^']+)'")


@contextlib.contextmanager
def _damaged_entries_removed(where: Path):
    """JAX's warnings on cache entries it cannot read (a write cut short by a kill or a
    full disk, a file truncated) held back; at the end, the entries of those modules
    removed (JAX names the module, not the entry: every entry of it goes, the healthy
    ones compiled again too), so that the next run compiles and caches them afresh
    instead of failing on them again, and one line on stderr says so. (JAX neither
    removes nor overwrites them: each run printed 12 to 25 lines of warnings and cached
    nothing new.) Entries it cannot write are one line too, and nothing is removed."""
    modules: set[str] = set()
    unwritten: set[str] = set()
    shown = warnings.showwarning

    def show(message, category, *rest, **keywords):
        if (found := DAMAGED.search(str(message))) is not None:
            (modules if found.group(1) == "reading" else unwritten).add(found.group(2))
        else:
            shown(message, category, *rest, **keywords)

    with warnings.catch_warnings():
        warnings.filterwarnings("always", message="Error (reading|writing) persistent compilation")
        warnings.showwarning = show
        try:
            yield
        finally:
            if unwritten:  # a full disk, say: nothing to remove, the run is as good
                sys.stderr.write(
                    f"steepest: warning: {len(unwritten)} compilations could not be written to "
                    f"the compilation cache in {where}; they will be compiled again\n"
                )
            if modules:
                removed = 0
                for module in modules:
                    for entry in where.glob(f"{glob.escape(module)}-*"):
                        with contextlib.suppress(OSError):
                            entry.unlink()
                            removed += entry.name.endswith("-cache")
                sys.stderr.write(
                    f"steepest: warning: the compilation cache in {where} held entries that "
                    f"could not be read ({', '.join(sorted(modules))}): {removed} removed, "
                    "to be compiled and cached afresh\n"
                )
