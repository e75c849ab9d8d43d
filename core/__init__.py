"""ganrun: a plugin-based GAN experiment framework.

Plugins import ``hookimpl`` from here to mark their hook implementations::

    from ganrun import hookimpl

    @hookimpl
    def ganrun_make_generator(recipe, name): ...
"""
import pluggy

__version__ = "0.1.0"
PROJECT = "ganrun"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = ["__version__", "hookimpl", "hookspec", "PROJECT"]
