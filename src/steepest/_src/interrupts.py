"""Ctrl-C, SIGTERM and SIGHUP for the length of a command: noted as well as raised.

The command line installs ``Interrupts`` before JAX loads; the workflows call
``Interrupts.check()`` between their phases, so that a Ctrl-C that a library
swallowed on the way (JAX's garbage-collection callback, during a long load) still
stops the run before its next phase. Without an active ``Interrupts`` (a notebook, a
script), ``check`` does nothing and Ctrl-C is Python's as ever.
"""

import contextlib
import signal
import sys
import threading

# The signals that end a command as Ctrl-C does, then exit 128 + their number (SIGHUP:
# not on Windows).
TERMINATING = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)


class Interrupts:
    """Ctrl-C (SIGINT) and SIGTERM for the length of a command, noted as well as raised.

    Both raise ``KeyboardInterrupt`` as Ctrl-C does (a fit's loop turns it into a flag
    between chunks); SIGTERM then makes the exit 143, and SIGHUP (a closed terminal, a
    lost SSH session) is SIGTERM's twin, exit 129: ``terminated`` holds which signal
    ended the command (0: none, or Ctrl-C). Each is also noted, so that one
    that a library swallowed (JAX's garbage-collection callback, during a long CSV load)
    is raised at the next ``check``, without Python's "Exception ignored" report; within
    ``held`` they are only noted until the block ends. In the main thread only, where
    Python delivers signals; the previous handlers are put back on exit.
    """

    active: "Interrupts | None" = None

    def __init__(self):
        self.received = False
        self.terminated = 0  # the signal number of a SIGTERM or SIGHUP, else 0
        self._holding = False
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGINT, *TERMINATING):
                if signal.getsignal(number) is not signal.SIG_IGN:  # ignored: left so
                    self._previous[number] = signal.signal(number, self._handle)
            Interrupts.active = self
            self._previous_hook = sys.unraisablehook
            sys.unraisablehook = self._unraisable
        return self

    def _unraisable(self, unraisable):
        # A Ctrl-C raised inside a callback that cannot raise (JAX's garbage-collection
        # callback): already noted, so not printed as "Exception ignored in ...".
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            self._previous_hook(unraisable)

    def _handle(self, signum, frame):
        if signum in TERMINATING:  # passed on as Ctrl-C, to whichever handler holds it
            self.terminated = signum
            signal.raise_signal(signal.SIGINT)
            return
        self.received = True
        if not self._holding:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def held(self):
        """Within, an interrupt is noted but not raised; it is raised once the block is done.

        For work that must not be cut in the middle: an interrupt raised while JAX's
        compiled extensions initialize left them half-built, and the process crashed
        (SIGSEGV) a moment later.
        """
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
        if self.received:
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        for number, previous in self._previous.items():  # None: not set from Python
            signal.signal(number, signal.SIG_DFL if previous is None else previous)
        if Interrupts.active is self:
            sys.unraisablehook = self._previous_hook
        Interrupts.active = None

    @classmethod
    def check(cls) -> None:
        """Raise ``KeyboardInterrupt`` for an interrupt noted but swallowed on the way."""
        if cls.active is not None and cls.active.received:
            raise KeyboardInterrupt
