"""cityops: one import namespace for the whole product.

The product's own folders (workflows/, activities/, rules/, workers/) stay at the top of
the repository and appear here as `cityops.workflows` and so on, so nothing installs under a
generic top-level name beside the user's own packages.
"""
