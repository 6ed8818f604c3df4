"""Counting XLA compilations in a test, by the name of the function compiled."""

import jax


class CompileCounter:
    """Records the name of every XLA compilation while it is entered."""

    def __init__(self):
        self.names = []

    def __call__(self, event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            self.names.append(kwargs.get("fun_name", ""))

    def __enter__(self):
        jax.monitoring.register_event_duration_secs_listener(self)
        return self

    def __exit__(self, *exc):
        jax.monitoring.unregister_event_duration_listener(self)
