"""ganrun's built-in methods: one subpackage per paper, each a plugin of its own."""
