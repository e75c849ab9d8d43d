"""Plugins that ship with the core, loaded through the ``ganrun`` entry-point group."""
